using Microsoft.ML.DiLoCo.Communication;

namespace Microsoft.ML.DiLoCo.Tests.Communication;

[TestClass]
public sealed class Float32WireCodecTests
{
    [TestMethod]
    public void RoundTripIsBitExactAndLittleEndian()
    {
        var codec = new Float32WireCodec();
        float[] values = [1f, -0f, float.Epsilon, -float.MaxValue, 3.14159f, -2.5e-20f, float.MinValue];
        byte[] wire = new byte[codec.EncodedLength(values.Length)];
        codec.Encode(values, wire);

        CollectionAssert.AreEqual(new byte[] { 0x00, 0x00, 0x80, 0x3F }, wire[..4]);
        float[] decoded = new float[values.Length];
        codec.Decode(wire, decoded);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.AreEqual(BitConverter.SingleToUInt32Bits(values[i]), BitConverter.SingleToUInt32Bits(decoded[i]), $"index {i}");
        }
    }

    [TestMethod]
    public void EncodedLengthIsFourBytesPerValue()
    {
        var codec = new Float32WireCodec();
        Assert.AreEqual(0, codec.EncodedLength(0));
        Assert.AreEqual(4000, codec.EncodedLength(1000));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => codec.EncodedLength(-1));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => codec.EncodedLength(int.MaxValue));
    }

    [TestMethod]
    public void NonFiniteValuesAreRejectedNamingTheIndex()
    {
        var codec = new Float32WireCodec();
        float[] values = new float[50];
        values[41] = float.NegativeInfinity;
        byte[] wire = new byte[codec.EncodedLength(values.Length)];
        var error = Assert.ThrowsExactly<ArgumentException>(() => codec.Encode(values, wire));
        Assert.AreEqual("values", error.ParamName);
        Assert.IsTrue(error.Message.Contains("index 41"), error.Message);
    }

    [TestMethod]
    public void DecodingRefusesNaNAndInfinityFromAPeerNamingTheIndex()
    {
        var codec = new Float32WireCodec();
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            byte[] wire = new byte[12];
            BitConverter.TryWriteBytes(wire.AsSpan(8), bad);
            var error = Assert.ThrowsExactly<ArgumentException>(() => codec.Decode(wire, new float[3]));
            StringAssert.StartsWith(error.Message, $"the value at index 2 decodes to {bad}");
        }
    }

    [TestMethod]
    public void WrongBufferLengthsAreRejected()
    {
        var codec = new Float32WireCodec();
        Assert.ThrowsExactly<ArgumentException>(() => codec.Encode(new float[3], new byte[11]));
        Assert.ThrowsExactly<ArgumentException>(() => codec.Decode(new byte[13], new float[3]));
    }
}
