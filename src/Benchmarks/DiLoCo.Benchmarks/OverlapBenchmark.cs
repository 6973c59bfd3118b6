using System.Globalization;
using System.Text;
using System.Text.Json;
using DiLoCo.Configuration;
using Microsoft.ML;
using Microsoft.ML.DiLoCo;

namespace DiLoCo.Benchmarks;

/// <summary>
/// A method of the overlap benchmark: its settings, how often it exchanges, how many steps of compute hide an exchange,
/// and where the sweep measures it (steps per run, bandwidths around the method's own drop in utilisation).
/// </summary>
internal sealed record OverlapMethod(string Name, TrainingAlgorithm Algorithm, int InnerSteps, int OverlapSteps, float MixingAlpha,
    WireFormat WireFormat, int Steps, double[] Bandwidths)
{
    public const int Fragments = 4;

    /// <summary>S: steps between two exchanges of one worker (data-parallel every step, DiLoCo every H, Streaming DiLoCo every H/P).</summary>
    public int StepsPerSync => Algorithm switch
    {
        TrainingAlgorithm.DataParallel => 1,
        TrainingAlgorithm.DiLoCo => InnerSteps,
        _ => InnerSteps / Fragments,
    };

    public void Configure(StreamingDiLoCoTrainer.Options o)
    {
        o.Algorithm = Algorithm;
        o.InnerSteps = InnerSteps;
        o.NumberOfFragments = Fragments;
        o.OverlapSteps = OverlapSteps;
        o.MixingAlpha = MixingAlpha;
        o.WireFormat = WireFormat;
    }
}

/// <summary>One training run of the sweep.</summary>
internal sealed record OverlapRun(int Repeat, int Steps, double Utilisation, double ComputeSecondsPerStep, double BytesPerSync,
    double SyncOverhead, double WallSeconds);

/// <summary>One sweep point (bandwidth 0 = no link): its repeated runs and the model's prediction from the link-free runs.</summary>
internal sealed record OverlapPoint(string Method, double BandwidthBitsPerSecond, int Steps, List<OverlapRun> Runs, double ModelledUtilisation)
{
    public double MedianUtilisation => Statistics.Median(Runs.Select(r => r.Utilisation));
    public double MinimumUtilisation => Runs.Min(r => r.Utilisation);
    public double MaximumUtilisation => Runs.Max(r => r.Utilisation);
    public double MedianWallSeconds => Statistics.Median(Runs.Select(r => r.WallSeconds));
}

/// <summary>What one method's link-free runs measured (medians), and the bandwidth the model says it needs per target utilisation.</summary>
internal sealed record OverlapMethodResult(string Method, int StepsPerSync, int OverlapSteps, double ComputeSecondsPerStep,
    double BytesPerSync, double NoLinkUtilisation, double SyncOverhead, double[] TargetUtilisation, double[] RequiredBitsPerSecond);

/// <summary>The whole sweep, with what the document needs to be rendered again without training (the overlap-link mode does).</summary>
internal sealed record OverlapResults(double LatencyMilliseconds, int Repeats, int Workers, int GlobalBatch, string Machine, string Commit,
    List<OverlapMethodResult> Methods, List<OverlapPoint> Sweep);

/// <summary>
/// Compute utilisation under the link model (LinkBandwidthBitsPerSecond, LinkLatencyMilliseconds) for data-parallel,
/// DiLoCo and the final Streaming DiLoCo method, and the paper's Table 4 at our scale: the bandwidth each method needs
/// for 50–99 % utilisation, from per-step compute and bytes per sync measured without a link and the model
/// u = S·c / (S·c + max(0, L + b/W − τ·c)) per sync (S steps per sync, c seconds per step, b bytes sent per sync,
/// W bandwidth, L latency, τ overlapped steps). The sweep checks the model against measured runs, each point
/// <see cref="Repeats"/> times (the repeats interleaved, so a slow spell of the machine spreads over the points).
/// </summary>
internal static class OverlapBenchmark
{
    public const double LatencyMilliseconds = 10;
    public const int Repeats = 3;
    public const int InnerSteps = 100;
    public static readonly double[] Targets = { 0.5, 0.8, 0.9, 0.95, 0.99 };

    /// <summary>Predicted wall time of one data-parallel run on a link (at least <see cref="MinimumLinkSteps"/> steps).</summary>
    private const double DataParallelRunSeconds = 8;
    private const int MinimumLinkSteps = 3;

