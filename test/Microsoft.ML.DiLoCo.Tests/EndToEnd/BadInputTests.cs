using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using TorchSharp;

namespace Microsoft.ML.DiLoCo.Tests.EndToEnd;

/// <summary>
/// Every bad input fails before training starts, through the public API, with an exception that names the
/// option (or column) and says what is allowed; a run that blows up fails with <see cref="TrainingDivergedException"/>
/// instead of hanging or returning a broken model.
/// </summary>
[TestClass]
public sealed class BadInputTests
{
    /// <summary>Valid and tiny: each case below breaks exactly one thing.</summary>
    private static StreamingDiLoCoTrainer.Options ValidOptions() => new()
    {
        Model = new TransformerOptions { ContextLength = 16, EmbeddingSize = 16, NumberOfLayers = 2, NumberOfHeads = 2 },
        NumberOfWorkers = 2,
        InnerSteps = 4,
        NumberOfFragments = 2,
        OverlapSteps = 1,
        BatchSize = 2,
        TrainingSteps = 8,
        WarmupSteps = 2,
        Seed = 3,
    };

    private static readonly Dictionary<string, Action<StreamingDiLoCoTrainer.Options>> Breakages = new()
    {
        ["H not a multiple of P"] = o => { o.InnerSteps = 10; o.NumberOfFragments = 3; },
        ["H below P"] = o => { o.InnerSteps = 2; o.NumberOfFragments = 3; o.Model.NumberOfLayers = 2; },
        ["H zero"] = o => o.InnerSteps = 0,
        ["tau = H/P"] = o => { o.InnerSteps = 4; o.NumberOfFragments = 2; o.OverlapSteps = 2; },
        ["tau > H/P"] = o => { o.InnerSteps = 12; o.NumberOfFragments = 3; o.OverlapSteps = 7; },
        ["tau negative"] = o => o.OverlapSteps = -1,
        ["alpha -0.1"] = o => o.MixingAlpha = -0.1f,
        ["alpha 1.1"] = o => o.MixingAlpha = 1.1f,
        ["alpha NaN"] = o => o.MixingAlpha = float.NaN,
        ["no workers"] = o => o.NumberOfWorkers = 0,
        ["negative workers"] = o => o.NumberOfWorkers = -3,
        ["fragments zero"] = o => o.NumberOfFragments = 0,
        ["more block fragments than blocks"] = o => { o.NumberOfFragments = 4; o.InnerSteps = 8; },
        ["more fragments than blocks, non-block shared"] = o =>
        {
            o.NumberOfFragments = 3; o.InnerSteps = 6; o.NonBlockParameters = NonBlockParameterPlacement.FirstFragment;
        },
        ["device tpu:0"] = o => o.Devices = new[] { "tpu:0" },
        ["device cuda:x"] = o => o.Devices = new[] { "cuda:x" },
        ["device cuda:-1"] = o => o.Devices = new[] { "cpu", "cuda:-1" },
        ["no devices"] = o => o.Devices = Array.Empty<string>(),
        ["context 1"] = o => o.Model.ContextLength = 1,
        ["heads do not divide width"] = o => { o.Model.EmbeddingSize = 16; o.Model.NumberOfHeads = 3; },
        ["no layers"] = o => o.Model.NumberOfLayers = 0,
        ["dropout 1"] = o => o.Model.Dropout = 1f,
        ["deterministic dropout with workers"] = o => { o.Model.Dropout = 0.1f; o.Deterministic = true; },
        ["batch 0"] = o => o.BatchSize = 0,
        ["steps 0"] = o => o.TrainingSteps = 0,
        ["warmup negative"] = o => o.WarmupSteps = -1,
        ["inner lr 0"] = o => o.InnerLearningRate = 0f,
        ["inner lr NaN"] = o => o.InnerLearningRate = float.NaN,
        ["inner lr infinite"] = o => o.InnerLearningRate = float.PositiveInfinity,
        ["outer lr negative"] = o => o.OuterLearningRate = -0.7f,
        ["outer momentum 1"] = o => o.OuterMomentum = 1f,
        ["beta2 1"] = o => o.Beta2 = 1f,
        ["weight decay negative"] = o => o.WeightDecay = -0.1f,
        ["clip NaN"] = o => o.GradientClipNorm = float.NaN,
        ["min lr ratio 1.5"] = o => o.MinimumLearningRateRatio = 1.5f,
        ["fp4 block 0"] = o => o.Float4BlockSize = 0,
        ["evaluation interval 0"] = o => o.EvaluationInterval = 0,
        ["validation tokens 0"] = o => o.MaximumValidationTokens = 0,
        ["no text column name"] = o => o.TextColumnName = " ",
        ["unknown algorithm"] = o => o.Algorithm = (TrainingAlgorithm)42,
        ["unknown wire format"] = o => o.WireFormat = (WireFormat)42,
    };

