namespace Microsoft.ML.DiLoCo.Tests.Model;

[TestClass]
public sealed class GenerationOptionsTests
{
    [TestMethod]
    public void Defaults_AreValid()
    {
        var o = new GenerationOptions();
        Assert.AreEqual(100, o.MaxNewTokens);
        Assert.AreEqual(0.8f, o.Temperature);
        Assert.AreEqual(0, o.TopK);
        Assert.AreEqual(1f, o.TopP);
        Assert.IsNull(o.Seed);
        Assert.AreEqual(0, o.StopSequences.Length);
        o.Validate();
    }

    [TestMethod]
    public void Validate_NamesTheOption()
    {
        void Expect(GenerationOptions o, string name)
        {
            var e = Assert.Throws<ArgumentException>(() => o.Validate());
            Assert.AreEqual($"GenerationOptions.{name}", e.ParamName);
        }
        Expect(new GenerationOptions { MaxNewTokens = -1 }, "MaxNewTokens");
        Expect(new GenerationOptions { Temperature = -0.5f }, "Temperature");
        Expect(new GenerationOptions { Temperature = float.NaN }, "Temperature");
        Expect(new GenerationOptions { TopK = -1 }, "TopK");
        Expect(new GenerationOptions { TopP = 0f }, "TopP");
        Expect(new GenerationOptions { TopP = 1.5f }, "TopP");
        Expect(new GenerationOptions { StopSequences = null! }, "StopSequences");
        Expect(new GenerationOptions { StopSequences = ["\n", ""] }, "StopSequences");
    }
}