    /// <summary>
    /// The three methods. Each is measured without a link and at the bandwidths where its modelled utilisation falls
    /// (about 90 % and about 50–75 %), so that 3 repeats of every point fit in about 12 minutes on 2 idle cores:
    /// the DiLoCo variants run H = 100 steps (one DiLoCo sync, one sync of each Streaming fragment), data-parallel
    /// 24 steps without a link and as many as fit in ~8 s on a link.
    /// </summary>
    public static OverlapMethod[] Methods() => new OverlapMethod[]
    {
        new("Data-parallel (FP32 gradients)", TrainingAlgorithm.DataParallel, InnerSteps, 0, 0, WireFormat.Float32, 24, new[] { 1e7, 1e8, 1e9 }),
        new($"DiLoCo (FP32, H = {InnerSteps})", TrainingAlgorithm.DiLoCo, InnerSteps, 0, 0, WireFormat.Float32, InnerSteps, new[] { 3e6, 1e7 }),
        new($"Streaming DiLoCo, final method (FP4, τ = 1, α = 0.5, H = {InnerSteps}, P = 4)", TrainingAlgorithm.StreamingDiLoCo, InnerSteps, 1, 0.5f,
            WireFormat.Float4E3M0, InnerSteps, new[] { 3e5, 1e6 }),
    };

    /// <summary>Runs the sweep, writes overlap.json, overlap.md and overlap.png into <paramref name="output"/>, prints the section.</summary>
    public static void RunAndWrite(int workers, int globalBatch, string output, string machine, string commit)
    {
        var results = Run(workers, globalBatch, machine, commit);
        File.WriteAllText(Path.Combine(output, "overlap.json"), JsonSerializer.Serialize(results, JsonOptions));
        Console.WriteLine(Render(results, output));
    }

    /// <summary>Writes overlap.md and overlap.png from <paramref name="results"/>, with the real-link runs of overlap-link.json when present.</summary>
    public static string Render(OverlapResults results, string output)
    {
        var link = OverlapLinkBenchmark.TryLoad(output);
        OverlapPlot.Save(results, link, Path.Combine(output, "overlap.png"));
        string section = Document(results, link);
        File.WriteAllText(Path.Combine(output, "overlap.md"), section);
        return section;
    }