    [TestMethod]
    [DataRow("H not a multiple of P", "InnerSteps", "must be a multiple of NumberOfFragments (P = 3)")]
    [DataRow("H below P", "InnerSteps", "must be a multiple of NumberOfFragments")]
    [DataRow("H zero", "InnerSteps", "at least 1")]
    [DataRow("tau = H/P", "OverlapSteps", "must be in 0..1")]
    [DataRow("tau > H/P", "OverlapSteps", "must be in 0..3")]
    [DataRow("tau negative", "OverlapSteps", "must be in 0..1")]
    [DataRow("alpha -0.1", "MixingAlpha", "[0, 1]")]
    [DataRow("alpha 1.1", "MixingAlpha", "[0, 1]")]
    [DataRow("alpha NaN", "MixingAlpha", "[0, 1]")]
    [DataRow("no workers", "NumberOfWorkers", "at least 1")]
    [DataRow("negative workers", "NumberOfWorkers", "at least 1")]
    [DataRow("fragments zero", "NumberOfFragments", "at least 1")]
    [DataRow("more block fragments than blocks", "NumberOfFragments", "allowed range 1..3")]
    [DataRow("more fragments than blocks, non-block shared", "NumberOfFragments", "allowed range 1..2")]
    [DataRow("device tpu:0", "Devices", "\"tpu:0\" is not a device")]
    [DataRow("device cuda:x", "Devices", "\"cuda:x\" is not a device")]
    [DataRow("device cuda:-1", "Devices", "Devices[1] = \"cuda:-1\" is not a device")]
    [DataRow("no devices", "Devices", "at least one device")]
    [DataRow("context 1", "Model.ContextLength", "at least 2")]
    [DataRow("heads do not divide width", "Model.NumberOfHeads", "must divide Model.EmbeddingSize (16)")]
    [DataRow("no layers", "Model.NumberOfLayers", "at least 1")]
    [DataRow("dropout 1", "Model.Dropout", "[0, 1)")]
    [DataRow("deterministic dropout with workers", "Deterministic", "Model.Dropout = 0")]
    [DataRow("batch 0", "BatchSize", "at least 1")]
    [DataRow("steps 0", "TrainingSteps", "at least 1")]
    [DataRow("warmup negative", "WarmupSteps", "0 or more")]
    [DataRow("inner lr 0", "InnerLearningRate", "finite number > 0")]
    [DataRow("inner lr NaN", "InnerLearningRate", "finite number > 0")]
    [DataRow("inner lr infinite", "InnerLearningRate", "finite number > 0")]
    [DataRow("outer lr negative", "OuterLearningRate", "finite number > 0")]
    [DataRow("outer momentum 1", "OuterMomentum", "[0, 1)")]
    [DataRow("beta2 1", "Beta2", "[0, 1)")]
    [DataRow("weight decay negative", "WeightDecay", "≥ 0")]
    [DataRow("clip NaN", "GradientClipNorm", "≥ 0")]
    [DataRow("min lr ratio 1.5", "MinimumLearningRateRatio", "[0, 1]")]
    [DataRow("fp4 block 0", "Float4BlockSize", "at least 1")]
    [DataRow("evaluation interval 0", "EvaluationInterval", "at least 1")]
    [DataRow("validation tokens 0", "MaximumValidationTokens", "at least 1")]
    [DataRow("no text column name", "TextColumnName", "must name the text column")]
    [DataRow("unknown algorithm", "Algorithm", "Unknown algorithm")]
    [DataRow("unknown wire format", "WireFormat", "Unknown wire format")]
    public void BadOptionFailsWhenTheTrainerIsCreated(string breakage, string option, string allowed)
    {
        var options = ValidOptions();
        Breakages[breakage](options);
        var ml = new MLContext(seed: 1);

        var error = Assert.Throws<ArgumentException>(() => ml.LanguageModeling().Trainers.StreamingDiLoCo(options));

        Assert.AreEqual(option, error.ParamName, error.Message);
        StringAssert.Contains(error.Message, allowed);
    }

    [TestMethod]
    public void TheValidOptionsOfTheseTestsAreAccepted()
    {
        // The cases above break one thing each; without it the trainer is built.
        var trainer = new MLContext(seed: 1).LanguageModeling().Trainers.StreamingDiLoCo(ValidOptions());
        Assert.AreEqual(2, trainer.TrainerOptions.NumberOfWorkers);
    }

