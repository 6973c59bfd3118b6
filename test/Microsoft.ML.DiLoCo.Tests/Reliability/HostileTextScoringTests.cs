using Microsoft.ML.DiLoCo.Tests.Persistence;

namespace Microsoft.ML.DiLoCo.Tests.Reliability;

/// <summary>Scoring, Evaluate and Generate on empty, blank and ill-formed text.</summary>
[TestClass]
public sealed class HostileTextScoringTests
{
    [TestMethod]
    public void IllFormedTextScoresAsItsRepairedFormAndBlankTextScoresNothing()
    {
        var ml = new MLContext(seed: 1);
        var model = SavedModels.Random();
        var engine = ml.Model.CreatePredictionEngine<SavedModels.Input, SavedModels.Output>(model);
        foreach (string text in HostileTexts.NonEmpty)
        {
            var output = engine.Predict(new SavedModels.Input { Text = text });
            var repaired = engine.Predict(new SavedModels.Input { Text = HostileTexts.Repaired(text) });
            Assert.AreEqual(System.Text.Encoding.UTF8.GetByteCount(text), output.TokenCount, "one byte token per UTF-8 byte, U+FFFD for a lone surrogate");
            Assert.IsTrue(float.IsFinite(output.Loss) && float.IsFinite(output.Perplexity));
            Assert.AreEqual(repaired.Loss, output.Loss);
            Assert.AreEqual(repaired.TokenCount, output.TokenCount);
        }
        foreach (string text in HostileTexts.Blank)
        {
            var output = engine.Predict(new SavedModels.Input { Text = text });
            Assert.AreEqual(0, output.TokenCount);
            Assert.IsTrue(float.IsNaN(output.Loss) && float.IsNaN(output.Perplexity));
        }

        // Transform (batched) gives the PredictionEngine's numbers, blank rows included.
        var all = HostileTexts.NonEmpty.Concat(HostileTexts.Blank).Select(t => new SavedModels.Input { Text = t }).ToArray();
        var scored = ml.Data.CreateEnumerable<SavedModels.Output>(model.Transform(ml.Data.LoadFromEnumerable(all)), reuseRowObject: false).ToArray();
        for (int i = 0; i < all.Length; i++)
        {
            var one = engine.Predict(all[i]);
            Assert.AreEqual(one.TokenCount, scored[i].TokenCount);
            Assert.AreEqual(BitConverter.SingleToInt32Bits(one.Loss), BitConverter.SingleToInt32Bits(scored[i].Loss), $"row {i}");
        }
    }

    [TestMethod]
    public void EvaluateSkipsBlankRowsAndCountsLoneSurrogatesAsThreeBytes()
    {
        var ml = new MLContext(seed: 1);
        var model = SavedModels.Random();
        IDataView Rows(IEnumerable<string> texts) => ml.Data.LoadFromEnumerable(texts.Select(t => new SavedModels.Input { Text = t }));
        var withBlanks = ml.LanguageModeling().Evaluate(model.Transform(Rows(HostileTexts.Blank.Concat(HostileTexts.NonEmpty).Concat(HostileTexts.Blank))));
        var without = ml.LanguageModeling().Evaluate(model.Transform(Rows(HostileTexts.NonEmpty)));
        Assert.AreEqual(without.Loss, withBlanks.Loss, 1e-12);
        Assert.AreEqual(without.TokenCount, withBlanks.TokenCount);
        Assert.AreEqual(HostileTexts.NonEmpty.Length, withBlanks.RowCount);
        Assert.AreEqual(HostileTexts.NonEmpty.Sum(t => System.Text.Encoding.UTF8.GetByteCount(t)), withBlanks.TokenCount);
        Assert.AreEqual(withBlanks.Loss / Math.Log(2), withBlanks.BitsPerByte, 1e-9, "bytes: one token per UTF-8 byte, as the tokenizer counts them");

        var onlyBlank = ml.LanguageModeling().Evaluate(model.Transform(Rows(HostileTexts.Blank)));
        Assert.AreEqual(0, onlyBlank.TokenCount);
        Assert.AreEqual(0, onlyBlank.RowCount);
        Assert.IsTrue(double.IsNaN(onlyBlank.Loss) && double.IsNaN(onlyBlank.BitsPerByte));
    }

    [TestMethod]
    public void GenerateAcceptsEmptyBlankIllFormedAndOverlongPrompts()
    {
        var model = SavedModels.Random();
        GenerationOptions Options() => new() { MaxNewTokens = 12, Temperature = 0.8f, Seed = 3 };
        foreach (string prompt in HostileTexts.Blank.Concat(HostileTexts.NonEmpty))
        {
            string text = model.Generate(prompt, Options());
            Assert.IsNotNull(text);
            if (HostileTexts.HasLoneSurrogate(prompt))
                Assert.AreEqual(model.Generate(HostileTexts.Repaired(prompt), Options()), text, "a lone surrogate in the prompt reads as U+FFFD");
        }

        // Only the last ContextLength tokens of a prompt are read: a 4 MB prompt continues like its last 17 chars.
        int context = model.ModelOptions.ContextLength;
        string tail = new string('x', context + 1);
        string huge = LongRows.Prose(4 << 20) + tail;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string continued = model.Generate(huge, Options());
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(20), $"{clock.Elapsed.TotalSeconds:F1} s");
        Assert.AreEqual(model.Generate(tail, Options()), continued);
    }
}
