using System.Diagnostics;
using System.Text.Json;

namespace Microsoft.ML.DiLoCo.Tests.Mpi;

/// <summary>Starts the MPI runner (test/Microsoft.ML.DiLoCo.MpiRunner) under mpirun, or alone, and parses its JSON lines.</summary>
internal static class MpiLauncher
{
    public sealed record Outcome(int ExitCode, JsonElement[] Lines, string Output, TimeSpan Elapsed);

    /// <summary>The runner's dll, built beside this test project in the same configuration; Inconclusive when absent.</summary>
    public static string Runner()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        string configuration = dir.Parent?.Name ?? "Release";               // bin/<configuration>/net10.0/
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DiLoCo.MLNet.sln"))) dir = dir.Parent;
        if (dir is null) Assert.Inconclusive("The repository root (DiLoCo.MLNet.sln) was not found above the test binaries.");
        string runner = Path.Combine(dir!.FullName, "test", "Microsoft.ML.DiLoCo.MpiRunner", "bin", configuration, "net10.0", "Microsoft.ML.DiLoCo.MpiRunner.dll");
        if (!File.Exists(runner)) Assert.Inconclusive($"The MPI runner is not built ({runner}); build the solution first.");
        return runner;
    }

    /// <summary>mpirun's path; Inconclusive when Open MPI is not installed.</summary>
    public static string MpiRun()
    {
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            string candidate = Path.Combine(folder, "mpirun");
            if (File.Exists(candidate)) return candidate;
        }
        Assert.Inconclusive("mpirun is not installed (apt-get install -y openmpi-bin libopenmpi-dev).");
        return "";
    }

    /// <summary>Runs <paramref name="ranks"/> copies of the runner on localhost with the given key=value settings.</summary>
    public static Outcome UnderMpi(int ranks, params string[] settings)
    {
        var arguments = new List<string> { "--allow-run-as-root", "--oversubscribe", "-np", ranks.ToString(),
            "-x", "OMP_WAIT_POLICY=PASSIVE", "dotnet", Runner() };
        arguments.AddRange(settings);
        return Start(MpiRun(), arguments);
    }

    /// <summary>Runs <paramref name="ranks"/> copies of another .NET program (e.g. the diloco tool) on localhost.</summary>
    public static Outcome ProgramUnderMpi(int ranks, string dll, params string[] arguments)
    {
        var all = new List<string> { "--allow-run-as-root", "--oversubscribe", "-np", ranks.ToString(),
            "-x", "OMP_WAIT_POLICY=PASSIVE", "dotnet", dll };
        all.AddRange(arguments);
        return Start(MpiRun(), all, parseJson: false);
    }

    /// <summary>Runs the runner as a plain process (no launcher).</summary>
    public static Outcome Alone(params string[] settings) => Start("dotnet", new[] { Runner() }.Concat(settings).ToList());

    private static Outcome Start(string program, List<string> arguments, bool parseJson = true)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        foreach (var v in new[] { "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "PMI_SIZE" }) info.Environment.Remove(v);
        info.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} did not finish within 90 s: {stdout.Result}{stderr.Result}");
        }
        process.WaitForExit();
        string output = stdout.Result + stderr.Result;
        if (!parseJson) return new Outcome(process.ExitCode, Array.Empty<JsonElement>(), output, clock.Elapsed);
        var lines = stdout.Result.Split('\n')
            .Select(l => l.IndexOf('{') is int i and >= 0 ? l[i..].Trim() : null)
            .Where(l => l is not null)
            .Select(l => JsonDocument.Parse(l!).RootElement.Clone())
            .ToArray();
        return new Outcome(process.ExitCode, lines, output, clock.Elapsed);
    }
}
