// Benchmarks (issue 5): programs that print tables and write docs/benchmarks.md, not timed unit tests.
// build/bench.sh runs them (and `all` of them); Usage below lists the modes.
using System.Diagnostics;
using System.Text.Json;
using DiLoCo.Benchmarks;

const string Usage = """
    Usage: dotnet run -c Release --project src/Benchmarks/DiLoCo.Benchmarks -- MODE [options]   (or: bash build/bench.sh MODE [options])
      quality [--quick|--medium|--full] [--steps N]   quality and bytes of every method; writes quality-<tier>.md/.json/.csv/.png
      quality-tables [--quick|--medium|--full] [--partial] [--commit SHA]   re-render the quality section from its JSON (no training)
      overlap                                          utilisation under a simulated link; bandwidth per target utilisation
      overlap-tables                                   re-render the overlap section and plot from overlap.json (no training)
      overlap-link [--rate 20mbit]                     (root) the final method and data-parallel over a tc-shaped veth pair
      speed [--steps N] [--quick]                      inner-step tokens/s beside PyTorch (needs /usr/bin/python3 with torch)
      scoring [--rows N] [--short-rows N] [--repetitions N] [--training-steps N]   forward pass vs Transform vs PredictionEngine; generation with/without KV cache
      scoring-tables [--commit SHA]                   re-render the scoring section and plot from scoring.json (no measuring)
      sealing [--repetitions N]                        cost of ExchangeSecurity = Encrypted: bytes per message, seal + open per fragment
      study [--series NAME] [--next]                   issue 13's quality study (length, options, H × format, batch, width), resumable: study-partial.json; --next lists each unfinished series' next run
      study-tables [--commit SHA]                      re-render the study section (study.md, study-length.png) from study-partial.json
      comm [--quick|--medium|--full]                   the communication table alone, from the newest (or named) quality-<tier>.json
      document [--quick|--medium|--full]               assemble docs/benchmarks.md from header.md and the section files (no run)
    Common: --out DIR (section files; default docs/benchmarks), --page FILE (assembled page; default DIR/../benchmarks.md)
    """;

string? mode = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal));
if (mode is null)
{
    Console.Error.WriteLine(Usage);
    return 2;
}
string output = ArgumentAfter("--out") ?? "docs/benchmarks";
Directory.CreateDirectory(output);
var settings = BenchmarkSettings.FromArguments(args, output);
if (ArgumentAfter("--steps") is { } steps) settings = settings with { Name = $"{settings.Name}-{steps}", Steps = int.Parse(steps) };
string machine = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}";
string commit = Git("rev-parse --short HEAD");

