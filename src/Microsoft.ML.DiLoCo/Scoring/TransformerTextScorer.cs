using Microsoft.ML.DiLoCo.Model;
using Microsoft.ML.DiLoCo.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Scoring;

/// <summary>
/// Scores texts with a transformer: each text is read as a document (preceded by end-of-text, as in training),
/// empty and whitespace-only texts score TokenCount 0 and NaN loss,
/// and every one of its tokens is predicted exactly once. Texts longer than the context are covered by a
/// sliding window (<see cref="ScoringWindow.Cover"/>). Windows of several texts share one forward pass
/// (right-padded: causal attention keeps padding from affecting earlier positions).
/// The model is shared read-only; each scorer instance owns only its buffers.
/// </summary>
internal sealed class TransformerTextScorer : ITextBatchScorer
{
    private readonly TransformerLanguageModel _model;
    private readonly LanguageModelTokenizer _tokenizer;
    private readonly int _stride;
    private readonly int _windowsPerForward;
    private readonly Device _device;

    public TransformerTextScorer(TransformerLanguageModel model, LanguageModelTokenizer tokenizer, int stride)
    {
        int context = model.Options.ContextLength;
        if (stride < 1 || stride > context)
            throw new ArgumentOutOfRangeException(nameof(stride), stride, $"The scoring stride must be in 1..{context} (the context length).");
        _model = model;
        _tokenizer = tokenizer;
        _stride = stride;
        _device = model.parameters().First().device;
        _windowsPerForward = ScoringWindow.PerForwardPass(context, model.VocabularySize, _device.type == DeviceType.CUDA);
    }

    public TextScore Score(ReadOnlyMemory<char> text)
    {
        Span<TextScore> one = stackalloc TextScore[1];
        Score(new[] { text }, one);
        return one[0];
    }

    public void Score(ReadOnlySpan<ReadOnlyMemory<char>> texts, Span<TextScore> results)
    {
        var sums = new double[texts.Length];
        var ids = new int[texts.Length][];
        int context = _model.Options.ContextLength;
        // Windows are cut as they are scored, _windowsPerForward at a time: memory is the texts' ids plus one forward pass.
        var batch = new List<ScoringWindow>(_windowsPerForward);
        for (int i = 0; i < texts.Length; i++)
        {
            // Whitespace-only text counts as empty (TokenCount 0, NaN loss), like empty text: it holds no words to score.
            ReadOnlySpan<char> text = texts[i].Span;
            ids[i] = text.IsWhiteSpace() ? [] : _tokenizer.Encode(text);
            foreach (var window in ScoringWindow.Cover(i, ids[i].Length, context, _stride))
            {
                batch.Add(window);
                if (batch.Count == _windowsPerForward)
                {
                    ScoreWindows(batch, ids, sums);
                    batch.Clear();
                }
            }
        }

        if (batch.Count > 0)
            ScoreWindows(batch, ids, sums);

        for (int i = 0; i < texts.Length; i++)
        {
            int count = ids[i].Length;
            if (count == 0) { results[i] = TextScore.Empty; continue; }
            double loss = sums[i] / count;
            results[i] = new TextScore((float)loss, (float)Math.Exp(loss), count);
        }
    }

    // Position k of a text's sequence is end-of-text for k = 0, else token k − 1 of the text.
    private int TokenAt(int[] ids, int k) => k == 0 ? _tokenizer.EndOfTextId : ids[k - 1];

    private void ScoreWindows(List<ScoringWindow> windows, int[][] ids, double[] sums)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        int width = windows.Max(w => w.Length);
        var inputs = new long[windows.Count * width];
        var targets = new long[windows.Count * width];
        for (int w = 0; w < windows.Count; w++)
        {
            var window = windows[w];
            var text = ids[window.Text];
            for (int j = 0; j < window.Length; j++)
            {
                inputs[w * width + j] = TokenAt(text, window.Begin + j);
                targets[w * width + j] = text[window.Begin + j];
            }
        }
        var logits = _model.forward(tensor(inputs, new long[] { windows.Count, width }).to(_device));
        var nll = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[2]), tensor(targets).to(_device), reduction: nn.Reduction.None)
            .to(ScalarType.Float32).cpu().data<float>().ToArray();
        for (int w = 0; w < windows.Count; w++)
        {
            var window = windows[w];
            double sum = 0;
            for (int j = Math.Max(0, window.FirstCounted); j < window.Length; j++) sum += nll[w * width + j];
            sums[window.Text] += sum;
        }
    }
}
