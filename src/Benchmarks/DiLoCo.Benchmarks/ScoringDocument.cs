using System.Globalization;
using System.Text;
using Microsoft.ML.DiLoCo.Scoring;

namespace DiLoCo.Benchmarks;

/// <summary>Writes the scoring section of docs/benchmarks.md (docs/benchmarks/scoring.md) from a <see cref="ScoringResults"/>.</summary>
internal static class ScoringDocument
{
    /// <summary>Transform and PredictionEngine must reach this share of the forward pass they are compared with.</summary>
    public const double Target = 0.9;

    /// <summary>The forward pass by windows per pass: the measurement behind the scorer's batch size.</summary>
    private static string WindowBatchTable(IReadOnlyList<WindowBatchTiming>? timings)
    {
        if (timings is null || timings.Count == 0) return "";
        var text = new StringBuilder();
        var sizes = timings.Select(t => t.Windows).Distinct().Order().ToArray();
        text.AppendLine();
        text.AppendLine("**Windows per forward pass** (the scorer's batch size): forward + per-token cross-entropy of full 128-token windows " +
                        "of the same model shape, untrained, the same tokens at every size; median tokens/s. The scorer puts up to " +
                        $"{ScoringWindow.PerForwardPass(128, 256, gpu: false)} byte-level windows and " +
                        $"{ScoringWindow.PerForwardPass(128, 50257, gpu: false)} GPT-2-vocabulary window(s) into one pass on the CPU " +
                        "(`ScoringWindow.PerForwardPass`); — = not run (the GPT-2 rows stop at 16 windows).");
        text.AppendLine();
        text.AppendLine($"| vocabulary | threads | {string.Join(" | ", sizes.Select(s => $"{s} window{(s == 1 ? "" : "s")}"))} |");
        text.AppendLine($"|---|---|{string.Concat(sizes.Select(_ => "---|"))}");
        foreach (var group in timings.GroupBy(t => (t.Vocabulary, t.Threads)))
        {
            var cells = sizes.Select(s => group.FirstOrDefault(t => t.Windows == s) is { } t
                ? (t.TokensPerRepetition / Statistics.Median(t.Seconds)).ToString("N0", CultureInfo.InvariantCulture) : "—");
            text.AppendLine($"| {group.Key.Vocabulary:N0} | {group.Key.Threads} | {string.Join(" | ", cells)} |");
        }
        return text.ToString();
    }

