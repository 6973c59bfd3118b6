namespace Microsoft.ML.DiLoCo.Scoring;

/// <summary>
/// How well a language model predicts one text.
/// </summary>
/// <param name="Loss">Mean negative log-likelihood per predicted token, in nats; NaN when no token was predicted.</param>
/// <param name="Perplexity"><c>exp(Loss)</c>; NaN when no token was predicted.</param>
/// <param name="TokenCount">How many tokens were predicted (and averaged into <paramref name="Loss"/>); 0 for empty text.</param>
internal readonly record struct TextScore(float Loss, float Perplexity, int TokenCount)
{
    /// <summary>The score of a text with no predicted token: NaN loss and perplexity, 0 tokens.</summary>
    public static TextScore Empty => new(float.NaN, float.NaN, 0);
}
