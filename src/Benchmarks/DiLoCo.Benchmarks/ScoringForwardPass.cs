using Microsoft.ML.DiLoCo.Model;
using Microsoft.ML.DiLoCo.Scoring;
using Microsoft.ML.DiLoCo.Tokenization;
using static TorchSharp.torch;

namespace DiLoCo.Benchmarks;

/// <summary>
/// The scoring benchmark's reference: the model's own forward pass and per-token loss on exactly the windows that
/// TransformerTextScorer builds (<see cref="ScoringWindow"/>: end-of-text + tokens, each target counted once, as many
/// windows right-padded into one forward pass as the scorer puts there), with the texts grouped as the caller groups
/// them (32 a call for Transform's read-ahead, 1 for PredictionEngine). Tokenization and the input tensors are
/// prepared once, outside the timed part, so what is timed is only forward + cross-entropy + copying the losses out.
/// </summary>
internal sealed class ScoringForwardPass : IDisposable
{
    private readonly TransformerLanguageModel _model;
    private readonly List<Pass> _passes = new();
    private readonly int _texts;

    /// <param name="textsPerCall">Texts the scorer receives per call (TransformerTextScorer never mixes calls in one forward pass).</param>
    public ScoringForwardPass(TransformerLanguageModel model, LanguageModelTokenizer tokenizer, IReadOnlyList<string> texts, int textsPerCall, int stride)
    {
        _model = model;
        _texts = texts.Count;
        int context = model.Options.ContextLength;
        // The scorer's own window plan and batch size, so that only what the scorer adds around them is compared.
        int windowsPerForward = ScoringWindow.PerForwardPass(context, model.VocabularySize, gpu: false);
        for (int first = 0; first < texts.Count; first += textsPerCall)
        {
            var sequences = new Dictionary<int, int[]>();
            var windows = new List<ScoringWindow>();
            for (int i = first; i < Math.Min(first + textsPerCall, texts.Count); i++)
            {
                var ids = string.IsNullOrWhiteSpace(texts[i]) ? [] : tokenizer.Encode(texts[i]);
                sequences[i] = new[] { tokenizer.EndOfTextId }.Concat(ids).ToArray();
                TokenCount += ids.Length;
                windows.AddRange(ScoringWindow.Cover(i, ids.Length, context, stride));
            }
            for (int start = 0; start < windows.Count; start += windowsPerForward)
            {
                var group = windows.GetRange(start, Math.Min(windowsPerForward, windows.Count - start));
                int width = group.Max(w => w.Length);
                var inputs = new long[group.Count * width];
                var targets = new long[group.Count * width];
                for (int w = 0; w < group.Count; w++)
                    for (int j = 0; j < group[w].Length; j++)
                    {
                        inputs[w * width + j] = sequences[group[w].Text][group[w].Begin + j];
                        targets[w * width + j] = sequences[group[w].Text][group[w].Begin + j + 1];
                    }
                _passes.Add(new Pass(
                    tensor(inputs, new long[] { group.Count, width }).DetachFromDisposeScope(),
                    tensor(targets).DetachFromDisposeScope(),
                    width,
                    group.Select(w => (w.Text, Math.Max(0, w.FirstCounted), w.Length)).ToArray()));
            }
        }
    }

    /// <summary>Tokens scored (targets), over all texts.</summary>
    public long TokenCount { get; }

    /// <summary>Forward passes per run.</summary>
    public int ForwardPasses => _passes.Count;

    /// <summary>Runs every forward pass and returns the mean loss of each text (NaN for texts without tokens).</summary>
    public double[] Run()
    {
        var sums = new double[_texts];
        var counts = new int[_texts];
        using var noGrad = no_grad();
        foreach (var pass in _passes)
        {
            using var scope = NewDisposeScope();
            var logits = _model.forward(pass.Inputs);
            var nll = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[2]), pass.Targets, reduction: nn.Reduction.None)
                .to(ScalarType.Float32).cpu().data<float>().ToArray();
            for (int w = 0; w < pass.Windows.Length; w++)
            {
                var (text, firstCounted, length) = pass.Windows[w];
                for (int j = firstCounted; j < length; j++) sums[text] += nll[w * pass.Width + j];
                counts[text] += length - firstCounted;
            }
        }
        return sums.Zip(counts, (s, c) => c == 0 ? double.NaN : s / c).ToArray();
    }

    public void Dispose()
    {
        foreach (var pass in _passes)
        {
            pass.Inputs.Dispose();
            pass.Targets.Dispose();
        }
    }

    private sealed record Pass(Tensor Inputs, Tensor Targets, int Width, (int Text, int FirstCounted, int Length)[] Windows);
}