    public static string Write(ScoringResults results, string machine, string commit, string png)
    {
        var text = new StringBuilder();
        var threadCounts = results.Scoring.Select(t => t.Threads).Distinct().ToArray();
        text.AppendLine("## Scoring and generation throughput");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"A model of the quality benchmark's shape (4 layers, width 128, 4 heads, context 128, {results.Parameters:N0} parameters, " +
                        $"byte level) trained for {results.TrainingSteps} steps on State of the Union speeches (1 worker, batch 16; training loss " +
                        $"{results.TrainingLoss:F2} nats/byte at the end), scoring consecutive pieces of the held-out speeches, cut at a space: " +
                        $"{results.Settings.LongRows} rows of about 1 kB and {results.Settings.ShortRows} rows of about 100 B (byte level: a byte is a token). " +
                        $"Every path scores the same rows and gets the same losses (largest difference from the forward pass below: " +
                        $"{results.Scoring.Max(t => t.MaxLossDifference):G2} nats). One warm-up run, then {results.Settings.Repetitions} timed " +
                        $"repetitions interleaved across paths; the median is shown, the spread is the slowest and fastest repetition. " +
                        $"Threads: torch intra-op threads ({string.Join(" and ", threadCounts)}; {threadCounts.Max()} = all cores), " +
                        $"OMP_WAIT_POLICY=PASSIVE. Command: `bash build/bench.sh scoring`."));
        // Older results have only the load average, which counts the benchmark itself.
        string load = results.OtherCpu is { } other ? $" During the timed part {other.Describe()}."
            : results.LoadAverage is [var before, var after]
                ? string.Create(CultureInfo.InvariantCulture, $" Load average (1 min, this benchmark included) {before:0.0} before the timed part, {after:0.0} after.")
                : "";
        text.AppendLine($"Machine: {machine}. Commit: {commit}.{load}");
        text.AppendLine();
        text.AppendLine("The forward pass is the model's own forward and per-token cross-entropy on exactly the windows `TransformerTextScorer` " +
                        $"builds (end-of-text, then windows of 128 tokens, right-padded, up to {ScoringWindow.PerForwardPass(128, 256, gpu: false)} windows a pass: `ScoringWindow`), prepared in advance: no " +
                        "tokenization, no tensor building, no ML.NET. `Transform` reads ahead and scores 32 rows a call, so it is compared with " +
                        "the forward pass grouped 32 texts a call; `PredictionEngine` scores one row a call, so it is compared with the forward " +
                        "pass one text a call. `TransformerTextScorer` (the library's scorer called directly, grouped the same way: tokenization, " +
                        "windows, input tensors, forward) splits each gap into the scorer's own work and ML.NET's.");
        text.AppendLine();
        text.AppendLine("| rows | threads | path | rows/s | tokens/s | spread (tokens/s) | vs forward pass | vs forward pass, CPU time |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var t in results.Scoring)
        {
            double median = Statistics.Median(t.Seconds);
            string ratio = t.Baseline is null ? "—" : string.Create(CultureInfo.InvariantCulture, $"{Ratio(results, t):P1}");
            string cpu = t.Baseline is null ? "—" : string.Create(CultureInfo.InvariantCulture, $"{Ratio(results, t, r => r.CpuSeconds):P1}");
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {t.Case} | {t.Threads} | {t.Path} | {t.Rows / median:N1} | {t.Tokens / median:N0} | " +
                                      $"{t.Tokens / t.Seconds.Max():N0}–{t.Tokens / t.Seconds.Min():N0} | {ratio} | {cpu} |"));
        }
        text.AppendLine();
        text.AppendLine(Verdict(results));
        text.AppendLine();
        text.AppendLine($"![tokens/s of each scoring path](benchmarks/{png})");
        text.Append(WindowBatchTable(results.WindowBatches));
        text.AppendLine();
        int prompt = results.Generation.FirstOrDefault()?.PromptTokens ?? 0;
        text.AppendLine($"**Generation** (greedy, one sequence, prompt of {prompt} tokens; the " +
                        "generation loop of `LanguageModelTransformer.Generate` without its text decoding, called through its internal switch for " +
                        "the key/value cache, which `Generate` always uses; it does not stop at end-of-text, so every run makes all its tokens). " +
                        "Tokens/s = new tokens / seconds, prompt included in the time.");
        text.AppendLine();
        text.AppendLine("| threads | new tokens | with key/value cache | spread | without cache | spread | speed-up |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var group in results.Generation.GroupBy(g => (g.Threads, g.NewTokens)))
        {
            var on = group.Single(g => g.KeyValueCache);
            var off = group.Single(g => !g.KeyValueCache);
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {group.Key.Threads} | {group.Key.NewTokens} | {on.NewTokens / Statistics.Median(on.Seconds):N0} | {Spread(on)} | " +
                                      $"{off.NewTokens / Statistics.Median(off.Seconds):N0} | {Spread(off)} | " +
                                      $"{Statistics.Median(off.Seconds) / Statistics.Median(on.Seconds):0.00}× |"));
        }
        text.AppendLine();
        text.AppendLine($"The cache helps only while prompt and output fit the context (128 tokens here): with a {prompt}-token " +
                        "prompt, the first 64 new tokens are one position each; after that every step re-encodes the last 128 tokens (absolute " +
                        "positions shift by one each step, so cached keys would be stale), exactly as without the cache. So the speed-up is " +
                        "largest for 64 new tokens and shrinks as the output grows past the context.");
        return text.ToString();
    }

    /// <summary>This path's median throughput over its baseline's at the same rows and threads, by wall-clock seconds or by
    /// another measure of the repetitions (CPU time: the work done, undisturbed by other processes on a shared machine).</summary>
    public static double Ratio(ScoringResults results, ScoringTiming t, Func<ScoringTiming, double[]>? seconds = null)
    {
        seconds ??= r => r.Seconds;
        var baseline = results.Scoring.Single(b => b.Case == t.Case && b.Threads == t.Threads && b.Path == t.Baseline);
        return Statistics.Median(seconds(baseline)) / Statistics.Median(seconds(t));
    }

    // The target, met or missed per path, and where the time of the gap goes (scorer versus ML.NET).
    private static string Verdict(ScoringResults results)
    {
        var checkedPaths = results.Scoring.Where(t => t.Baseline is not null && t.Path is not (ScoringBenchmark.Scorer or ScoringBenchmark.ScorerSingle)).ToList();
        var missed = checkedPaths.Where(t => Ratio(results, t) < Target).ToList();
        var text = new StringBuilder();
        text.Append(string.Create(CultureInfo.InvariantCulture, $"**Target** (Transform and PredictionEngine ≥ {Target:P0} of the forward pass): "));
        text.Append(missed.Count == 0
            ? string.Create(CultureInfo.InvariantCulture, $"met on every row (lowest {checkedPaths.Min(t => Ratio(results, t)):P1}).")
            : string.Create(CultureInfo.InvariantCulture, $"missed by {missed.Count} of {checkedPaths.Count}: ") +
              string.Join("; ", missed.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Path}, {t.Case}, {t.Threads} thread(s): {Ratio(results, t):P1}"))) +
              " (by CPU time: " + string.Join(", ", missed.Select(t => Ratio(results, t, r => r.CpuSeconds).ToString("P1", CultureInfo.InvariantCulture))) + ").");
        text.AppendLine();
        text.AppendLine();
        text.AppendLine("Where the time goes: CPU time of one pass over the rows (medians; all threads of the process), the forward pass, what " +
                        "the scorer adds (tokenization, windows, input tensors) and what ML.NET adds (cursors, read-ahead, row objects), as " +
                        "shares of the ML.NET path's total; a negative share is noise:");
        text.AppendLine();
        text.AppendLine("| rows | threads | ML.NET path | forward pass | + scorer | + ML.NET |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (var group in results.Scoring.GroupBy(t => (t.Case, t.Threads)))
            foreach (var (forwardPath, scorerPath, mlnetPath) in new[]
                     {
                         (ScoringBenchmark.ForwardBatched, ScoringBenchmark.Scorer, ScoringBenchmark.Transform),
                         (ScoringBenchmark.ForwardSingle, ScoringBenchmark.ScorerSingle, ScoringBenchmark.Engine),
                     })
            {
                double forward = Statistics.Median(group.Single(t => t.Path == forwardPath).CpuSeconds);
                double scorer = Statistics.Median(group.Single(t => t.Path == scorerPath).CpuSeconds);
                double mlnet = Statistics.Median(group.Single(t => t.Path == mlnetPath).CpuSeconds);
                text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {group.Key.Case} | {group.Key.Threads} | {mlnetPath} | {forward * 1000:N0} ms | {Signed(scorer - forward, mlnet)} | {Signed(mlnet - scorer, mlnet)} |"));
            }
        return text.ToString().TrimEnd();
    }

    private static string Signed(double seconds, double total) => string.Create(CultureInfo.InvariantCulture,
        $"{(seconds < 0 ? "−" : "+")}{Math.Abs(seconds) * 1000:N0} ms ({(seconds < 0 ? "−" : "+")}{Math.Abs(seconds) / total:0.0%})");

    private static string Spread(GenerationTiming g) => string.Create(CultureInfo.InvariantCulture, $"{g.NewTokens / g.Seconds.Max():N0}–{g.NewTokens / g.Seconds.Min():N0}");
}
