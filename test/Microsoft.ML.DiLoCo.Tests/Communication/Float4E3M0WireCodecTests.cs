using System.Buffers.Binary;
using Microsoft.ML.DiLoCo.Communication;

namespace Microsoft.ML.DiLoCo.Tests.Communication;

[TestClass]
public sealed class Float4E3M0WireCodecTests
{
    private static float[] RoundTrip(Float4E3M0WireCodec codec, float[] values, out byte[] wire)
    {
        wire = new byte[codec.EncodedLength(values.Length)];
        codec.Encode(values, wire);
        float[] decoded = new float[values.Length];
        codec.Decode(wire, decoded);
        return decoded;
    }

    private static float RoundTripOne(float value, float scale)
    {
        // The scale element fixes s for the block; the value under test is quantised against it.
        float[] decoded = RoundTrip(new Float4E3M0WireCodec(), [scale, value], out _);
        Assert.AreEqual(scale, decoded[0]);
        return decoded[1];
    }

    [TestMethod]
    [DataRow(1f)]
    [DataRow(3.7f)]
    [DataRow(1e-30f)]
    [DataRow(2.5e30f)]
    public void RepresentableValuesRoundTripExactlyWithSigns(float scale)
    {
        var values = new List<float> { 0f };
        for (int e = 1; e <= 7; e++)
        {
            values.Add(MathF.ScaleB(scale, e - 7));
            values.Add(-MathF.ScaleB(scale, e - 7));
        }

        float[] decoded = RoundTrip(new Float4E3M0WireCodec(), values.ToArray(), out _);
        CollectionAssert.AreEqual(values, decoded);
    }

    [TestMethod]
    public void LargestElementDecodesToExactlyTheScaleWithItsSign()
    {
        var random = new Random(3);
        float[] values = new float[128];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(random.NextDouble() * 2 - 1);
        }

