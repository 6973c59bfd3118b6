using Microsoft.ML.DiLoCo.Communication;

namespace Microsoft.ML.DiLoCo.Tests.Communication;

[TestClass]
public sealed class WireCodecsTests
{
    [TestMethod]
    public void CreatesTheCodecOfEachFormat()
    {
        Assert.IsInstanceOfType<Float32WireCodec>(WireCodecs.Create(WireFormat.Float32));
        Assert.IsInstanceOfType<BFloat16WireCodec>(WireCodecs.Create(WireFormat.BFloat16));
        var float4 = WireCodecs.Create(WireFormat.Float4E3M0, float4BlockSize: 32);
        Assert.AreEqual(32, ((Float4E3M0WireCodec)float4).BlockSize);
        foreach (WireFormat format in Enum.GetValues<WireFormat>())
        {
            Assert.AreEqual(format, WireCodecs.Create(format).Format);
        }

        Assert.AreEqual(128, ((Float4E3M0WireCodec)WireCodecs.Create(WireFormat.Float4E3M0)).BlockSize);
    }

    [TestMethod]
    public void RejectsUnknownFormatsAndBadBlockSizes()
    {
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => WireCodecs.Create((WireFormat)42));
        Assert.AreEqual("format", error.ParamName);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => WireCodecs.Create(WireFormat.Float4E3M0, 0));
    }
}
