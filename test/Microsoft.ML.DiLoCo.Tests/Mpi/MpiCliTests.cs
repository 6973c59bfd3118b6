using System.Text.Json;

namespace Microsoft.ML.DiLoCo.Tests.Mpi;

/// <summary>`mpirun -np 3 dotnet diloco.dll train --config x.json`: one worker per rank; rank 0 writes the model.</summary>
[TestClass]
public sealed class MpiCliTests
{
    [TestMethod]
    public void TheToolTrainsFromAConfigWithOneWorkerPerRank()
    {
        string tool = Path.Combine(AppContext.BaseDirectory, "diloco.dll");
        if (!File.Exists(tool)) Assert.Inconclusive($"The diloco tool is not built beside the tests ({tool}).");
        string root = Path.Combine(Path.GetTempPath(), "diloco-mpi-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            File.WriteAllLines(Path.Combine(root, "corpus.txt"), EndToEnd.SyntheticText.Documents(60, 3, seed: 1).Select(d => d.Text));
            File.WriteAllText(Path.Combine(root, "config.json"), """
            {
              "version": 1, "scenario": "LanguageModeling",
              "data": { "source": "files", "paths": ["corpus.txt"], "documentPer": "line" },
              "validation": { "split": "everyNth", "every": 10 },
              "model": { "contextLength": 32, "embeddingSize": 32, "numberOfLayers": 2, "numberOfHeads": 2 },
              "trainer": { "transport": "mpi", "numberOfWorkers": 1, "innerSteps": 10, "numberOfFragments": 2, "overlapSteps": 1,
                           "batchSize": 4, "trainingSteps": 20, "evaluationInterval": 10, "seed": 3, "innerLearningRate": 0.003, "warmupSteps": 5 },
              "output": { "directory": "out", "model": "model.zip", "report": "report.json", "lossCurve": null }
            }
            """);
            var outcome = MpiLauncher.ProgramUnderMpi(3, tool, "train", "--config", Path.Combine(root, "config.json"), "--output-dir", root);
            Assert.AreEqual(0, outcome.ExitCode, outcome.Output);
            string output = Path.Combine(root, "out");
            Assert.IsTrue(File.Exists(Path.Combine(output, "model.zip")), "rank 0 writes the model: " + outcome.Output);
            using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json")));
            Assert.AreEqual(3, report.RootElement.GetProperty("NumberOfWorkers").GetInt32(), "M = ranks");
            Assert.AreEqual(0, report.RootElement.GetProperty("Rank").GetInt32());
            Assert.IsTrue(File.Exists(Path.Combine(output, "report.rank1.json")) && File.Exists(Path.Combine(output, "report.rank2.json")),
                "the other ranks write only their own report");
            Assert.AreEqual(4 + 2, report.RootElement.GetProperty("Syncs").GetArrayLength(), "a fragment every H/P = 5 steps over 20 steps, then each of the 2 once more for the replicas' average (the default)");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
