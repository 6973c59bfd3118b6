using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DiLoCo.Configuration;
using Microsoft.ML;
using Microsoft.ML.DiLoCo;

namespace DiLoCo.Benchmarks;

/// <summary>One method trained by 2 MPI ranks over the real shaped link, beside the link model and the simulated link.</summary>
/// <param name="MeasuredUtilisation">Rank 0's TrainingReport.ComputeUtilisation (the mean over both ranks' workers).</param>
/// <param name="WorkerUtilisation">Each worker's own compute utilisation (worker k = rank k).</param>
/// <param name="ComputeSecondsPerStep">c of this run (mean over the workers), what the model's prediction uses.</param>
/// <param name="ModelledUtilisation">The model at the nominal rate, no latency (the link adds none), with this run's c and b.</param>
/// <param name="ModelledAtMeasuredRate">The same at the rate a 4 MB all-gather reached over the link.</param>
/// <param name="SimulatedUtilisation">An in-process run of the same steps with the simulated link (LinkModelCollective) at the nominal rate, no latency.</param>
internal sealed record OverlapLinkRun(string Method, int Steps, int StepsPerSync, int OverlapSteps, double MeasuredUtilisation,
    double[] WorkerUtilisation, double ComputeSecondsPerStep, double BytesPerSync, int Syncs, double WallSeconds,
    double ModelledUtilisation, double ModelledAtMeasuredRate, double SimulatedUtilisation, double SimulatedWallSeconds)
{
    /// <summary>Exchanges per worker: every step for data-parallel, the syncs for the DiLoCo variants.</summary>
    public int Exchanges => StepsPerSync == 1 ? Steps : Syncs;

    /// <summary>Training wall time not spent computing, per exchange: what the link (and the slower rank) cost each time.</summary>
    public double StallSecondsPerExchange => (WallSeconds - ComputeSecondsPerStep * Steps) / Math.Max(1, Exchanges);
}

internal sealed record OverlapLinkResults(string Rate, double RateBitsPerSecond, double MeasuredAllGatherBitsPerSecond,
    int GlobalBatch, string Machine, string Commit, List<OverlapLinkRun> Runs);

/// <summary>
/// The overlap benchmark's check on a real link: data-parallel and the final method trained by 2 MPI ranks (the
/// <c>diloco</c> tool, one worker each) in two network namespaces joined by a veth pair shaped with <c>tc tbf</c>
/// (build/netns-overlap.sh), their compute utilisation from rank 0's TrainingReport beside the link model's prediction
/// and an in-process run with the simulated link at the same bandwidth. Needs root (namespaces, tc) and Open MPI.
/// </summary>
internal static class OverlapLinkBenchmark
{
    /// <summary>tc's rate: 20 Mbit/s puts data-parallel near 15 % and the final method near its link-free utilisation.</summary>
    public const string DefaultRate = "20mbit";

    /// <summary>Steps per method: data-parallel ~2 s per step on the link; the final method one sync of each fragment.</summary>
    private static readonly (OverlapMethod Method, string Name, int Steps)[] Runs =
    {
        (OverlapBenchmark.Methods()[0], "data-parallel", 20),
        (OverlapBenchmark.Methods()[^1], "final-method", OverlapBenchmark.InnerSteps),
    };

    private const int Ranks = 2;