    /// <summary>The last sweep from overlap.json, or null when there is none.</summary>
    public static OverlapResults? TryLoad(string output)
    {
        string path = Path.Combine(output, "overlap.json");
        if (!File.Exists(path)) return null;
        try
        {
            var results = JsonSerializer.Deserialize<OverlapResults>(File.ReadAllText(path), JsonOptions);
            // A file from before the repeated sweep deserialises with the new fields missing: treat it as absent.
            return results is { Repeats: > 0, Methods: not null, Sweep: not null } && results.Sweep.All(p => p.Runs is { Count: > 0 }) ? results : null;
        }
        catch (JsonException)
        {
            return null; // an older format: the next overlap run rewrites it
        }
    }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static OverlapResults Run(int workers, int globalBatch, string machine, string commit)
    {
        var (trainSpeeches, _) = SotuCorpus.Load();
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(trainSpeeches.Select(s => new TextRow { Text = s.Text }));
        var methods = Methods();
        // runs[method][point]: point 0 is the link-free run; the step counts are fixed by the first repeat.
        var runs = methods.Select(m => m.Bandwidths.Prepend(0).Select(_ => new List<OverlapRun>()).ToArray()).ToArray();
        var steps = methods.Select(m => m.Bandwidths.Prepend(0).Select(_ => m.Steps).ToArray()).ToArray();
        for (int repeat = 0; repeat < Repeats; repeat++)
        {
            for (int i = 0; i < methods.Length; i++)
            {
                var method = methods[i];
                double[] bandwidths = method.Bandwidths.Prepend(0).ToArray();
                for (int j = 0; j < bandwidths.Length; j++)
                {
                    var run = Measure(ml, train, method, steps[i][j], workers, globalBatch, bandwidths[j], repeat);
                    runs[i][j].Add(run);
                    if (repeat == 0 && j == 0 && method.StepsPerSync == 1)
                    {
                        // Data-parallel on a slow link: as many steps as fit the time budget at the modelled pace.
                        for (int k = 1; k < bandwidths.Length; k++)
                        {
                            double perStep = run.ComputeSecondsPerStep / Utilisation(1, 0, run.ComputeSecondsPerStep, run.BytesPerSync, bandwidths[k]);
                            steps[i][k] = Math.Clamp((int)(DataParallelRunSeconds / perStep), MinimumLinkSteps, method.Steps);
                        }
                    }
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"[{repeat + 1}/{Repeats}] {method.Name}, {(bandwidths[j] == 0 ? "no link" : Bandwidth(bandwidths[j]))}, {run.Steps} steps: " +
                        $"utilisation {run.Utilisation:P1}, {run.ComputeSecondsPerStep * 1000:F1} ms/step, {run.BytesPerSync:N0} B per sync, wall {run.WallSeconds:F1} s"));
                }
            }
        }

        var results = new List<OverlapMethodResult>();
        var sweep = new List<OverlapPoint>();
        for (int i = 0; i < methods.Length; i++)
        {
            var method = methods[i];
            var noLink = runs[i][0];
            double c = Statistics.Median(noLink.Select(r => r.ComputeSecondsPerStep));
            double bytes = Statistics.Median(noLink.Select(r => r.BytesPerSync));
            double[] required = Targets.Select(u => RequiredBitsPerSecond(u, method.StepsPerSync, method.OverlapSteps, c, bytes)).ToArray();
            results.Add(new OverlapMethodResult(method.Name, method.StepsPerSync, method.OverlapSteps, c, bytes,
                Statistics.Median(noLink.Select(r => r.Utilisation)), Statistics.Median(noLink.Select(r => r.SyncOverhead)), Targets, required));
            double[] bandwidths = method.Bandwidths.Prepend(0).ToArray();
            for (int j = 0; j < bandwidths.Length; j++)
            {
                double modelled = bandwidths[j] == 0 ? 1 : Utilisation(method.StepsPerSync, method.OverlapSteps, c, bytes, bandwidths[j]);
                sweep.Add(new OverlapPoint(method.Name, bandwidths[j], steps[i][j], runs[i][j], modelled));
            }
        }
        return new OverlapResults(LatencyMilliseconds, Repeats, workers, globalBatch, machine, commit, results, sweep);
    }

    /// <summary>u = S·c / (S·c + max(0, L + b/W − τ·c)).</summary>
    public static double Utilisation(int stepsPerSync, int overlapSteps, double c, double bytes, double bitsPerSecond,
        double latencyMilliseconds = LatencyMilliseconds)
    {
        double exchange = latencyMilliseconds / 1000 + bytes * 8 / bitsPerSecond;
        double compute = stepsPerSync * c;
        return compute / (compute + Math.Max(0, exchange - overlapSteps * c));
    }

    /// <summary>The bandwidth at which the model reaches <paramref name="u"/>; infinity when latency alone exceeds the allowed stall.</summary>
    public static double RequiredBitsPerSecond(double u, int stepsPerSync, int overlapSteps, double c, double bytes)
    {
        double allowedStall = stepsPerSync * c * (1 / u - 1);
        double transferTime = overlapSteps * c + allowedStall - LatencyMilliseconds / 1000;
        return transferTime <= 0 ? double.PositiveInfinity : bytes * 8 / transferTime;
    }

    /// <summary>Bytes one worker sends per exchange: per step for data-parallel, per sync for the DiLoCo variants.</summary>
    public static double BytesPerSync(TrainingReport report, OverlapMethod method)
    {
        int syncs = method.StepsPerSync == 1 ? (int)report.Steps : report.Syncs.Count;
        return (double)report.BytesSentPerWorker / Math.Max(1, syncs);
    }

    private static OverlapRun Measure(MLContext ml, IDataView train, OverlapMethod method, int steps, int workers, int globalBatch, double bandwidth, int repeat)
    {
        var report = Train(ml, train, method, steps, workers, globalBatch, bandwidth, LatencyMilliseconds);
        return new OverlapRun(repeat, steps, report.ComputeUtilisation, report.ComputeSeconds / report.Steps, BytesPerSync(report, method),
            report.SyncOverhead, report.WallSeconds);
    }

    /// <summary>One in-process run of <paramref name="method"/> (bandwidth 0 = no simulated link); also the overlap-link mode's simulated twin.</summary>
    public static TrainingReport Train(MLContext ml, IDataView train, OverlapMethod method, int steps, int workers, int globalBatch,
        double bandwidth, double latencyMilliseconds)
    {
        var options = Options(method, steps, globalBatch / workers);
        options.NumberOfWorkers = workers;
        options.LinkBandwidthBitsPerSecond = bandwidth;
        options.LinkLatencyMilliseconds = bandwidth > 0 ? latencyMilliseconds : 0;
        return ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train).TrainingReport!;
    }

    /// <summary>The options every run of the benchmark shares: the quality benchmark's model and data, <paramref name="method"/>'s settings.</summary>
    public static StreamingDiLoCoTrainer.Options Options(OverlapMethod method, int steps, int batchPerWorker)
    {
        var options = new StreamingDiLoCoTrainer.Options
        {
            TextColumnName = nameof(TextRow.Text),
            Tokenizer = TokenizerKind.Bytes,
            Model = new TransformerOptions { ContextLength = 128, EmbeddingSize = 128, NumberOfLayers = 4, NumberOfHeads = 4 },
            BatchSize = batchPerWorker,
            TrainingSteps = steps,
            InnerLearningRate = 2e-3f,
            WarmupSteps = Math.Min(100, steps / 10),
            EvaluationInterval = steps,
            Seed = 1,
        };
        method.Configure(options);
        return options;
    }

    public static string Document(OverlapResults r, OverlapLinkResults? link)
    {
        bool withLinkPoint = link is not null;
        var inv = CultureInfo.InvariantCulture;
        var methods = Methods();
        var text = new StringBuilder();
        text.AppendLine("## Overlap and compute utilisation");
        text.AppendLine();
        text.AppendLine($"Same model and data as the quality benchmark (4 layers, width 128, 4 heads, context 128, 842,624 parameters, byte level), " +
                        $"{r.Workers} workers, global batch {r.GlobalBatch}, in-process with the simulated link (LinkModelCollective: full duplex, per direction " +
                        $"latency + bytes / bandwidth, latency fixed at {r.LatencyMilliseconds:G} ms). Every point is run {r.Repeats} times (the repeats " +
                        $"interleaved); per-step compute c and bytes per sync b are the medians of the link-free runs ({methods[0].Steps} steps for " +
                        $"data-parallel, {InnerSteps} for the DiLoCo variants: one DiLoCo sync, one sync of each Streaming DiLoCo fragment). " +
                        $"Machine: {r.Machine}. Commit: {r.Commit}.");
        text.AppendLine();
        text.AppendLine("Model, per sync: **u = S·c / (S·c + max(0, L + b/W − τ·c))**, with S steps between syncs (data-parallel 1, DiLoCo H, " +
                        "Streaming DiLoCo H/P), c compute seconds per step, b bytes one worker sends per sync, W the bandwidth, L the latency, " +
                        "τ the steps of compute that hide an exchange (0 for data-parallel and DiLoCo). Solving for W gives the table below; " +
                        "∞ means the latency alone exceeds the allowed stall.");
        text.AppendLine();
        text.Append("| method | S | τ | compute per step | bytes per sync |");
        foreach (double u in Targets) text.Append(string.Create(inv, $" W for {u:P0} |"));
        text.AppendLine();
        text.AppendLine("|---|---|---|---|---|" + string.Concat(Targets.Select(_ => "---|")));
        foreach (var m in r.Methods)
        {
            text.Append(string.Create(inv, $"| {m.Method} | {m.StepsPerSync} | {m.OverlapSteps} | {m.ComputeSecondsPerStep * 1000:F1} ms | {m.BytesPerSync:N0} |"));
            foreach (double w in m.RequiredBitsPerSecond) text.Append($" {Bandwidth(w)} |");
            text.AppendLine();
        }
        var dp = r.Methods[0];
        var final = r.Methods[^1];
        int i95 = Array.IndexOf(Targets, 0.95);
        double ratio = dp.RequiredBitsPerSecond[i95] / final.RequiredBitsPerSecond[i95];
        text.AppendLine();
        text.AppendLine(string.Create(inv, $"At 95 % utilisation the final method needs {ratio:N0}× less bandwidth than data-parallel " +
                        $"(target ≥ 100×: {(ratio >= 100 ? "met" : "missed")}). The paper's Table 4 (1B-100B parameters, much longer steps) reports the same ordering."));
        text.AppendLine();
        text.AppendLine($"![Compute utilisation versus bandwidth: the model's curves and the measured points](overlap.png)");
        text.AppendLine();
        text.AppendLine("*[overlap.png](overlap.png): the model's curve per method (lines) and the measured medians with their min–max " +
                        "(markers, bars) on a log bandwidth axis" +
                        (withLinkPoint ? "; the open markers are the runs over a real shaped link ([overlap-link.md](overlap-link.md))." : ".") + "*");
        text.AppendLine();
        text.AppendLine($"Measured sweep (compute utilisation = compute seconds / training wall seconds, mean over workers; median and min–max of " +
                        $"{r.Repeats} runs) beside the model's prediction. Each method is measured where its modelled utilisation falls: data-parallel " +
                        $"at 10 Mbit/s–1 Gbit/s, DiLoCo at 3–10 Mbit/s, the final method at 0.3–1 Mbit/s (slower links would only add idle seconds); " +
                        $"data-parallel on a link runs as many steps as fit in about {DataParallelRunSeconds:G} s (at least {MinimumLinkSteps}).");
        text.AppendLine();
        text.AppendLine("| method | bandwidth | steps | measured (median) | min–max | modelled | wall (median) |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var p in r.Sweep)
            text.AppendLine(string.Create(inv, $"| {p.Method} | {(p.BandwidthBitsPerSecond == 0 ? "no link" : Bandwidth(p.BandwidthBitsPerSecond))} | {p.Steps} | " +
                                               $"{p.MedianUtilisation:P1} | {p.MinimumUtilisation:P1}–{p.MaximumUtilisation:P1} | " +
                                               $"{(p.BandwidthBitsPerSecond == 0 ? "—" : p.ModelledUtilisation.ToString("P1", inv))} | {p.MedianWallSeconds:F1} s |"));
        text.AppendLine();
        text.AppendLine("The model ignores data loading and the sync's own work, so a measured point sits below the modelled one by " +
                        "about the gap the no-link run shows; it uses the mean bytes per sync (Streaming DiLoCo's fragments differ in size: the " +
                        "non-block fragment with the embeddings is the largest) and counts each exchange as starting on an idle link. In runs of " +
                        "H steps the exchange of the last sync is waited for at the end of training even with τ = 1, which the model counts as hidden.");
        text.AppendLine();
        text.AppendLine(link is not null
            ? "**On a real shaped link** (two network namespaces, a veth pair shaped with `tc tbf`, no added latency, 2 MPI ranks of the " +
              $"`diloco` tool; [overlap-link.md](overlap-link.md), `bash build/bench.sh overlap-link` as root) at {Bandwidth(link.RateBitsPerSecond)}: " +
              string.Join("; ", link.Runs.Select(run => string.Create(inv,
                  $"{run.Method} **{run.MeasuredUtilisation:P1}** (model {run.ModelledUtilisation:P1}, simulated link {run.SimulatedUtilisation:P1})"))) + "."
            : "**On a real shaped link**: `bash build/bench.sh overlap-link` (as root) writes [overlap-link.md](overlap-link.md).");
        text.AppendLine();
        text.AppendLine(string.Create(inv, $"**Outer-sync overhead** (TrainingReport.SyncOverhead: time in launch and apply — difference, encoding, decoding, " +
                        $"averaging, outer Nesterov step, merge — excluding the wait for the exchange, over compute time, mean over workers; median of the " +
                        $"link-free runs) for the final method at H = {InnerSteps} without a link: **{final.SyncOverhead:P2}** (target ≤ 2 %: " +
                        $"{(final.SyncOverhead <= 0.02 ? "met" : "missed")}); DiLoCo FP32 H = {InnerSteps}: {r.Methods[1].SyncOverhead:P2}."));
        return text.ToString();
    }

    public static string Bandwidth(double bitsPerSecond) => double.IsPositiveInfinity(bitsPerSecond) ? "∞" : bitsPerSecond switch
    {
        >= 1e9 => string.Create(CultureInfo.InvariantCulture, $"{bitsPerSecond / 1e9:0.##} Gbit/s"),
        >= 1e6 => string.Create(CultureInfo.InvariantCulture, $"{bitsPerSecond / 1e6:0.##} Mbit/s"),
        >= 1e3 => string.Create(CultureInfo.InvariantCulture, $"{bitsPerSecond / 1e3:0.##} kbit/s"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bitsPerSecond:0.#} bit/s"),
    };

    internal sealed class TextRow
    {
        public string Text { get; set; } = "";
    }
}
