using System.Diagnostics;
using System.Text.Json;
using DiLoCo.Cli;

namespace Microsoft.ML.DiLoCo.Tests.Cli;

/// <summary>
/// The built tool as a child process: SIGTERM during training writes a checkpoint, prints where it is and how to
/// resume, and exits with <see cref="ExitCodes.Interrupted"/>; the same command then resumes and finishes.
/// </summary>
[TestClass]
public sealed class CliInterruptionTests
{
    private const int Steps = 200;

    private static string Config(string checkpoints) => $$"""
        {
          "version": 1,
          "scenario": "LanguageModeling",
          "data": { "source": "files", "paths": ["corpus.txt"], "documentPer": "line" },
          "model": { "contextLength": 32, "embeddingSize": 32, "numberOfLayers": 2, "numberOfHeads": 2 },
          "trainer": { "numberOfWorkers": 2, "innerSteps": 20, "numberOfFragments": 2, "innerLearningRate": 0.003,
                       "warmupSteps": 10, "batchSize": 8, "trainingSteps": {{Steps}}, "seed": 7,
                       "checkpointDirectory": {{JsonSerializer.Serialize(checkpoints)}}, "checkpointInterval": 100, "keepCheckpoints": 2 },
          "output": { "directory": "out", "model": null, "lossCurve": null }
        }
        """;

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public void SigtermWritesACheckpointExitsWith130AndTheSameCommandResumes()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) Assert.Inconclusive("SIGTERM is POSIX only.");
        using var folder = new CliTestFolder();
        string config = folder.WriteConfig(Config("checkpoints"));
        string checkpoints = Path.Combine(folder.Path, "checkpoints");

        using (var first = Start(folder, config))
        {
            var output = new List<string>();
            // Wait for the first progress line ("step 10/200"): training is under way.
            while (first.StandardOutput.ReadLine() is { } line)
            {
                output.Add(line);
                if (line.Contains($"/{Steps}", StringComparison.Ordinal) && line.Contains("step ", StringComparison.Ordinal)) break;
            }
            Assert.IsFalse(first.HasExited, string.Join("\n", output));
            using (var kill = Process.Start("kill", new[] { "-TERM", first.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }))
                kill.WaitForExit();
            string rest = first.StandardOutput.ReadToEnd();
            string errors = first.StandardError.ReadToEnd();
            Assert.IsTrue(first.WaitForExit(60_000), "the tool did not stop within 60 s of SIGTERM");

            Assert.AreEqual(ExitCodes.Interrupted, first.ExitCode, $"{string.Join("\n", output)}\n{rest}\n{errors}");
            StringAssert.Contains(errors, "interrupted: Training was cancelled after step ");
            StringAssert.Contains(errors, "To resume, run the same command again");
            var files = Directory.GetFiles(checkpoints, "checkpoint-*.dlc").Order(StringComparer.Ordinal).ToArray();
            Assert.IsTrue(files.Length >= 1, "a checkpoint at the stop step");
            StringAssert.Contains(errors, $"Checkpoint: {files[^1]}");
            long stopStep = long.Parse(Path.GetFileNameWithoutExtension(files[^1])["checkpoint-".Length..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.IsTrue(stopStep < Steps, $"stopped early, at step {stopStep}");
            StringAssert.Contains(errors, $"after step {stopStep} of {Steps}");
            Assert.IsFalse(File.Exists(Path.Combine(folder.Path, "out", "report.json")), "an interrupted run writes no report");
        }

        using var second = Start(folder, config);
        string resumedOutput = second.StandardOutput.ReadToEnd();
        string resumedErrors = second.StandardError.ReadToEnd();
        Assert.IsTrue(second.WaitForExit(60_000));
        Assert.AreEqual(ExitCodes.Success, second.ExitCode, resumedOutput + resumedErrors);
        StringAssert.Contains(resumedOutput, "Resuming from " + checkpoints);
        StringAssert.Contains(resumedOutput, $"step {Steps}/{Steps}");
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder.Path, "out", "report.json")));
        Assert.AreEqual(Steps, report.RootElement.GetProperty("MeanInnerLoss").GetArrayLength(), "the losses of the first run's steps come from the checkpoint");
    }

    private static Process Start(CliTestFolder folder, string config)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "diloco.dll");
        Assert.IsTrue(File.Exists(dll), $"{dll} is missing: the test project references the CLI.");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = folder.Path,
        };
        foreach (var arg in new[] { dll, "train", "--config", config, "--output-dir", folder.Path }) start.ArgumentList.Add(arg);
        start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        return Process.Start(start)!;
    }
}
