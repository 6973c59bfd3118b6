namespace Microsoft.ML.DiLoCo.Tests.Model;

[TestClass]
public sealed class TransformerOptionsTests
{
    [TestMethod]
    public void Defaults_AreTheDocumentedOnes()
    {
        var o = new TransformerOptions();
        Assert.AreEqual(128, o.ContextLength);
        Assert.AreEqual(128, o.EmbeddingSize);
        Assert.AreEqual(4, o.NumberOfLayers);
        Assert.AreEqual(4, o.NumberOfHeads);
        Assert.AreEqual(4, o.MlpRatio);
        Assert.AreEqual(0f, o.Dropout);
        Assert.IsTrue(o.TiedEmbeddings);
        Assert.AreEqual(PositionEncoding.Learned, o.PositionEncoding);
        Assert.IsTrue(o.Bias);
        o.Validate();
    }

    [TestMethod]
    [DataRow("ContextLength", 1, "Model.ContextLength")]
    [DataRow("EmbeddingSize", 0, "Model.EmbeddingSize")]
    [DataRow("NumberOfLayers", 0, "Model.NumberOfLayers")]
    [DataRow("NumberOfHeads", 0, "Model.NumberOfHeads")]
    [DataRow("NumberOfHeads", 3, "Model.NumberOfHeads")]
    [DataRow("MlpRatio", 0, "Model.MlpRatio")]
    public void Validate_NamesTheIntegerOption(string property, int value, string expectedName)
    {
        var o = new TransformerOptions();
        typeof(TransformerOptions).GetProperty(property)!.SetValue(o, value);
        var e = Assert.Throws<ArgumentException>(() => o.Validate());
        Assert.AreEqual(expectedName, e.ParamName);
        StringAssert.Contains(e.Message, expectedName);
    }

    [TestMethod]
    [DataRow(-0.1f)]
    [DataRow(1f)]
    [DataRow(float.NaN)]
    public void Validate_RejectsDropoutOutsideTheUnitInterval(float dropout)
    {
        var o = new TransformerOptions { Dropout = dropout };
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => o.Validate("Trainer.Model"));
        Assert.AreEqual("Trainer.Model.Dropout", e.ParamName);
        StringAssert.Contains(e.Message, "[0, 1)");
    }

    [TestMethod]
    public void Validate_RejectsRotaryWithAnOddHeadSize()
    {
        var o = new TransformerOptions { EmbeddingSize = 12, NumberOfHeads = 4, PositionEncoding = PositionEncoding.Rotary };
        var e = Assert.ThrowsExactly<ArgumentException>(() => o.Validate());
        StringAssert.Contains(e.Message, "Model.PositionEncoding");
        o.PositionEncoding = PositionEncoding.Learned;
        o.Validate();
    }

    [TestMethod]
    public void Clone_IsIndependent()
    {
        var o = new TransformerOptions { EmbeddingSize = 64, PositionEncoding = PositionEncoding.Rotary };
        var copy = o.Clone();
        o.EmbeddingSize = 32;
        Assert.AreEqual(64, copy.EmbeddingSize);
        Assert.AreEqual(PositionEncoding.Rotary, copy.PositionEncoding);
    }
}
