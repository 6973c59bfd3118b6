using System.Diagnostics;
using System.IO.Compression;
using Microsoft.ML.DiLoCo.Tests.EndToEnd;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Persistence;

/// <summary>mlContext.Model.Save / Load: a fresh process gets bit-identical scores; what the file keeps.</summary>
[TestClass]
public sealed class PersistenceSaveLoadTests
{
    private string _directory = "";

    [TestInitialize]
    public void CreateDirectory() => _directory = SavedModels.TempDirectory();

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [TestMethod]
    public void FittedModel_ScoresBitIdenticallyInAFreshProcess_AndStillGenerates()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticText.Documents(20, 10, seed: 1));
        var options = FitTests.SmallOptions();
        options.TrainingSteps = 8;
        options.InnerSteps = 4;
        options.EvaluationInterval = 100;
        var model = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train);
        string path = SavedModels.Save(ml, model, _directory);

        var engine = ml.Model.CreatePredictionEngine<SavedModels.Input, SavedModels.Output>(model);
        var expected = SavedModels.Texts.Select(t => engine.Predict(new SavedModels.Input { Text = t }))
            .Select(o => $"score {BitConverter.SingleToInt32Bits(o.Loss):x8} {BitConverter.SingleToInt32Bits(o.Perplexity):x8} {o.TokenCount}")
            .ToList();
        string generated = model.Generate(SavedModels.Texts[0], new GenerationOptions { MaxNewTokens = 10, Temperature = 0 });
        expected.Add("type " + typeof(LanguageModelTransformer).FullName);
        expected.Add("generated " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(generated)));

        var lines = RunFreshProcess(path, SavedModels.Texts);
        CollectionAssert.AreEqual(expected, lines, "fresh process output:\n" + string.Join("\n", lines));
    }

    [TestMethod]
    [DataRow(PositionEncoding.Learned, true)]
    [DataRow(PositionEncoding.Rotary, false)]
    public void Load_ReturnsTheSameModel_AndPredictionEngineAgreesWithTransform(PositionEncoding positions, bool tied)
    {
        var ml = new MLContext(seed: 1);
        var model = SavedModels.Random(positions, tied);
        model.ScoringStride = 5;
        string path = SavedModels.Save(ml, model, _directory);

        var loaded = (LanguageModelTransformer)ml.Model.Load(path, out var schema);
        Assert.AreEqual("Text", schema[0].Name);
        Assert.AreEqual(model.ParameterCount, loaded.ParameterCount);
        Assert.AreEqual(5, loaded.ScoringStride);
        Assert.AreEqual(positions, loaded.ModelOptions.PositionEncoding);
        Assert.AreEqual(tied, loaded.ModelOptions.TiedEmbeddings);
        Assert.AreEqual(TokenizerKind.Bytes, loaded.Tokenizer);
        Assert.IsNull(loaded.TrainingReport);

        var before = SavedModels.Score(ml, model);
        var transformed = SavedModels.Score(ml, loaded);
        var engine = ml.Model.CreatePredictionEngine<SavedModels.Input, SavedModels.Output>(loaded);
        for (int i = 0; i < before.Length; i++)
        {
            var predicted = engine.Predict(new SavedModels.Input { Text = SavedModels.Texts[i] });
            Assert.AreEqual(BitConverter.SingleToInt32Bits(before[i].Loss), BitConverter.SingleToInt32Bits(transformed[i].Loss), $"row {i}: Transform after load");
            Assert.AreEqual(BitConverter.SingleToInt32Bits(transformed[i].Loss), BitConverter.SingleToInt32Bits(predicted.Loss), $"row {i}: PredictionEngine vs Transform");
            Assert.AreEqual(BitConverter.SingleToInt32Bits(transformed[i].Perplexity), BitConverter.SingleToInt32Bits(predicted.Perplexity), $"row {i}");
            Assert.AreEqual(before[i].TokenCount, predicted.TokenCount, $"row {i}");
        }
    }

    [TestMethod]
    public void FittedModel_KeepsItsTrainingOptionsAndReport()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticText.Documents(20, 10, seed: 1));
        var options = FitTests.SmallOptions();
        options.TrainingSteps = 4;
        options.InnerSteps = 4;
        options.EvaluationInterval = 100;
        var model = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train);
        string path = SavedModels.Save(ml, model, _directory);

        var loaded = (LanguageModelTransformer)ml.Model.Load(path, out _);
        var report = loaded.TrainingReport!;
        Assert.AreEqual(4L, report.Steps);
        Assert.AreEqual(model.TrainingReport!.BytesSentPerWorker, report.BytesSentPerWorker);
        CollectionAssert.AreEqual(model.TrainingReport.MeanInnerLoss.ToArray(), report.MeanInnerLoss.ToArray());
        string manifest = System.Text.Encoding.UTF8.GetString(SavedModels.ReadEntry(path, "Manifest.json"));
        StringAssert.Contains(manifest, "\"InnerLearningRate\": 0.003");
        StringAssert.Contains(manifest, "\"WireFormat\": \"Float4E3M0\"");
        StringAssert.Contains(manifest, "\"token_embedding.weight\"");
    }

    [TestMethod]
    public void BFloat16_HalvesTheWeights_AndLoadsTheRoundedValues()
    {
        var ml = new MLContext(seed: 1);
        var model = SavedModels.Random();
        string full = SavedModels.Save(ml, model, _directory, "fp32.zip");
        model.SaveWeightsAs = WeightPrecision.BFloat16;
        string half = SavedModels.Save(ml, model, _directory, "bf16.zip");

        long fullBytes = SavedModels.ReadEntry(full, "Weights.bin").Length, halfBytes = SavedModels.ReadEntry(half, "Weights.bin").Length;
        Assert.AreEqual(model.ParameterCount * 4, fullBytes);
        Assert.AreEqual(model.ParameterCount * 2, halfBytes);

        var loaded = (LanguageModelTransformer)ml.Model.Load(half, out _);
        Assert.AreEqual(WeightPrecision.BFloat16, loaded.SaveWeightsAs);
        var original = model.Model.named_parameters().ToList();
        var restored = loaded.Model.named_parameters().ToList();
        for (int i = 0; i < original.Count; i++)
        {
            using var rounded = original[i].parameter.to(ScalarType.BFloat16).to(ScalarType.Float32);
            Assert.IsTrue(rounded.eq(restored[i].parameter).all().item<bool>(), original[i].name);
            Assert.AreEqual(ScalarType.Float32, restored[i].parameter.dtype);
        }
    }

    /// <summary>Runs test/ModelLoadCheck (a separate program that knows only MLContext, Model.Load and
    /// CreatePredictionEngine) and returns its output lines.</summary>
    internal static List<string> RunFreshProcess(string modelPath, IEnumerable<string> texts) => RunFreshProcess(modelPath, texts, out _);

    internal static List<string> RunFreshProcess(string modelPath, IEnumerable<string> texts, out long peakWorkingSetBytes)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "ModelLoadCheck.dll");
        Assert.IsTrue(File.Exists(dll), $"{dll} is missing: the test project references test/ModelLoadCheck.");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add(modelPath);
        foreach (var text in texts) start.ArgumentList.Add(text);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        peakWorkingSetBytes = 0;
        while (process.StandardOutput.ReadLine() is { } line)
        {
            lines.Add(line);
            try { peakWorkingSetBytes = Math.Max(peakWorkingSetBytes, process.PeakWorkingSet64); } catch (InvalidOperationException) { }
        }
        Assert.IsTrue(process.WaitForExit(120_000), "the fresh process did not finish in 2 minutes");
        Assert.AreEqual(0, process.ExitCode, $"fresh process failed:\n{stderr.Result}");
        return lines;
    }
}
