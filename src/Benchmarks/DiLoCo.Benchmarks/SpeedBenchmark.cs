using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.DiLoCo;
using Microsoft.ML.DiLoCo.Configuration;

namespace DiLoCo.Benchmarks;

/// <summary>A model shape to time on both peers.</summary>
internal sealed record SpeedCase(string Name, TokenizerKind Tokenizer, int Vocabulary, int Width, int Layers, int Heads, int Batch);

internal sealed record SpeedResult(string Case, long Parameters, double DotNetTokensPerSecond, double PyTorchTokensPerSecond, string PyTorchVersion);

/// <summary>
/// Inner-step throughput (forward, backward, AdamW, clipping) of our trainer beside the PyTorch reference script on
/// the same machine, the same shape, batch, context, thread count and allocator settings. Our side is measured through
/// the public API: one worker, H = T (no sync until the end), the report's tokens/s (evaluation excluded).
/// </summary>
internal static class SpeedBenchmark
{
    public static readonly SpeedCase[] Cases =
    {
        new("small, bytes (d 128, 2 layers, batch 8)", TokenizerKind.Bytes, 257, 128, 2, 4, 8),
        new("medium, bytes (d 256, 4 layers, batch 8)", TokenizerKind.Bytes, 257, 256, 4, 4, 8),
        new("small, GPT-2 vocabulary (d 128, 2 layers, batch 8)", TokenizerKind.Gpt2, 50257, 128, 2, 4, 8),
    };

    public static List<SpeedResult> Run(int steps, string pythonScript)
    {
        var (trainSpeeches, _) = SotuCorpus.Load();
        var ml = new MLContext(seed: 1);
        var text = ml.Data.LoadFromEnumerable(trainSpeeches.Take(60).Select(s => new TextRow { Text = s.Text }));
        var results = new List<SpeedResult>();
        foreach (var c in Cases)
        {
            var options = new StreamingDiLoCoTrainer.Options
            {
                Tokenizer = c.Tokenizer,
                Model = new TransformerOptions { ContextLength = 128, EmbeddingSize = c.Width, NumberOfLayers = c.Layers, NumberOfHeads = c.Heads },
                NumberOfWorkers = 1,
                Algorithm = TrainingAlgorithm.DiLoCo,
                InnerSteps = steps,
                TrainingSteps = steps,
                BatchSize = c.Batch,
                WarmupSteps = 0,
                Seed = 1,
            };
            var report = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(text).TrainingReport!;
            var (pyTokens, pyVersion) = PyTorch(pythonScript, c, steps);
            results.Add(new SpeedResult(c.Name, report.ParameterCount, report.TokensPerSecond, pyTokens, pyVersion));
            Console.WriteLine($"{c.Name}: .NET {report.TokensPerSecond:N0} tokens/s, PyTorch {pyTokens:N0} tokens/s");
        }
        return results;
    }

    private static (double TokensPerSecond, string Version) PyTorch(string script, SpeedCase c, int steps)
    {
        var start = new ProcessStartInfo("/usr/bin/python3", string.Create(CultureInfo.InvariantCulture,
            $"{script} --vocab {c.Vocabulary} --width {c.Width} --layers {c.Layers} --heads {c.Heads} --batch {c.Batch} --steps {steps} --threads 1"))
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var python = Process.Start(start) ?? throw new InvalidOperationException("Could not start /usr/bin/python3.");
        string output = python.StandardOutput.ReadToEnd();
        string errors = python.StandardError.ReadToEnd();
        python.WaitForExit();
        if (python.ExitCode != 0)
            throw new InvalidOperationException($"The PyTorch peer failed (install: apt-get install --no-install-recommends python3-torch): {errors}");
        using var json = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        return (json.RootElement.GetProperty("tokens_per_second").GetDouble(), json.RootElement.GetProperty("torch").GetString() ?? "?");
    }

    public static string Document(IReadOnlyList<SpeedResult> results, int steps, string machine, string commit)
    {
        var text = new StringBuilder();
        text.AppendLine("## Speed beside PyTorch");
        text.AppendLine();
        text.AppendLine($"Inner-step tokens/s (forward, backward, AdamW, clipping), context 128, one thread each, {steps} steps, " +
                        $"OMP_WAIT_POLICY=PASSIVE, OPENBLAS_NUM_THREADS=1, jemalloc preloaded for both peers (build/bench.sh). " +
                        $"PyTorch {results.FirstOrDefault()?.PyTorchVersion} from Debian (no fused attention). Machine: {machine}. Commit: {commit}.");
        text.AppendLine();
        text.AppendLine("| case | parameters | ours (TorchSharp) | PyTorch | ratio |");
        text.AppendLine("|---|---|---|---|---|");
        foreach (var r in results)
            text.AppendLine($"| {r.Case} | {r.Parameters:N0} | {r.DotNetTokensPerSecond:N0} | {r.PyTorchTokensPerSecond:N0} | {r.DotNetTokensPerSecond / r.PyTorchTokensPerSecond:F2}× |");
        return text.ToString();
    }

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }
}
