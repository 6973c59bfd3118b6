using Microsoft.ML.DiLoCo.Tests.Persistence;
using DiLoCo.Cli;

namespace Microsoft.ML.DiLoCo.Tests.Cli;

/// <summary>The model file comes first: written before the report and plot, and a bad one is named as bad input.</summary>
[TestClass]
public sealed class CliModelFileTests
{
    [TestMethod]
    public void AFailingPlotNeverLosesTheTrainedModel()
    {
        using var folder = new CliTestFolder();
        string config = folder.WriteConfig(folder.TinyConfig(steps: 20));
        string curve = Path.Combine(folder.Path, "out", "loss.png");
        Directory.CreateDirectory(curve); // a folder where the PNG should go: drawing the plot fails

        var (code, output, errors) = folder.Run("train", "--config", config, "--output-dir", folder.Path);

        Assert.AreEqual(ExitCodes.Failure, code, output + errors);
        string model = Path.Combine(folder.Path, "out", "model.zip");
        Assert.IsTrue(File.Exists(model), "the model was saved before the plot was drawn");
        Assert.IsTrue(File.Exists(Path.Combine(folder.Path, "out", "report.json")), "and the report");
        StringAssert.Contains(errors, $"failed: could not write the loss curve to {curve}");
        StringAssert.Contains(errors, $"Already saved: {model}, ");
        Assert.AreEqual(ExitCodes.Success, folder.Run("score", "--model", model, "--text", "the cat").ExitCode, "the saved model works");
    }

    [TestMethod]
    public void ScoringACorruptModelIsBadInputNamingTheFileAndItsProblem()
    {
        using var folder = new CliTestFolder();
        var ml = new MLContext(seed: 1);
        string path = SavedModels.Save(ml, SavedModels.Random(), folder.Path);
        SavedModels.EditEntry(path, "Weights.bin", bytes => { bytes[bytes.Length / 3] ^= 0x10; return bytes; });

        foreach (var args in new[] { new[] { "score", "--model", path, "--text", "hi" }, new[] { "generate", "--model", path, "--prompt", "hi" } })
        {
            var (code, _, errors) = folder.Run(args);
            Assert.AreEqual(ExitCodes.BadInput, code, errors);
            StringAssert.Contains(errors, $"error: The model file {path} cannot be loaded: ");
            StringAssert.Contains(errors, "SHA-256");
            Assert.IsFalse(errors.Contains("target of an invocation", StringComparison.Ordinal), errors);
        }

        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var truncated = folder.Run("score", "--model", path, "--text", "hi");
        Assert.AreEqual(ExitCodes.BadInput, truncated.ExitCode);
        StringAssert.Contains(truncated.Errors, $"The model file {path} cannot be loaded: ");
    }
}
