namespace Microsoft.ML.DiLoCo.Tests.Persistence;

/// <summary>Empty and whitespace-only text: TokenCount 0 and NaN loss, from Transform and a PredictionEngine, before and after a save.</summary>
[TestClass]
public sealed class PersistenceEmptyTextTests
{
    [TestMethod]
    [DataRow("")]
    [DataRow("   ")]
    [DataRow("\t\r\n ")]
    public void EmptyOrWhitespaceText_ScoresNoTokensAndNaN(string text)
    {
        var ml = new MLContext(seed: 1);
        var model = SavedModels.Random();
        var engine = ml.Model.CreatePredictionEngine<SavedModels.Input, SavedModels.Output>(model);
        var output = engine.Predict(new SavedModels.Input { Text = text });
        Assert.AreEqual(0, output.TokenCount);
        Assert.IsTrue(float.IsNaN(output.Loss));
        Assert.IsTrue(float.IsNaN(output.Perplexity));

        var scored = SavedModels.Score(ml, model);   // a batch with empty, blank and real texts
        Assert.AreEqual(0, scored[1].TokenCount);
        Assert.AreEqual(0, scored[2].TokenCount);
        Assert.IsTrue(float.IsNaN(scored[2].Loss));
        Assert.IsTrue(scored[0].TokenCount > 0 && float.IsFinite(scored[0].Loss));
    }
}
