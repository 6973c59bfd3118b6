using System.Text.Json;
using DiLoCo.Cli;

namespace Microsoft.ML.DiLoCo.Tests.Cli;

/// <summary><c>diloco train --from MODEL.zip</c> and the config's <c>initialModel</c>: fine-tuning from the tool.</summary>
[TestClass]
public sealed class CliFineTuningTests
{
    private static double FirstValidationLoss(string folder) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "out", "report.json"))).RootElement.GetProperty("Validation")[0].GetProperty("Loss").GetDouble();

    private static double LastValidationLoss(string folder) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "out", "report.json"))).RootElement.GetProperty("Validation").EnumerateArray().Last().GetProperty("Loss").GetDouble();

    [TestMethod]
    public void TrainFromASavedModelStartsAtItsWeights()
    {
        using var first = new CliTestFolder();
        var trained = first.Run("train", "--config", first.WriteConfig(first.TinyConfig()), "--output-dir", first.Path);
        Assert.AreEqual(ExitCodes.Success, trained.ExitCode, trained.Errors);
        string model = Path.Combine(first.Path, "out", "model.zip");
        double end = LastValidationLoss(first.Path);

        using var second = new CliTestFolder();
        var tuned = second.Run("train", "--config", second.WriteConfig(second.TinyConfig(steps: 20)), "--from", model, "--output-dir", second.Path);
        Assert.AreEqual(ExitCodes.Success, tuned.ExitCode, tuned.Errors);
        StringAssert.Contains(tuned.Output, $"Fine-tuning from {model}");
        Assert.AreEqual(end, FirstValidationLoss(second.Path), "step 0 of the fine-tuning run is the saved model (same held-out lines)");

        // The same through the config file, with a path relative to it.
        using var third = new CliTestFolder();
        File.Copy(model, third.File("start.zip"));
        string config = third.WriteConfig(third.TinyConfig(steps: 20).Replace("\"version\": 1,", "\"version\": 1, \"initialModel\": \"start.zip\","));
        var fromConfig = third.Run("train", "--config", config, "--output-dir", third.Path);
        Assert.AreEqual(ExitCodes.Success, fromConfig.ExitCode, fromConfig.Errors);
        Assert.AreEqual(end, FirstValidationLoss(third.Path));
    }

    [TestMethod]
    public void AModelOfAnotherArchitectureOrAMissingFileExitsTwoNamingIt()
    {
        using var first = new CliTestFolder();
        var trained = first.Run("train", "--config", first.WriteConfig(first.TinyConfig(steps: 4)), "--output-dir", first.Path);
        Assert.AreEqual(ExitCodes.Success, trained.ExitCode, trained.Errors);
        string model = Path.Combine(first.Path, "out", "model.zip");

        using var second = new CliTestFolder();
        string deeper = second.WriteConfig(second.TinyConfig(steps: 4).Replace("\"numberOfLayers\": 2", "\"numberOfLayers\": 3"));
        var refused = second.Run("train", "--config", deeper, "--from", model, "--output-dir", second.Path);
        Assert.AreEqual(ExitCodes.BadInput, refused.ExitCode, refused.Output);
        StringAssert.Contains(refused.Errors, "Model.NumberOfLayers is 2 in the model but 3 in the options");

        string missing = second.WriteConfig(second.TinyConfig(steps: 4).Replace("\"version\": 1,", "\"version\": 1, \"initialModel\": \"nope.zip\","), "missing.json");
        var absent = second.Run("train", "--config", missing, "--output-dir", second.Path);
        Assert.AreEqual(ExitCodes.BadInput, absent.ExitCode);
        StringAssert.Contains(absent.Errors, "initialModel");
    }
}
