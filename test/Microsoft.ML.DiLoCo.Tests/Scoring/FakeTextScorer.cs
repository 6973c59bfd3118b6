using Microsoft.ML.DiLoCo.Scoring;

namespace Microsoft.ML.DiLoCo.Tests.Scoring;

/// <summary>
/// A stand-in for a language model: TokenCount = text length, Loss = length / 10, Perplexity = exp(Loss);
/// empty text gives <see cref="TextScore.Empty"/>. Counts its calls and its disposal.
/// </summary>
internal class FakeTextScorer : ITextScorer, IDisposable
{
    public static TextScore Expected(string text) =>
        text.Length == 0 ? TextScore.Empty : new(text.Length / 10f, MathF.Exp(text.Length / 10f), text.Length);

    public int SingleCalls { get; private set; }
    public bool Disposed { get; private set; }

    public TextScore Score(ReadOnlyMemory<char> text)
    {
        SingleCalls++;
        return Expected(text.ToString());
    }

    public void Dispose() => Disposed = true;
}

/// <summary>The fake scorer with a batch entry point; records each batch's size.</summary>
internal sealed class FakeBatchScorer : FakeTextScorer, ITextBatchScorer
{
    public List<int> BatchSizes { get; } = [];

    public void Score(ReadOnlySpan<ReadOnlyMemory<char>> texts, Span<TextScore> results)
    {
        Assert.AreEqual(texts.Length, results.Length);
        BatchSizes.Add(texts.Length);
        for (int i = 0; i < texts.Length; i++)
            results[i] = Expected(texts[i].ToString());
    }
}

/// <summary>A factory that remembers every scorer it made.</summary>
internal sealed class ScorerFactory<T> where T : ITextScorer, new()
{
    public List<T> Made { get; } = [];

    public ITextScorer Create()
    {
        var scorer = new T();
        Made.Add(scorer);
        return scorer;
    }
}
