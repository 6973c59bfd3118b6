using Microsoft.ML.DiLoCo.Data;
using Microsoft.ML.DiLoCo.Model;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>Mean next-token loss of a model over a fixed, evenly spaced subset of validation windows.</summary>
internal sealed class ValidationEvaluator
{
    private readonly PackedWindows _windows;
    private readonly int[] _chosen;
    private readonly int _batchSize;

    public ValidationEvaluator(PackedWindows windows, long maximumTokens, int batchSize)
    {
        _windows = windows;
        _batchSize = batchSize;
        int wanted = (int)Math.Clamp(maximumTokens / windows.ContextLength, 1, windows.Count);
        // Evenly spaced, so a capped evaluation still sees the whole validation text.
        _chosen = Enumerable.Range(0, wanted).Select(i => (int)((long)i * windows.Count / wanted)).ToArray();
    }

    public long TokenCount => (long)_chosen.Length * _windows.ContextLength;

    /// <summary>Mean loss in nats per predicted token.</summary>
    public double Evaluate(TransformerLanguageModel model, Device device)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            int length = _windows.WindowLength;
            double total = 0;
            long tokens = 0;
            var buffer = new long[_batchSize * length];
            for (int start = 0; start < _chosen.Length; start += _batchSize)
            {
                using var scope = NewDisposeScope();
                int n = Math.Min(_batchSize, _chosen.Length - start);
                for (int i = 0; i < n; i++) _windows.CopyWindow(_chosen[start + i], buffer.AsSpan(i * length, length));
                var batch = tensor(buffer.AsSpan(0, n * length).ToArray(), new long[] { n, length }).to(device);
                var loss = model.Loss(batch.narrow(1, 0, length - 1), batch.narrow(1, 1, length - 1));
                long count = (long)n * (length - 1);
                total += loss.item<float>() * count;
                tokens += count;
            }
            return total / tokens;
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
