namespace Microsoft.ML.DiLoCo.Tests.EndToEnd;

/// <summary>Fine-tuning: training that starts from a saved model's weights (issue 14, part 2).</summary>
[TestClass]
public sealed class FineTuningTests
{
    /// <summary>Text the first model never saw: another small grammar.</summary>
    private static SyntheticText.TextRow[] NewText(int count, int seed)
    {
        string[] words = { "the ship sails to the island.", "a storm breaks over the sea.", "the crew sings at night.", "gulls follow the boat." };
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => new SyntheticText.TextRow
        {
            Text = string.Join(" ", Enumerable.Range(0, 12).Select(_ => words[random.Next(words.Length)])),
        }).ToArray();
    }

    private static StreamingDiLoCoTrainer.Options Options(IDataView validation, int steps) => new()
    {
        Model = new TransformerOptions { ContextLength = 32, EmbeddingSize = 32, NumberOfLayers = 2, NumberOfHeads = 2 },
        NumberOfWorkers = 2,
        InnerSteps = 10,
        NumberOfFragments = 2,
        InnerLearningRate = 3e-3f,
        WarmupSteps = 5,
        BatchSize = 8,
        TrainingSteps = steps,
        EvaluationInterval = steps,
        ValidationSet = validation,
        Seed = 3,
    };

    [TestMethod]
    public void FineTuningASavedModelContinuesFromItsWeightsAndLearnsTheNewText()
    {
        var ml = new MLContext(seed: 1);
        var original = ml.Data.LoadFromEnumerable(SyntheticText.Documents(40, 20, seed: 1));
        var newTrain = ml.Data.LoadFromEnumerable(NewText(40, seed: 3));
        var newValid = ml.Data.LoadFromEnumerable(NewText(6, seed: 4));
        var pretrained = ml.LanguageModeling().Trainers.StreamingDiLoCo(Options(newValid, 60)).Fit(original);
        double before = pretrained.TrainingReport!.Validation[^1].Loss; // θ̂ at the end, scored on the new text
        string path = Path.Combine(Path.GetTempPath(), $"diloco-finetune-{Environment.ProcessId}.zip");
        try
        {
            ml.Model.Save(pretrained, original.Schema, path);

            var fromFile = Options(newValid, 40);
            fromFile.InitialModelPath = path;
            var tuned = ml.LanguageModeling().Trainers.StreamingDiLoCo(fromFile).Fit(newTrain);
            var validation = tuned.TrainingReport!.Validation;
            Assert.AreEqual(before, validation[0].Loss, "step 0 is the saved model's weights, scored on the same windows");
            Assert.IsTrue(validation[^1].Loss < before - 0.1, $"fine-tuned {validation[^1].Loss:F3} vs the starting model {before:F3} on the new text");

            var fromObject = Options(newValid, 40);
            fromObject.InitialModel = pretrained;
            var again = ml.LanguageModeling().Trainers.StreamingDiLoCo(fromObject).Fit(newTrain);
            Assert.AreEqual(validation[^1].Loss, again.TrainingReport!.Validation[^1].Loss, "the file and the object start from the same weights");
            Assert.AreEqual(before, pretrained.TrainingReport!.Validation[^1].Loss, "the starting model is only read");
            var scoredBefore = ml.LanguageModeling().Evaluate(pretrained.Transform(newValid));
            var scoredAfter = ml.LanguageModeling().Evaluate(tuned.Transform(newValid));
            Assert.IsTrue(scoredAfter.Loss < scoredBefore.Loss, $"Transform: {scoredAfter.Loss:F3} after vs {scoredBefore.Loss:F3} before");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void AModelThatDoesNotFitTheOptionsIsRefusedNamingTheDifference()
    {
        var ml = new MLContext(seed: 1);
        var text = ml.Data.LoadFromEnumerable(SyntheticText.Documents(20, 10, seed: 1));
        var small = Options(text, 4);
        small.ValidationSet = null;
        var model = ml.LanguageModeling().Trainers.StreamingDiLoCo(small).Fit(text);

        var deeper = Options(text, 4);
        deeper.Model.NumberOfLayers = 3;
        deeper.InitialModel = model;
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.LanguageModeling().Trainers.StreamingDiLoCo(deeper));
        Assert.AreEqual(nameof(StreamingDiLoCoTrainer.Options.InitialModel), e.ParamName);
        StringAssert.Contains(e.Message, "Model.NumberOfLayers is 2 in the model but 3 in the options");

        var otherTokenizer = Options(text, 4);
        otherTokenizer.Tokenizer = TokenizerKind.Gpt2;
        otherTokenizer.InitialModel = model;
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ml.LanguageModeling().Trainers.StreamingDiLoCo(otherTokenizer)).Message,
            "Tokenizer is Bytes in the model but Gpt2 in the options");

        var both = Options(text, 4);
        both.InitialModel = model;
        both.InitialModelPath = "x.zip";
        Assert.AreEqual(nameof(StreamingDiLoCoTrainer.Options.InitialModelPath),
            Assert.ThrowsExactly<ArgumentException>(() => ml.LanguageModeling().Trainers.StreamingDiLoCo(both)).ParamName);

        var missing = Options(text, 4);
        missing.InitialModelPath = Path.Combine(Path.GetTempPath(), "no-such-model.zip");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ml.LanguageModeling().Trainers.StreamingDiLoCo(missing)).Message, "no such file");

        string corrupt = Path.Combine(Path.GetTempPath(), $"diloco-corrupt-{Environment.ProcessId}.zip");
        File.WriteAllBytes(corrupt, new byte[] { 1, 2, 3 });
        try
        {
            var bad = Options(text, 4);
            bad.InitialModelPath = corrupt;
            var load = Assert.ThrowsExactly<ArgumentException>(() => ml.LanguageModeling().Trainers.StreamingDiLoCo(bad).Fit(text));
            Assert.AreEqual(nameof(StreamingDiLoCoTrainer.Options.InitialModelPath), load.ParamName);
        }
        finally { File.Delete(corrupt); }
    }
}
