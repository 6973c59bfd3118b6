using System.Diagnostics;
using Microsoft.ML.DiLoCo;
using Microsoft.ML.DiLoCo.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace DiLoCo.Benchmarks;

/// <summary>Forward-pass tokens/s of full windows at one batch size (windows per forward pass).</summary>
internal sealed record WindowBatchTiming(int Vocabulary, int Threads, int Windows, double[] Seconds, long TokensPerRepetition);

/// <summary>
/// How many context windows one scoring forward pass should hold on this machine: the model's forward and per-token
/// cross-entropy on full windows (the quality benchmark's shape), the same number of tokens at every batch size, for a
/// byte vocabulary and the GPT-2 one. The scorer's cap (TransformerTextScorer) follows from this table.
/// </summary>
internal static class ScoringBatchSweep
{
    public static readonly int[] BatchSizes = { 1, 2, 4, 8, 16, 32, 64 };

    public static List<WindowBatchTiming> Run(int repetitions, IEnumerable<int> threadCounts)
    {
        var timings = new List<WindowBatchTiming>();
        var options = new TransformerOptions { ContextLength = 128, EmbeddingSize = 128, NumberOfLayers = 4, NumberOfHeads = 4 };
        foreach (int vocabulary in new[] { 256, 50257 })
        {
            torch.manual_seed(1);
            using var model = new TransformerLanguageModel(options, vocabulary);
            model.eval();
            // The same tokens at every size: 64 windows' worth for bytes; a GPT-2 pass is ~200× costlier per token, so fewer.
            int windowsPerRepetition = vocabulary <= 256 ? 64 : 16;
            foreach (int threads in threadCounts)
            {
                torch.set_num_threads(threads);
                var sizes = BatchSizes.Where(b => b <= windowsPerRepetition).ToArray();
                var seconds = sizes.Select(_ => new double[repetitions]).ToArray();
                for (int r = -1; r < repetitions; r++)  // r = −1: warm-up
                    for (int s = 0; s < sizes.Length; s++)
                    {
                        double t = Pass(model, vocabulary, sizes[s], windowsPerRepetition / sizes[s], options.ContextLength);
                        if (r >= 0) seconds[s][r] = t;
                    }
                for (int s = 0; s < sizes.Length; s++)
                    timings.Add(new WindowBatchTiming(vocabulary, threads, sizes[s], seconds[s], (long)windowsPerRepetition * options.ContextLength));
            }
        }
        return timings;
    }

    private static double Pass(TransformerLanguageModel model, int vocabulary, int windows, int passes, int context)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        var inputs = randint(vocabulary, new long[] { windows, context }, dtype: ScalarType.Int64, generator: generator);
        var targets = randint(vocabulary, new long[] { windows * context }, dtype: ScalarType.Int64, generator: generator);
        var clock = Stopwatch.StartNew();
        for (int p = 0; p < passes; p++)
        {
            using var inner = NewDisposeScope();
            var logits = model.forward(inputs);
            var nll = nn.functional.cross_entropy(logits.reshape(-1, vocabulary), targets, reduction: nn.Reduction.None);
            _ = nll.data<float>()[0];
        }
        return clock.Elapsed.TotalSeconds;
    }
}
