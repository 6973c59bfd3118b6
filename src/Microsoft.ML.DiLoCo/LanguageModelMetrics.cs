namespace Microsoft.ML.DiLoCo;

/// <summary>Quality of a language model on scored text (from <see cref="LanguageModelingCatalog.Evaluate"/>).</summary>
/// <param name="Loss">Token-weighted mean negative log-likelihood per predicted token, in nats.</param>
/// <param name="Perplexity">exp(Loss).</param>
/// <param name="BitsPerByte">Total negative log-likelihood in bits over the UTF-8 bytes of the text: comparable across tokenizers.
/// NaN when no row held a predicted token.</param>
/// <param name="TokenCount">Predicted tokens over all rows.</param>
/// <param name="RowCount">Rows that held at least one predicted token.</param>
public sealed record LanguageModelMetrics(double Loss, double Perplexity, double BitsPerByte, long TokenCount, long RowCount);
