using Microsoft.ML.DiLoCo.Tests.EndToEnd;

namespace Microsoft.ML.DiLoCo.Tests.Evaluation;

[TestClass]
public sealed class EvaluateTests
{
    private sealed class Scored
    {
        public string Text { get; set; } = "";
        public float Loss { get; set; }
        public int TokenCount { get; set; }
    }

    [TestMethod]
    public void MetricsAreTokenWeightedAndSkipEmptyRows()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[]
        {
            new Scored { Text = "abcd", Loss = 1.0f, TokenCount = 4 },
            new Scored { Text = "é", Loss = 3.0f, TokenCount = 2 },      // 2 UTF-8 bytes
            new Scored { Text = "", Loss = float.NaN, TokenCount = 0 },  // empty text: skipped
        });
        var m = ml.LanguageModeling().Evaluate(data);
        double nats = 1.0 * 4 + 3.0 * 2;
        Assert.AreEqual(nats / 6, m.Loss, 1e-9);
        Assert.AreEqual(Math.Exp(nats / 6), m.Perplexity, 1e-9);
        Assert.AreEqual(nats / Math.Log(2) / 6, m.BitsPerByte, 1e-9);
        Assert.AreEqual(6, m.TokenCount);
        Assert.AreEqual(2, m.RowCount);
    }

    [TestMethod]
    public void EvaluateOfATrainedModelMatchesItsScores()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticText.Documents(30, 10, seed: 3));
        var options = FitTests.SmallOptions();
        options.TrainingSteps = 40;
        var model = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train);
        var test = ml.Data.LoadFromEnumerable(SyntheticText.Documents(4, 5, seed: 9));
        var scored = model.Transform(test);
        var rows = ml.Data.CreateEnumerable<SyntheticText.ScoredRow>(scored, reuseRowObject: false).ToArray();
        var m = ml.LanguageModeling().Evaluate(scored);
        double nats = rows.Sum(r => (double)r.Loss * r.TokenCount);
        long tokens = rows.Sum(r => (long)r.TokenCount);
        Assert.AreEqual(nats / tokens, m.Loss, 1e-9);
        // Byte tokenizer: one token per byte, so bits per byte is the loss in bits.
        Assert.AreEqual(m.Loss / Math.Log(2), m.BitsPerByte, 1e-9);
    }

    private sealed class ScoredWithoutText
    {
        public float Loss { get; set; }
        public int TokenCount { get; set; }
    }

    private sealed class ScoredWithNumericText
    {
        public float Text { get; set; }
        public float Loss { get; set; }
        public int TokenCount { get; set; }
    }

    // On the old code both returned metrics with BitsPerByte = NaN and no word about the column.
    [TestMethod]
    public void AMissingOrNonTextTextColumnIsNamed()
    {
        var ml = new MLContext(seed: 1);
        var withoutText = ml.Data.LoadFromEnumerable(new[] { new ScoredWithoutText { Loss = 1f, TokenCount = 4 } });
        var e = Assert.Throws<ArgumentException>(() => ml.LanguageModeling().Evaluate(withoutText));
        StringAssert.Contains(e.Message, "'Text'");
        e = Assert.Throws<ArgumentException>(() => ml.LanguageModeling().Evaluate(withoutText, textColumnName: "Body"));
        StringAssert.Contains(e.Message, "'Body'");
        var numericText = ml.Data.LoadFromEnumerable(new[] { new ScoredWithNumericText { Text = 2f, Loss = 1f, TokenCount = 4 } });
        e = Assert.Throws<ArgumentException>(() => ml.LanguageModeling().Evaluate(numericText));
        StringAssert.Contains(e.Message, "'Text'");
    }

    [TestMethod]
    public void MissingScoreColumnsAreNamed()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new SyntheticText.TextRow { Text = "x" } });
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.LanguageModeling().Evaluate(data));
        StringAssert.Contains(e.Message, "'Loss'");
    }
}
