using Microsoft.ML.DiLoCo.Communication;

namespace Microsoft.ML.DiLoCo.Tests.Communication;

[TestClass]
public sealed class BFloat16WireCodecTests
{
    [TestMethod]
    public void RoundTripRelativeErrorIsAtMostTwoToTheMinusEight()
    {
        var codec = new BFloat16WireCodec();
        var random = new Random(7);
        float[] values = new float[5000];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)((random.NextDouble() * 2 - 1) * Math.Pow(10, random.Next(-30, 30)));
        }

        byte[] wire = new byte[codec.EncodedLength(values.Length)];
        Assert.AreEqual(2 * values.Length, wire.Length);
        codec.Encode(values, wire);
        float[] decoded = new float[values.Length];
        codec.Decode(wire, decoded);
        for (int i = 0; i < values.Length; i++)
        {
            double error = Math.Abs((double)decoded[i] - values[i]);
            Assert.IsTrue(error <= Math.Abs(values[i]) * Math.Pow(2, -8), $"index {i}: {values[i]} -> {decoded[i]}");
        }
    }

    [TestMethod]
    [DataRow(0x3F808000u, (ushort)0x3F80, DisplayName = "tie with even kept part stays")]
    [DataRow(0x3F818000u, (ushort)0x3F82, DisplayName = "tie with odd kept part rounds up to even")]
    [DataRow(0x3F808001u, (ushort)0x3F81, DisplayName = "just above the tie rounds up")]
    [DataRow(0x3F817FFFu, (ushort)0x3F81, DisplayName = "just below the tie rounds down")]
    [DataRow(0xBF818000u, (ushort)0xBF82, DisplayName = "negative tie rounds to even")]
    [DataRow(0x3FFF8000u, (ushort)0x4000, DisplayName = "carry into the exponent")]
    public void RoundsToNearestEven(uint floatBits, ushort expected)
    {
        var codec = new BFloat16WireCodec();
        byte[] wire = new byte[2];
        codec.Encode([BitConverter.UInt32BitsToSingle(floatBits)], wire);
        Assert.AreEqual(expected, (ushort)(wire[0] | wire[1] << 8));

        float[] decoded = new float[1];
        codec.Decode(wire, decoded);
        Assert.AreEqual((uint)expected << 16, BitConverter.SingleToUInt32Bits(decoded[0]));
    }

    [TestMethod]
    public void DecodingRefusesNaNAndInfinityFromAPeerNamingTheIndex()
    {
        var codec = new BFloat16WireCodec();
        foreach (ushort bad in new ushort[] { 0x7FC0, 0x7F80, 0xFF80 })
        {
            byte[] wire = [0x80, 0x3F, (byte)bad, (byte)(bad >> 8)];
            var error = Assert.ThrowsExactly<ArgumentException>(() => codec.Decode(wire, new float[2]));
            StringAssert.StartsWith(error.Message, "the value at index 1 decodes to ");
        }
    }

    [TestMethod]
    public void AFiniteValueThatWouldTravelAsInfinityIsRejected()
    {
        var codec = new BFloat16WireCodec();
        var error = Assert.ThrowsExactly<ArgumentException>(() => codec.Encode([1f, -3.4e38f], new byte[4]));
        StringAssert.Contains(error.Message, "index 1");
        StringAssert.Contains(error.Message, "beyond the largest bfloat16");
    }

    [TestMethod]
    public void NaNIsRejectedNamingTheIndex()
    {
        var codec = new BFloat16WireCodec();
        float[] values = [1f, 2f, float.NaN];
        var error = Assert.ThrowsExactly<ArgumentException>(() => codec.Encode(values, new byte[6]));
        Assert.IsTrue(error.Message.Contains("index 2"), error.Message);
    }
}