    [TestMethod]
    public void CudaOnACpuBuildSaysCudaIsNotAvailable()
    {
        if (torch.cuda.is_available()) Assert.Inconclusive("This process has CUDA; the CPU-only message cannot be checked here.");
        foreach (var device in new[] { "cuda:0", "cuda", "CUDA:1" })
        {
            var options = ValidOptions();
            options.Devices = new[] { "cpu", device };
            var error = Assert.Throws<ArgumentException>(() => new MLContext(seed: 1).LanguageModeling().Trainers.StreamingDiLoCo(options));
            Assert.AreEqual("Devices", error.ParamName);
            StringAssert.Contains(error.Message, "CUDA is not available");
            StringAssert.Contains(error.Message, $"Devices[1] = \"{device}\"");
        }
    }

    [TestMethod]
    public void OptionsChangedAfterCreationDoNotBypassValidation()
    {
        // The trainer keeps its own copy, so a later edit cannot smuggle a bad value into Fit.
        var options = ValidOptions();
        var trainer = new MLContext(seed: 1).LanguageModeling().Trainers.StreamingDiLoCo(options);
        options.MixingAlpha = 5f;
        options.Model.ContextLength = 0;
        Assert.AreEqual(0.5f, trainer.TrainerOptions.MixingAlpha);
        Assert.AreEqual(16, trainer.TrainerOptions.Model.ContextLength);
    }

    private sealed class BodyRow
    {
        public string Body { get; set; } = "";
    }

    private sealed class NumberRow
    {
        public float Text { get; set; }
    }

    /// <summary>Fits, expecting <typeparamref name="T"/>; asserts training never started (its first log line never came).</summary>
    private static T FitFails<T>(IDataView? data, StreamingDiLoCoTrainer.Options options, MLContext ml) where T : Exception
    {
        var messages = new List<string>();
        ml.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
        var trainer = ml.LanguageModeling().Trainers.StreamingDiLoCo(options);
        var error = Assert.ThrowsExactly<T>(() => trainer.Fit(data ?? ml.Data.LoadFromEnumerable(SyntheticText.Documents(4, 10, seed: 1))));
        lock (messages)
            Assert.IsFalse(messages.Any(m => m.Contains("training windows")), "training started: " + string.Join(" | ", messages));
        return error;
    }