        values[77] = -1.2345678f;
        float[] decoded = RoundTrip(new Float4E3M0WireCodec(), values, out byte[] wire);
        Assert.AreEqual(-1.2345678f, decoded[77]);
        Assert.AreEqual(1.2345678f, BinaryPrimitives.ReadSingleLittleEndian(wire));
    }

    [TestMethod]
    public void ZerosAndAllZeroBlocksDecodeToZero()
    {
        var codec = new Float4E3M0WireCodec(blockSize: 8);
        float[] values = [0, -0f, 0, 0, 0, 0, 0, 0, /* second block */ 0, 5f, -0f, 0, 0, -5f, 0, 0];
        float[] decoded = RoundTrip(codec, values, out byte[] wire);

        Assert.AreEqual(0f, BinaryPrimitives.ReadSingleLittleEndian(wire), "all-zero block has scale 0");
        CollectionAssert.AreEqual(new byte[4], wire[4..8], "all-zero block has all codes 0");
        // Zero carries no sign: -0 becomes code 0, not code 8 (value 10 is the low nibble of block 2's second code byte).
        Assert.AreEqual(0, wire[8 + 4 + 1] & 0xF);
        CollectionAssert.AreEqual(new float[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 5f, 0, 0, 0, -5f, 0, 0 }, decoded);
    }

    [TestMethod]
    public void LastPartialBlockHasItsOwnScale()
    {
        var codec = new Float4E3M0WireCodec(blockSize: 128);
        float[] values = new float[300];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (i % 2 == 0 ? 1 : -1) * (i < 256 ? 100f : 0.5f);
        }

        float[] decoded = RoundTrip(codec, values, out byte[] wire);
        Assert.AreEqual(2 * (4 + 64) + 4 + 22, wire.Length);
        Assert.AreEqual(0.5f, BinaryPrimitives.ReadSingleLittleEndian(wire.AsSpan(2 * 68)));
        CollectionAssert.AreEqual(values, decoded);
    }

    [TestMethod]
    public void OddBlockSizesPackEachBlockOnItsOwn()
    {
        var codec = new Float4E3M0WireCodec(blockSize: 5);
        Assert.AreEqual(2 * (4 + 3) + 4 + 2, codec.EncodedLength(13));
        float[] values = [1, -0.5f, 0.25f, 0.125f, -1, /**/ 8, 4, -2, 1, 0.5f, /**/ -3, 0.75f, 3];
        float[] decoded = RoundTrip(codec, values, out _);
        CollectionAssert.AreEqual(values, decoded);
    }

    [TestMethod]
    public void EncodedLengthMatchesTheWrittenLayout()
    {
        foreach (int blockSize in new[] { 1, 2, 7, 128 })
        {
            var codec = new Float4E3M0WireCodec(blockSize);
            foreach (int count in new[] { 0, 1, 2, 127, 128, 129, 300, 1000 })
            {
                int blocks = (count + blockSize - 1) / blockSize;
                int codeBytes = 0;
                for (int b = 0; b < blocks; b++)
                {
                    codeBytes += (Math.Min(blockSize, count - b * blockSize) + 1) / 2;
                }

                Assert.AreEqual(4 * blocks + codeBytes, codec.EncodedLength(count), $"B={blockSize}, n={count}");
                // Encode and Decode demand exactly that length.
                codec.Encode(new float[count], new byte[codec.EncodedLength(count)]);
                Assert.ThrowsExactly<ArgumentException>(() => codec.Encode(new float[count], new byte[codec.EncodedLength(count) + 1]));
            }
        }

        Assert.AreEqual(128 * (4 + 64), new Float4E3M0WireCodec().EncodedLength(128 * 128));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new Float4E3M0WireCodec(0));
    }

    [TestMethod]
    [DataRow(1f)]
    [DataRow(1.3f)]
    [DataRow(0.0071f)]
    [DataRow(3.173211097717285f)] // exact ties whose ratio x·(1/s) computes a hair below 1.5·2^k in double
    public void RoundsToTheNearerPowerOfTwoAtOnePointFiveTimes(float scale)
    {
        for (int k = -6; k <= -1; k++)
        {
            double threshold = 1.5 * Math.Pow(2, k) * scale; // exact in double
            float below = (float)threshold;
            if (below >= threshold)
            {
                below = MathF.BitDecrement(below);
            }

            float above = MathF.BitIncrement(below);
            float lower = MathF.ScaleB(scale, k);
            float upper = MathF.ScaleB(scale, k + 1);
            Assert.AreEqual(lower, RoundTripOne(below, scale), $"k={k}, just below the threshold");
            // An exact tie (the threshold is a float) rounds up to the larger magnitude.
            Assert.AreEqual(upper, RoundTripOne(above, scale), $"k={k}, at or just above the threshold");
            Assert.AreEqual(-lower, RoundTripOne(-below, scale), $"k={k}, negative");
            if ((double)above == threshold)
            {
                Assert.AreEqual(upper, RoundTripOne(MathF.BitIncrement(above), scale), $"k={k}, above an exact tie");
            }
        }
    }

    [TestMethod]
    [DataRow(1f)]
    [DataRow(1.3f)]
    public void ValuesBelowTwoToTheMinusSevenTimesTheScaleFlushToZero(float scale)
    {
        double limit = Math.Pow(2, -7) * scale;
        float atLimit = (float)limit;
        float below = atLimit >= limit ? MathF.BitDecrement(atLimit) : atLimit;
        float notBelow = atLimit >= limit ? atLimit : MathF.BitIncrement(atLimit);
        float smallest = MathF.ScaleB(scale, -6);

        Assert.AreEqual(0f, RoundTripOne(below, scale));
        Assert.AreEqual(0f, RoundTripOne(-below, scale));
        Assert.AreEqual(0f, RoundTripOne(float.Epsilon, scale));
        Assert.AreEqual(smallest, RoundTripOne(notBelow, scale));
        Assert.AreEqual(-smallest, RoundTripOne(-notBelow, scale));
        // Everything in [s·2^-7, 1.5·s·2^-6) goes to the smallest magnitude.
        Assert.AreEqual(smallest, RoundTripOne((float)(1.49 * Math.Pow(2, -6) * scale), scale));
    }

    [TestMethod]
    public void NonFiniteValuesAreRejectedNamingTheIndex()
    {
        var codec = new Float4E3M0WireCodec();
        foreach ((float bad, int index) in new[] { (float.NaN, 3), (float.PositiveInfinity, 200), (float.NegativeInfinity, 0) })
        {
            float[] values = new float[300];
            values[index] = bad;
            var error = Assert.ThrowsExactly<ArgumentException>(() => codec.Encode(values, new byte[codec.EncodedLength(300)]));
            Assert.AreEqual("values", error.ParamName);
            Assert.IsTrue(error.Message.Contains($"index {index}"), error.Message);
        }
    }

    [TestMethod]
    public void RandomDataStaysWithinAThirdOfEachMagnitude()
    {
        var random = new Random(11);
        const int BlockSize = 128;
        float[] values = new float[64 * BlockSize + 37];
        for (int i = 0; i < values.Length; i++)
        {
            // Gaussian-ish values whose spread changes from block to block.
            double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            values[i] = (float)(gaussian * Math.Pow(10, (i / BlockSize) % 9 - 4));
        }

        float[] decoded = RoundTrip(new Float4E3M0WireCodec(BlockSize), values, out _);
        int checkedValues = 0;
        for (int start = 0; start < values.Length; start += BlockSize)
        {
            int end = Math.Min(values.Length, start + BlockSize);
            float scale = 0;
            for (int i = start; i < end; i++)
            {
                scale = Math.Max(scale, Math.Abs(values[i]));
            }

            for (int i = start; i < end; i++)
            {
                double magnitude = Math.Abs(values[i]);
                if (magnitude >= scale * Math.Pow(2, -6))
                {
                    Assert.IsTrue(Math.Abs(decoded[i] - (double)values[i]) <= magnitude / 3 * (1 + 1e-6), $"index {i}: {values[i]} -> {decoded[i]}");
                    Assert.AreEqual(Math.Sign(values[i]), Math.Sign(decoded[i]), $"index {i}");
                    checkedValues++;
                }
                else if (magnitude < scale * Math.Pow(2, -7))
                {
                    Assert.AreEqual(0f, decoded[i], $"index {i}");
                }

                // Every decoded magnitude is 0 or s·2^(e-7) for some e in 1..7.
                double exponent = Math.Log2(Math.Abs(decoded[i]) / scale);
                Assert.IsTrue(decoded[i] == 0 || (exponent == Math.Round(exponent) && exponent is >= -6 and <= 0), $"index {i}: {decoded[i]}");
            }
        }

        Assert.IsTrue(checkedValues > values.Length / 2, $"only {checkedValues} values were in range");
    }

    [TestMethod]
    public void CorruptScaleIsRejected()
    {
        var codec = new Float4E3M0WireCodec(blockSize: 4);
        byte[] wire = new byte[codec.EncodedLength(4)];
        BinaryPrimitives.WriteSingleLittleEndian(wire, float.NaN);
        Assert.ThrowsExactly<ArgumentException>(() => codec.Decode(wire, new float[4]));
    }
}
