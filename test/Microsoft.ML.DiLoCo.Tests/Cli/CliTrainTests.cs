using System.Text.Json;
using DiLoCo.Cli;

namespace Microsoft.ML.DiLoCo.Tests.Cli;

/// <summary>The CLI's code path, in-process: a tiny config trains end to end; the saved model is evaluated, scored and generates.</summary>
[TestClass]
public sealed class CliTrainTests
{
    [TestMethod]
    public void TrainRunsFromConfigToReportAndLossCurve()
    {
        using var folder = new CliTestFolder();
        string config = folder.WriteConfig(folder.TinyConfig(model: "null"));

        var (code, output, errors) = folder.Run("train", "--config", config, "--output-dir", folder.Path);

        Assert.AreEqual(ExitCodes.Success, code, errors);
        StringAssert.Contains(output, "54 training documents, 6 held out");
        StringAssert.Contains(output, "100% step 40/40");
        StringAssert.Contains(output, "step 20: validation loss");
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder.Path, "out", "report.json")));
        Assert.AreEqual(40, report.RootElement.GetProperty("Steps").GetInt32());
        Assert.AreEqual(40, report.RootElement.GetProperty("MeanInnerLoss").GetArrayLength());
        Assert.AreEqual(3, report.RootElement.GetProperty("Validation").GetArrayLength(), "steps 0, 20 and 40");
        Assert.IsTrue(report.RootElement.GetProperty("BytesSentPerWorker").GetInt64() > 0);

        byte[] png = File.ReadAllBytes(Path.Combine(folder.Path, "out", "loss.png"));
        CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.AreEqual(LossCurvePlot.Width, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), "IHDR width");
        Assert.AreEqual(LossCurvePlot.Height, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)), "IHDR height");
        Assert.IsFalse(File.Exists(Path.Combine(folder.Path, "out", "model.zip")), "model: null skips the zip");
    }

    [TestMethod]
    public void TheSavedModelEvaluatesScoresAndGenerates()
    {
        using var folder = new CliTestFolder();
        // 80 steps: at 40 the outer Nesterov step (η = 0.7, μ = 0.9) has just overshot (see the report).
        string config = folder.WriteConfig(folder.TinyConfig(steps: 80));
        var train = folder.Run("train", "--config", config, "--output-dir", folder.Path);
        Assert.AreEqual(ExitCodes.Success, train.ExitCode, train.Errors);
        string model = Path.Combine(folder.Path, "out", "model.zip");
        Assert.IsTrue(File.Exists(model));
        Assert.IsFalse(File.Exists(model + ".partial"));

        // The saved model, evaluated on the held-out lines (every 10th), agrees with the report's final validation
        // loss of the in-memory model (windows differ: packed for validation, per document for Transform).
        File.WriteAllLines(folder.File("heldout.txt"), File.ReadAllLines(folder.File("corpus.txt")).Where((_, i) => (i + 1) % 10 == 0));
        var evaluate = folder.Run("evaluate", "--model", model, "--data", folder.File("heldout.txt"), "--document-per", "line");
        Assert.AreEqual(ExitCodes.Success, evaluate.ExitCode, evaluate.Errors);
        StringAssert.Contains(evaluate.Output, "documents:      6");
        double loss = double.Parse(evaluate.Output.Split('\n').First(l => l.StartsWith("loss:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        using var report = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder.Path, "out", "report.json")));
        double reported = report.RootElement.GetProperty("Validation").EnumerateArray().Last().GetProperty("Loss").GetDouble();
        Assert.IsTrue(loss < 0.6 * Math.Log(257), $"a trained model beats uniform by far; {evaluate.Output}");
        Assert.AreEqual(reported, loss, 0.25, $"evaluate of the saved model vs the report's last validation loss; {evaluate.Output}");

        var score = folder.Run("score", "--model", model, "--text", "the cat sees the moon.");
        Assert.AreEqual(ExitCodes.Success, score.ExitCode, score.Errors);
        StringAssert.Contains(score.Output, "tokens:      22");

        var greedy = folder.Run("generate", "--model", model, "--prompt", "the cat", "--max-tokens", "20", "--temperature", "0");
        Assert.AreEqual(ExitCodes.Success, greedy.ExitCode, greedy.Errors);
        StringAssert.StartsWith(greedy.Output, "the cat");
        Assert.AreEqual(greedy.Output, folder.Run("generate", "--model", model, "--prompt", "the cat", "--max-tokens", "20", "--temperature", "0").Output, "greedy is deterministic");
    }
}
