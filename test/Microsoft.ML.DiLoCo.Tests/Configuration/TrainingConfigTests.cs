using DiLoCo.Configuration;

namespace Microsoft.ML.DiLoCo.Tests.Configuration;

/// <summary>Config parsing: values land in the trainer options; every bad field is named by its JSON path.</summary>
[TestClass]
public sealed class TrainingConfigTests
{
    private const string Minimal = """{ "version": 1, "scenario": "LanguageModeling", "data": { "source": "sotu" } }""";

    private static TrainingConfigException Fails(string json) =>
        Assert.ThrowsExactly<TrainingConfigException>(() => TrainingConfig.Parse(json, Path.GetTempPath()));

    private static string WithTrainer(string trainerFields) =>
        "{\n  \"version\": 1,\n  \"scenario\": \"LanguageModeling\",\n  \"data\": { \"source\": \"sotu\" },\n  \"trainer\": {\n    " + trainerFields + "\n  }\n}";

    [TestMethod]
    public void TheExampleConfigsParseIntoTrainerOptions()
    {
        string configs = Path.Combine(RepositoryRoot(), "src", "Examples", "configs");
        var tiny = TrainingConfig.Load(Path.Combine(configs, "tiny.json"));
        Assert.AreEqual(DataSourceKind.Files, tiny.Data.Source);
        Assert.AreEqual(DocumentUnit.Line, tiny.Data.DocumentPer);
        Assert.AreEqual(configs, tiny.BaseDirectory);
        Assert.AreEqual(ValidationSplitKind.EveryNth, tiny.Validation.Split);
        Assert.AreEqual(10, tiny.Validation.Every);
        var o = tiny.Trainer;
        Assert.AreEqual((32, 32, 2, 2), (o.Model.ContextLength, o.Model.EmbeddingSize, o.Model.NumberOfLayers, o.Model.NumberOfHeads));
        Assert.AreEqual((2, 20, 2, 1, 0.5f), (o.NumberOfWorkers, o.InnerSteps, o.NumberOfFragments, o.OverlapSteps, o.MixingAlpha));
        Assert.AreEqual(WireFormat.Float4E3M0, o.WireFormat);
        Assert.AreEqual(3e-3f, o.InnerLearningRate);
        Assert.AreEqual((80, 40, 8, 7), (o.TrainingSteps, o.EvaluationInterval, o.BatchSize, o.Seed!.Value));
        Assert.AreEqual("artifacts/tiny", tiny.Output.Directory);

        var sotu = TrainingConfig.Load(Path.Combine(configs, "sotu.json"));
        Assert.AreEqual(DataSourceKind.Sotu, sotu.Data.Source);
        Assert.AreEqual((44, 4, 600, FinalModel.ReplicaAverage), (sotu.Trainer.InnerSteps, sotu.Trainer.NumberOfFragments, sotu.Trainer.TrainingSteps, sotu.Trainer.FinalModel));
    }

    [TestMethod]
    public void TheEndOfRunModelAndTheSyncWarmUpAreRead()
    {
        // outerParameters: the default is the replicas' average, so reading the other value proves the field is read.
        var config = TrainingConfig.Parse(WithTrainer("\"innerSteps\": 40, \"finalModel\": \"outerParameters\", \"syncWarmupSteps\": 400, \"syncWarmupInnerSteps\": 8"), Path.GetTempPath());
        Assert.AreEqual((FinalModel.OuterParameters, 400, 8), (config.Trainer.FinalModel, config.Trainer.SyncWarmupSteps, config.Trainer.SyncWarmupInnerSteps));
        var e = Fails(WithTrainer("\"innerSteps\": 40, \"syncWarmupSteps\": 30, \"syncWarmupInnerSteps\": 8"));
        StringAssert.Contains(e.Message, "syncWarmupSteps", "the JSON field is named");
    }

    [TestMethod]
    public void MissingSectionsKeepTheLibraryDefaults()
    {
        var config = TrainingConfig.Parse(Minimal, Path.GetTempPath());
        var defaults = new StreamingDiLoCoTrainer.Options();
        Assert.AreEqual(defaults.InnerSteps, config.Trainer.InnerSteps);
        Assert.AreEqual(defaults.Model.NumberOfLayers, config.Trainer.Model.NumberOfLayers);
        Assert.AreEqual(ValidationSplitKind.None, config.Validation.Split);
        Assert.AreEqual("model.zip", config.Output.Model);
        Assert.IsNull(config.Trainer.ValidationSet);
    }