switch (mode)
{
    case "quality":
    {
        var results = new QualityBenchmark(settings).Run();
        File.WriteAllText(Path.Combine(output, $"quality-{settings.Name}.json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(Path.Combine(output, $"quality-{settings.Name}.csv"), BenchmarkDocument.QualityCsv(results));
        string section = BenchmarkDocument.Quality(results, settings, machine, commit);
        File.WriteAllText(Path.Combine(output, $"quality-{settings.Name}.md"), section);
        Console.WriteLine(section);
        break;
    }
    case "quality-tables":
    {
        // Re-renders the quality tables from a run's quality-<tier>.json, or from the partial file of a run still going (no training).
        string json = Path.Combine(output, $"quality-{settings.Name}.json");
        if (args.Contains("--partial")) json = Path.Combine(output, $"quality-{settings.Name}-partial.json");
        var results = JsonSerializer.Deserialize<List<QualityResult>>(File.ReadAllText(json))!;
        string section = BenchmarkDocument.Quality(results, settings, machine, ArgumentAfter("--commit") ?? commit);
        File.WriteAllText(Path.Combine(output, $"quality-{settings.Name}.md"), section);
        Console.WriteLine(section);
        break;
    }
    case "study":
    {
        // Hours on 2 cores, resumable: every finished run is kept in study-partial.json and skipped by a rerun.
        string? only = ArgumentAfter("--series");
        if (args.Contains("--next"))
        {
            foreach (string run in new QualityStudy(output).Next(name => only is null || name == only)) Console.WriteLine(run);
            break;
        }
        var results = new QualityStudy(output).Run(name => only is null || name == only);
        Console.WriteLine($"{results.Count} runs in {Path.Combine(output, "study-partial.json")}.");
        File.WriteAllText(Path.Combine(output, "study.md"), StudyDocument.Write(results, output, machine, commit));
        break;
    }
    case "study-tables":
    {
        var results = new QualityStudy(output).Finished();
        string section = StudyDocument.Write(results, output, machine, ArgumentAfter("--commit") ?? commit);
        File.WriteAllText(Path.Combine(output, "study.md"), section);
        Console.WriteLine(section);
        break;
    }
    case "speed":
        Console.WriteLine(SpeedBenchmark.Write(output, ArgumentAfter("--steps") is { } n ? int.Parse(n) : null, args.Contains("--quick"), machine, commit));
        break;
    case "overlap":
        OverlapBenchmark.RunAndWrite(settings.Workers, settings.GlobalBatch, output, machine, commit);
        break;
    case "overlap-tables": // overlap.md and overlap.png again from overlap.json (+ overlap-link.json), no training
        Console.WriteLine(OverlapBenchmark.Render(OverlapBenchmark.TryLoad(output) ?? throw new FileNotFoundException("No overlap.json of the current format: run the overlap mode.", Path.Combine(output, "overlap.json")), output));
        break;
    case "overlap-link": // as root: the final method and data-parallel over a tc-shaped veth pair (build/netns-overlap.sh)
        return OverlapLinkBenchmark.RunAndWrite(settings.GlobalBatch, output, machine, commit, ArgumentAfter("--rate"));
    case "scoring":
    {
        var scoringSettings = new ScoringSettings(
            LongRows: int.Parse(ArgumentAfter("--rows") ?? "32"),
            ShortRows: int.Parse(ArgumentAfter("--short-rows") ?? "256"),
            Repetitions: int.Parse(ArgumentAfter("--repetitions") ?? "5"),
            TrainingSteps: int.Parse(ArgumentAfter("--training-steps") ?? "60"));
        var results = ScoringBenchmark.Run(scoringSettings);
        File.WriteAllText(Path.Combine(output, "scoring.json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
        ScoringPlot.Save(results, Path.Combine(output, "scoring.png"));
        string section = ScoringDocument.Write(results, machine, commit, "scoring.png");
        File.WriteAllText(Path.Combine(output, "scoring.md"), section);
        Console.WriteLine(section);
        break;
    }
    case "scoring-tables":
    {
        // Re-renders the scoring section and plot from scoring.json (no measuring).
        var results = JsonSerializer.Deserialize<ScoringResults>(File.ReadAllText(Path.Combine(output, "scoring.json")))!;
        ScoringPlot.Save(results, Path.Combine(output, "scoring.png"));
        string section = ScoringDocument.Write(results, machine, ArgumentAfter("--commit") ?? commit, "scoring.png");
        File.WriteAllText(Path.Combine(output, "scoring.md"), section);
        Console.WriteLine(section);
        break;
    }
    case "sealing":
    {
        string section = SealingBenchmark.Run(machine, commit, int.Parse(ArgumentAfter("--repetitions") ?? "21"));
        File.WriteAllText(Path.Combine(output, "sealing.md"), section);
        Console.WriteLine(section);
        break;
    }
    case "comm":
    {
        string? json = TierNamed() is { } tier ? Path.Combine(output, $"quality-{tier}.json") : BenchmarksPage.Newest(output, "quality-*.json");
        if (json is null || !File.Exists(json))
        {
            Console.Error.WriteLine($"No quality results in {output} ({json ?? "quality-*.json"}): run `bash build/bench.sh quality{(TierNamed() is { } named ? $" --{named}" : "")}` first.");
            return 1;
        }
        var results = JsonSerializer.Deserialize<List<QualityResult>>(File.ReadAllText(json))!;
        string section = CommunicationDocument.Write(results, Path.GetRelativePath(Directory.GetCurrentDirectory(), json), ArgumentAfter("--commit") ?? CommunicationDocument.CommitOf(Path.ChangeExtension(json, ".md")) ?? "unknown");
        File.WriteAllText(Path.Combine(output, "communication.md"), section);
        Console.WriteLine(section);
        break;
    }
    case "document":
    {
        string page = ArgumentAfter("--page") ?? Path.Combine(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(output)) ?? ".", "benchmarks.md");
        File.WriteAllText(page, BenchmarksPage.Assemble(output, TierNamed()));
        Console.WriteLine($"Wrote {page} from {BenchmarksPage.HeaderFile} and the section files in {output}.");
        break;
    }
    default:
        Console.Error.WriteLine($"Unknown benchmark '{mode}'.");
        Console.Error.WriteLine(Usage);
        return 2;
}
return 0;

// The quality tier the arguments name (with --steps N: "<tier>-N", as the quality mode names its files), or null for none.
string? TierNamed() =>
    args.Any(a => a is "--quick" or "--medium" or "--full") || ArgumentAfter("--steps") is not null ? settings.Name : null;

string? ArgumentAfter(string flag)
{
    int i = Array.IndexOf(args, flag);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

static string Git(string arguments)
{
    try
    {
        using var git = Process.Start(new ProcessStartInfo("git", arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string text = git.StandardOutput.ReadToEnd().Trim();
        git.WaitForExit();
        return git.ExitCode == 0 ? text : "unknown";
    }
    catch (System.ComponentModel.Win32Exception)
    {
        return "unknown";
    }
}