    public static int RunAndWrite(int globalBatch, string output, string machine, string commit, string? rate)
    {
        rate ??= DefaultRate;
        double bits = ParseRate(rate);
        string script = Path.Combine(RepositoryRoot(), "build", "netns-overlap.sh");
        if (!IsRoot())
        {
            Console.Error.WriteLine("overlap-link needs root (network namespaces, tc): run it as root, e.g. sudo bash build/bench.sh overlap-link.");
            return 1;
        }

        string work = Directory.CreateTempSubdirectory("diloco-overlap-link-").FullName;
        try
        {
            var scriptArguments = new List<string> { script, rate, work };
            foreach (var (method, name, steps) in Runs)
            {
                string config = Path.Combine(work, name + ".json");
                File.WriteAllText(config, Config(method, steps, globalBatch / Ranks));
                scriptArguments.Add($"{name}={config}");
            }
            int exit = RunScript(scriptArguments);
            if (exit != 0)
            {
                Console.Error.WriteLine($"build/netns-overlap.sh failed (exit {exit}).");
                return exit;
            }

            double measuredRate = MeasuredRate(Path.Combine(work, "exchange.json"));
            var (trainSpeeches, _) = SotuCorpus.Load();
            var ml = new MLContext(seed: 1);
            var train = ml.Data.LoadFromEnumerable(trainSpeeches.Select(s => new OverlapBenchmark.TextRow { Text = s.Text }));
            var runs = new List<OverlapLinkRun>();
            foreach (var (method, name, steps) in Runs)
            {
                var report = JsonNode.Parse(File.ReadAllText(Path.Combine(work, name, "report.json")))!;
                var run = FromReport(method, report, bits, measuredRate);
                // The simulated twin: in-process, 2 workers, the link model at the same rate and no latency.
                var simulated = OverlapBenchmark.Train(ml, train, method, steps, Ranks, globalBatch, bits, latencyMilliseconds: 0);
                run = run with { SimulatedUtilisation = simulated.ComputeUtilisation, SimulatedWallSeconds = simulated.WallSeconds };
                runs.Add(run);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{method.Name}: real link {run.MeasuredUtilisation:P1}, model {run.ModelledUtilisation:P1} (at the measured rate {run.ModelledAtMeasuredRate:P1}), simulated {run.SimulatedUtilisation:P1}"));
            }

            var results = new OverlapLinkResults(rate, bits, measuredRate, globalBatch, machine, commit, runs);
            File.WriteAllText(Path.Combine(output, "overlap-link.json"), JsonSerializer.Serialize(results, OverlapBenchmark.JsonOptions));
            string section = Document(results);
            File.WriteAllText(Path.Combine(output, "overlap-link.md"), section);
            Console.WriteLine(section);
            // The sweep's plot and section show the real-link points too: render them again from overlap.json (no training).
            if (OverlapBenchmark.TryLoad(output) is { } sweep) OverlapBenchmark.Render(sweep, output);
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>The last real-link results from overlap-link.json, or null when there are none.</summary>
    public static OverlapLinkResults? TryLoad(string output)
    {
        string path = Path.Combine(output, "overlap-link.json");
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<OverlapLinkResults>(File.ReadAllText(path), OverlapBenchmark.JsonOptions);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>tc's rate syntax (bit, kbit, mbit, gbit; decimal prefixes) in bits per second.</summary>
    public static double ParseRate(string rate)
    {
        string r = rate.Trim().ToLowerInvariant();
        (string suffix, double scale)[] units = { ("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1) };
        foreach (var (suffix, scale) in units)
            if (r.EndsWith(suffix, StringComparison.Ordinal)
                && double.TryParse(r[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value > 0)
                return value * scale;
        throw new ArgumentException($"--rate must be a positive tc rate such as 20mbit, 500kbit or 1gbit; got '{rate}'.", nameof(rate));
    }

    /// <summary>A <c>diloco train</c> config of <paramref name="method"/>: the benchmark's model, one worker per MPI rank, the report only.</summary>
    private static string Config(OverlapMethod method, int steps, int batchPerWorker)
    {
        var o = OverlapBenchmark.Options(method, steps, batchPerWorker);
        var config = new JsonObject
        {
            ["version"] = 1,
            ["scenario"] = "LanguageModeling",
            // Without a validation set: rank 0 would evaluate θ̂ at step 0 while rank 1 waits at its first exchange.
            ["data"] = new JsonObject { ["source"] = "sotu", ["cacheDirectory"] = SotuCorpus.DefaultCacheDirectory() },
            ["textColumn"] = "Text",
            ["tokenizer"] = "bytes",
            ["model"] = new JsonObject
            {
                ["contextLength"] = o.Model.ContextLength, ["embeddingSize"] = o.Model.EmbeddingSize,
                ["numberOfLayers"] = o.Model.NumberOfLayers, ["numberOfHeads"] = o.Model.NumberOfHeads,
            },
            ["trainer"] = new JsonObject
            {
                ["algorithm"] = o.Algorithm.ToString(),
                ["numberOfWorkers"] = 1,
                ["innerSteps"] = o.InnerSteps,
                ["numberOfFragments"] = o.NumberOfFragments,
                ["overlapSteps"] = o.OverlapSteps,
                ["mixingAlpha"] = o.MixingAlpha,
                ["wireFormat"] = o.WireFormat.ToString(),
                ["innerLearningRate"] = o.InnerLearningRate,
                ["warmupSteps"] = o.WarmupSteps,
                ["batchSize"] = o.BatchSize,
                ["trainingSteps"] = o.TrainingSteps,
                ["evaluationInterval"] = o.EvaluationInterval,
                ["seed"] = o.Seed,
                ["transport"] = "mpi",
                ["exchangeTimeoutSeconds"] = 300,
            },
            ["output"] = new JsonObject { ["directory"] = ".", ["model"] = null, ["report"] = "report.json", ["lossCurve"] = null },
        };
        return config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static OverlapLinkRun FromReport(OverlapMethod method, JsonNode report, double bits, double measuredRate)
    {
        long steps = report["Steps"]!.GetValue<long>();
        int syncs = report["Syncs"]!.AsArray().Count;
        long bytesSent = report["BytesSentPerWorker"]!.GetValue<long>();
        double bytes = (double)bytesSent / Math.Max(1, method.StepsPerSync == 1 ? steps : syncs);
        double c = report["ComputeSeconds"]!.GetValue<double>() / steps;
        var workers = report["Workers"]!.AsArray().Select(w => w!["ComputeSeconds"]!.GetValue<double>() / w["WallSeconds"]!.GetValue<double>()).ToArray();
        return new OverlapLinkRun(method.Name, (int)steps, method.StepsPerSync, method.OverlapSteps, report["ComputeUtilisation"]!.GetValue<double>(),
            workers, c, bytes, syncs, report["WallSeconds"]!.GetValue<double>(),
            OverlapBenchmark.Utilisation(method.StepsPerSync, method.OverlapSteps, c, bytes, bits, latencyMilliseconds: 0),
            OverlapBenchmark.Utilisation(method.StepsPerSync, method.OverlapSteps, c, bytes, measuredRate, latencyMilliseconds: 0),
            double.NaN, double.NaN);
    }

    /// <summary>Rank 0's rate over the link for 4 MB all-gathers (median of 3), in bits per second.</summary>
    private static double MeasuredRate(string exchangeJson)
    {
        foreach (string line in File.ReadLines(exchangeJson))
        {
            var node = JsonNode.Parse(line)!;
            if (node["rank"]!.GetValue<int>() == 0) return node["measuredMegabitsPerSecond"]!.GetValue<double>() * 1e6;
        }
        throw new InvalidOperationException($"{exchangeJson} has no line of rank 0.");
    }

    private static int RunScript(List<string> arguments)
    {
        var start = new ProcessStartInfo("bash") { UseShellExecute = false };
        foreach (string a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!; // output goes straight to this console
        process.WaitForExit();
        return process.ExitCode;
    }

    private static bool IsRoot()
    {
        try
        {
            return File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal))?.Split('\t', StringSplitOptions.RemoveEmptyEntries) is [_, "0", ..];
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "build", "netns-overlap.sh"))) return dir.FullName;
        throw new InvalidOperationException("build/netns-overlap.sh not found above the current folder: run from the repository (bash build/bench.sh overlap-link).");
    }

    public static string Document(OverlapLinkResults r)
    {
        var inv = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine("## Overlap on a real shaped link");
        text.AppendLine();
        text.AppendLine(string.Create(inv,
            $"`bash build/bench.sh overlap-link` (as root): 2 MPI ranks of the `diloco` tool (one worker each, global batch {r.GlobalBatch}, " +
            $"the overlap benchmark's model: 4 layers, width 128, context 128, byte level, State of the Union, all 233 speeches: no validation " +
            $"set, so rank 0 never evaluates while rank 1 trains) in two network namespaces joined by a veth pair, each end shaped with " +
            $"`tc qdisc … tbf rate {r.Rate} burst 32kbit latency 400ms` (build/netns-overlap.sh on build/netns-lib.sh; Open MPI's TCP " +
            $"transport and out-of-band channel restricted to the pair). **`netem` is not in this machine's kernel, so the real link adds no " +
            $"latency**: the model and the simulated link are evaluated with L = 0. Machine: {r.Machine}. Commit: {r.Commit}."));
        text.AppendLine();
        text.AppendLine(string.Create(inv,
            $"A 4 MB all-gather per rank over the link reached **{OverlapBenchmark.Bandwidth(r.MeasuredAllGatherBitsPerSecond)}** " +
            $"of the nominal {OverlapBenchmark.Bandwidth(r.RateBitsPerSecond)} (median of 3; TCP/IP headers, tbf's accounting, MPI's handshakes)."));
        text.AppendLine();
        text.AppendLine("| method | steps | exchanges | bytes per exchange | compute per step | stall per exchange: real / model | real link: utilisation (rank 0 report) | per worker | model at nominal rate | model at measured rate | simulated link | wall, real / simulated |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var run in r.Runs)
            text.AppendLine(string.Create(inv,
                $"| {run.Method} | {run.Steps} | {run.Exchanges} | {run.BytesPerSync:N0} | {run.ComputeSecondsPerStep * 1000:F0} ms | " +
                $"{run.StallSecondsPerExchange:F2} s / {Math.Max(0, run.BytesPerSync * 8 / r.RateBitsPerSecond - run.OverlapSteps * run.ComputeSecondsPerStep):F2} s | " +
                $"**{run.MeasuredUtilisation:P1}** | {string.Join(" / ", run.WorkerUtilisation.Select(u => u.ToString("P1", inv)))} | {run.ModelledUtilisation:P1} | " +
                $"{run.ModelledAtMeasuredRate:P1} | {run.SimulatedUtilisation:P1} | {run.WallSeconds:F1} s / {run.SimulatedWallSeconds:F1} s |"));
        text.AppendLine();
        text.AppendLine("Stall per exchange = (wall − compute) / exchanges of rank 0's report, beside the model's max(0, b/W − τ·c) at the nominal rate. " +
                        "The model's prediction uses this run's own compute per step c (under MPI, both ranks on the same 2 cores) and bytes per " +
                        "sync b, so it isolates the link: u = S·c / (S·c + max(0, b/W − τ·c)). The simulated link is an in-process run of the " +
                        "same steps with LinkModelCollective at the nominal rate. On a real link each exchange costs more than b/W (headers, TCP " +
                        "slow start after idle, MPI's rendezvous), so data-parallel, which exchanges every step, lands between the model at the " +
                        "nominal and at the measured rate or below; the final method hides its small FP4 fragments behind τ = 1 step and stays " +
                        "near its link-free utilisation either way. One run per method (a confirmation of the sweep, not a sweep).");
        return text.ToString();
    }
}