    [TestMethod]
    public void AnUnknownFieldIsRejectedByNameWithTheAllowedOnes()
    {
        var e = Fails(WithTrainer("\"innerStep\": 10"));
        Assert.AreEqual("trainer.innerStep", e.Field);
        Assert.AreEqual(6, e.LineNumber);
        StringAssert.Contains(e.Message, "unknown field");
        StringAssert.Contains(e.Message, "innerSteps");

        var caseTypo = Fails(WithTrainer("\"InnerSteps\": 10"));
        StringAssert.Contains(caseTypo.Message, "did you mean \"innerSteps\"");

        var top = Fails("""{ "version": 1, "scenario": "LanguageModeling", "data": { "source": "sotu" }, "epochs": 3 }""");
        Assert.AreEqual("epochs", top.Field);

        // A field of another source kind is unknown for this one.
        var wrongKind = Fails("""{ "version": 1, "scenario": "LanguageModeling", "data": { "source": "files", "paths": ["a.txt"], "column": "Text" } }""");
        Assert.AreEqual("data.column", wrongKind.Field);
    }

    [TestMethod]
    public void AWrongTypeNamesTheFieldItsLineAndWhatIsAllowed()
    {
        var e = Fails(WithTrainer("\"batchSize\": 8,\n    \"innerSteps\": \"ten\""));
        Assert.AreEqual("trainer.innerSteps", e.Field);
        Assert.AreEqual(7, e.LineNumber);
        StringAssert.Contains(e.Message, "trainer.innerSteps (line 7): must be an integer ≥ 1; got the string \"ten\"");

        Assert.AreEqual("trainer.batchSize", Fails(WithTrainer("\"batchSize\": 2.5")).Field);
        Assert.AreEqual("trainer.errorFeedback", Fails(WithTrainer("\"errorFeedback\": \"yes\"")).Field);
        Assert.AreEqual("trainer.devices[1]", Fails(WithTrainer("\"devices\": [\"cpu\", 3]")).Field);
        Assert.AreEqual("model", Fails("""{ "version": 1, "scenario": "LanguageModeling", "data": { "source": "sotu" }, "model": 4 }""").Field);
    }

    [TestMethod]
    public void NumbersOutOfRangeAreCaughtWithTheRange()
    {
        var alpha = Fails(WithTrainer("\"mixingAlpha\": 1.5"));
        Assert.AreEqual("trainer.mixingAlpha", alpha.Field);
        StringAssert.Contains(alpha.Message, "in [0, 1]");
        StringAssert.Contains(Fails(WithTrainer("\"outerMomentum\": 1")).Message, "in [0, 1)");
        Assert.AreEqual("trainer.numberOfWorkers", Fails(WithTrainer("\"numberOfWorkers\": 0")).Field);
        Assert.AreEqual("trainer.trainingSteps", Fails(WithTrainer("\"trainingSteps\": 3000000000")).Field);
        Assert.AreEqual("trainer.linkLatencyMilliseconds", Fails(WithTrainer("\"linkLatencyMilliseconds\": -1")).Field);
        Assert.AreEqual(1e8, TrainingConfig.Parse(WithTrainer("\"linkBandwidthBitsPerSecond\": 1e8"), Path.GetTempPath()).Trainer.LinkBandwidthBitsPerSecond);
        var context = Fails("""{ "version": 1, "scenario": "LanguageModeling", "data": { "source": "sotu" }, "model": { "contextLength": 1 } }""");
        Assert.AreEqual("model.contextLength", context.Field);
        var fraction = Fails("""{ "version": 1, "scenario": "LanguageModeling", "data": { "source": "sotu" }, "validation": { "split": "fraction", "fraction": 1 } }""");
        Assert.AreEqual("validation.fraction", fraction.Field);
        StringAssert.Contains(fraction.Message, "in (0, 1)");
    }

