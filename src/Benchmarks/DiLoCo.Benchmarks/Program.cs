// Benchmarks (issue 5): programs that print tables and write docs/benchmarks.md, not timed unit tests.
//   dotnet run -c Release --project src/Benchmarks/DiLoCo.Benchmarks -- quality [--quick|--full] [--out docs/benchmarks]
//   ... -- overlap: utilisation under the simulated link and the bandwidth needed per target utilisation
//   ... -- overlap-link [--rate 20mbit]: (root) one point on a real tc-shaped link beside the model
using System.Diagnostics;
using System.Text.Json;
using DiLoCo.Benchmarks;

string mode = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "quality";
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
    default:
        Console.Error.WriteLine($"Unknown benchmark '{mode}'. Use: quality|quality-tables|overlap|overlap-tables|overlap-link|speed [--quick|--full] [--steps N] [--out DIR] [--commit SHA].");
        return 2;
}
return 0;

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