    [TestMethod]
    public void MissingColumnIsNamedWithTheColumnsThatExist()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new BodyRow { Body = "some text that is long enough to train on, surely" } });
        var error = FitFails<ArgumentOutOfRangeException>(data, ValidOptions(), ml);
        StringAssert.Contains(error.Message, "'Text' was not found");
        StringAssert.Contains(error.Message, "'Body'");

        var renamed = ValidOptions();
        renamed.TextColumnName = "Story";
        error = FitFails<ArgumentOutOfRangeException>(ml.Data.LoadFromEnumerable(SyntheticText.Documents(4, 10, seed: 1)), renamed, ml);
        StringAssert.Contains(error.Message, "'Story' was not found");
        StringAssert.Contains(error.Message, "'Text'");
    }

    [TestMethod]
    public void NonTextColumnIsRejectedWithItsType()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new NumberRow { Text = 1 }, new NumberRow { Text = 2 } });
        var error = FitFails<ArgumentException>(data, ValidOptions(), ml);
        StringAssert.Contains(error.Message, "'Text'");
        StringAssert.Contains(error.Message, "Single");
        StringAssert.Contains(error.Message, "must be scalar text");
    }

    [TestMethod]
    [DataRow(0, "")]
    [DataRow(5, "")]
    public void DataWithoutTextFailsNamingTheColumn(int rows, string text)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, rows).Select(_ => new SyntheticText.TextRow { Text = text }).ToArray());
        var error = FitFails<ArgumentException>(data, ValidOptions(), ml);
        Assert.AreEqual("input", error.ParamName);
        StringAssert.Contains(error.Message, "Column 'Text' of the training data holds no text");
    }

    [TestMethod]
    public void TextShorterThanOneWindowSaysHowManyTokensAreNeeded()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new SyntheticText.TextRow { Text = "too short" }, new SyntheticText.TextRow { Text = "!" } });
        var error = FitFails<ArgumentException>(data, ValidOptions(), ml); // 9 + 1 bytes and two end-of-text tokens = 12; context 16 needs 17
        Assert.AreEqual("input", error.ParamName);
        StringAssert.Contains(error.Message, "Column 'Text'");
        StringAssert.Contains(error.Message, "too short for one training window");
        StringAssert.Contains(error.Message, "The text has 12 tokens");
        StringAssert.Contains(error.Message, "at least 17 are needed");
    }

    [TestMethod]
    public void FewerWindowsThanWorkersSaysSo()
    {
        var ml = new MLContext(seed: 1);
        // 30 byte tokens: one window of 17 tokens, but two workers each need at least one.
        var data = ml.Data.LoadFromEnumerable(new[] { new SyntheticText.TextRow { Text = new string('a', 30) } });
        var error = FitFails<ArgumentException>(data, ValidOptions(), ml);
        Assert.AreEqual("input", error.ParamName);
        StringAssert.Contains(error.Message, "holds 1 windows of 17 tokens");
        StringAssert.Contains(error.Message, "fewer than NumberOfWorkers = 2");
    }

    [TestMethod]
    public void BadValidationSetFailsBeforeTraining()
    {
        var ml = new MLContext(seed: 1);
        var missing = ValidOptions();
        missing.ValidationSet = ml.Data.LoadFromEnumerable(new[] { new BodyRow { Body = "held out" } });
        var error = FitFails<ArgumentOutOfRangeException>(null, missing, ml);
        StringAssert.Contains(error.Message, "'Text' was not found");

        var tooShort = ValidOptions();
        tooShort.ValidationSet = ml.Data.LoadFromEnumerable(new[] { new SyntheticText.TextRow { Text = "tiny" } });
        var shortError = FitFails<ArgumentException>(null, tooShort, ml);
        Assert.AreEqual("ValidationSet", shortError.ParamName);
        StringAssert.Contains(shortError.Message, "Column 'Text' of the ValidationSet is too short");
        StringAssert.Contains(shortError.Message, "at least 17 are needed");

        var empty = ValidOptions();
        empty.ValidationSet = ml.Data.LoadFromEnumerable(Array.Empty<SyntheticText.TextRow>());
        var emptyError = FitFails<ArgumentException>(null, empty, ml);
        Assert.AreEqual("ValidationSet", emptyError.ParamName);
        StringAssert.Contains(emptyError.Message, "holds no text");
    }

    [TestMethod]
    public void FitWithoutDataIsRejected()
    {
        var trainer = new MLContext(seed: 1).LanguageModeling().Trainers.StreamingDiLoCo(ValidOptions());
        var error = Assert.ThrowsExactly<ArgumentNullException>(() => trainer.Fit(null!));
        Assert.AreEqual("input", error.ParamName);
    }

    [TestMethod]
    [Timeout(120_000)]
    [DataRow(TrainingAlgorithm.StreamingDiLoCo)]
    [DataRow(TrainingAlgorithm.DataParallel)]
    public void AbsurdLearningRateDivergesWithTheStepAndWorker(TrainingAlgorithm algorithm)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SyntheticText.Documents(8, 10, seed: 1));
        var options = ValidOptions();
        options.Algorithm = algorithm;
        options.InnerLearningRate = 1e30f;
        options.WarmupSteps = 0;
        options.GradientClipNorm = 0;
        options.TrainingSteps = 40;

        var error = Assert.ThrowsExactly<TrainingDivergedException>(() => ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(data));

        // AdamW moves every weight by about the learning rate on step 1 (its first update is ±lr), so the
        // forward pass of step 2 overflows on every worker.
        Assert.IsTrue(error.Worker is 0 or 1, $"worker {error.Worker}");
        Assert.AreEqual(2L, error.Step, error.Message);
        Assert.AreEqual("loss", error.Quantity, error.Message);
        StringAssert.Contains(error.Message, $"worker {error.Worker} produced a non-finite loss at step 2");
    }

    [TestMethod]
    [Timeout(120_000)]
    public void AbsurdOuterLearningRateDivergesAtTheNextExchange()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SyntheticText.Documents(8, 10, seed: 1));
        var options = ValidOptions();
        options.OuterLearningRate = 1e38f; // θ̂ ← θ̂ − η(Δ̄ + μv) lands far beyond what a forward pass survives
        options.TrainingSteps = 40;

        var error = Assert.ThrowsExactly<TrainingDivergedException>(() => ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(data));

        // H/P = 2, τ = 1: the first fragment is sent after step 1 and applied after step 2 (θ_m ← ½θ_m + ½θ̂, now
        // ~1e35), so step 3's forward pass is the first to see it.
        Assert.IsTrue(error.Worker is 0 or 1, $"worker {error.Worker}");
        Assert.AreEqual(3L, error.Step, error.Message);
        Assert.AreEqual("loss", error.Quantity, error.Message);
        StringAssert.Contains(error.Message, $"worker {error.Worker} produced a non-finite loss at step 3");
    }
}