    [TestMethod]
    public void ChecksAcrossFieldsNameTheJsonField()
    {
        // H must be a multiple of P: the trainer's own check, reported with the config's field name.
        var e = Fails(WithTrainer("\"innerSteps\": 10,\n    \"numberOfFragments\": 3"));
        Assert.IsTrue(e.Field is "trainer.innerSteps" or "trainer.numberOfFragments", e.Field);
        StringAssert.Contains(e.Message, "InnerSteps");

        var heads = Fails("""{ "version": 1, "scenario": "LanguageModeling", "data": { "source": "sotu" }, "model": { "embeddingSize": 30, "numberOfHeads": 4 } }""");
        Assert.AreEqual("model.numberOfHeads", heads.Field);
    }

    [TestMethod]
    public void ChoicesListTheAllowedValues()
    {
        var wire = Fails(WithTrainer("\"wireFormat\": \"fp8\""));
        Assert.AreEqual("trainer.wireFormat", wire.Field);
        StringAssert.Contains(wire.Message, "\"float32\", \"bFloat16\", \"float4E3M0\"");
        Assert.AreEqual(WireFormat.BFloat16, TrainingConfig.Parse(WithTrainer("\"wireFormat\": \"BFLOAT16\""), Path.GetTempPath()).Trainer.WireFormat);

        var source = Fails("""{ "version": 1, "scenario": "LanguageModeling", "data": { "source": "web" } }""");
        Assert.AreEqual("data.source", source.Field);
        StringAssert.Contains(source.Message, "\"files\", \"folder\", \"table\", \"sotu\"");
        var scenario = Fails("""{ "version": 1, "scenario": "Classification", "data": { "source": "sotu" } }""");
        Assert.AreEqual("scenario", scenario.Field);
        StringAssert.Contains(scenario.Message, "\"LanguageModeling\"");
    }

    [TestMethod]
    public void VersionScenarioAndDataAreRequired()
    {
        Assert.AreEqual("version", Fails("""{ "scenario": "LanguageModeling", "data": { "source": "sotu" } }""").Field);
        var newer = Fails("""{ "version": 2, "scenario": "LanguageModeling", "data": { "source": "sotu" } }""");
        StringAssert.Contains(newer.Message, "newer than this library reads (1)");
        Assert.AreEqual("data", Fails("""{ "version": 1, "scenario": "LanguageModeling" }""").Field);
        Assert.AreEqual("data.paths", Fails("""{ "version": 1, "scenario": "LanguageModeling", "data": { "source": "files" } }""").Field);
    }

    [TestMethod]
    public void InvalidJsonGivesTheLine()
    {
        var e = Fails("{\n  \"version\": 1,\n  \"scenario\": \"LanguageModeling\"\n  \"data\": {}\n}");
        Assert.AreEqual(4, e.LineNumber);
        StringAssert.Contains(e.Message, "not valid JSON at line 4");
        Assert.AreEqual("", e.Field);
        // Comments and trailing commas are fine in a config file.
        TrainingConfig.Parse("{ // a comment\n \"version\": 1, \"scenario\": \"LanguageModeling\", \"data\": { \"source\": \"sotu\", }, }", Path.GetTempPath());
    }

    [TestMethod]
    public void AMissingFileIsNamed()
    {
        string path = Path.Combine(Path.GetTempPath(), "no-such-config-" + Guid.NewGuid().ToString("N") + ".json");
        var e = Assert.ThrowsExactly<TrainingConfigException>(() => TrainingConfig.Load(path));
        StringAssert.Contains(e.Message, path);
        StringAssert.Contains(e.Message, "does not exist");
    }

    [TestMethod]
    public void OutputFilesCanBeSkippedWithNull()
    {
        var config = TrainingConfig.Parse("""{ "version": 1, "scenario": "LanguageModeling", "data": { "source": "sotu" }, "output": { "directory": "out", "model": null, "lossCurve": "curve.png" } }""", Path.GetTempPath());
        Assert.IsNull(config.Output.Model);
        Assert.AreEqual("report.json", config.Output.Report);
        Assert.AreEqual(Path.GetFullPath("/base/out/curve.png"), config.Output.Resolve(config.Output.LossCurve, "/base"));
        Assert.IsNull(config.Output.Resolve(config.Output.Model, "/base"));
    }

    internal static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "DiLoCo.MLNet.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root not found");
    }
}
