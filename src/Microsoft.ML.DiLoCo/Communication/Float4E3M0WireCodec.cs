using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// 4-bit floats E3M0 (sign, 3 exponent bits, no mantissa) with one FP32 scale per block: ALGORITHM.md's definition.
/// </summary>
/// <remarks>
/// <para>Values are cut into blocks of <see cref="BlockSize"/> (B) values; the last block may be shorter.
/// Each block has a scale s = max|x| over the block. A 4-bit code is <c>sign &lt;&lt; 3 | e</c>:
/// e = 0 is zero, e = 1 … 7 is the magnitude s·2^(e − 7), so e = 7 is exactly s and e = 1 is s·2^−6.</para>
/// <para>Rounding, on r = |x| / s: r ≥ 1.5·2^k (k = −6 … −1) rounds up to 2^(k+1), anything below that threshold
/// down to 2^k, so an exact threshold goes to the larger magnitude; r in [2^−7, 1.5·2^−6) becomes e = 1;
/// r &lt; 2^−7 flushes to zero (2^−7 is itself the midpoint between 0 and the smallest magnitude, so it is the
/// same nearest-value rule). Zero keeps no sign: code 8 is never written and decodes to +0.
/// The largest element of a block decodes to exactly ±s; an all-zero block has s = 0 and all codes 0.
/// For |x| ≥ s·2^−6 the relative error is at most 1/3.</para>
/// <para>Layout, block after block: the scale as a little-endian FP32 (4 bytes), then the block's codes, two per
/// byte, the first of each pair in the low nibble. Each block is packed on its own, so a block of odd length
/// ends with one unused (zero) nibble. Hence for n values, with q = n / B whole blocks and r = n mod B:
/// <c>EncodedLength(n) = q·(4 + ⌈B/2⌉) + (r &gt; 0 ? 4 + ⌈r/2⌉ : 0)</c>.</para>
/// </remarks>
internal sealed class Float4E3M0WireCodec : IWireCodec
{
    private const int ScaleBytes = 4;
    private const int SignBit = 8;
    private const int LargestMagnitudeCode = 7;

    // Multiplying by (1/s)(1 + 2^-40) instead of dividing by s: the double reciprocal and product are off by
    // at most ~2^-52 relatively, while a float ratio |x|/s that is not exactly on a threshold (1.5·2^k or
    // 2^-7) is at least ~2^-26 away from it. The nudge of 2^-40 therefore sends exact ties up, as the rule
    // says, and cannot move any other value across a threshold.
    private const double TieNudge = 1.0 + 1.0 / (1L << 40);

    /// <summary>Creates the codec.</summary>
    /// <param name="blockSize">Values per scale (B), at least 1; the paper-style default is 128.</param>
    public Float4E3M0WireCodec(int blockSize = 128)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        BlockSize = blockSize;
    }

    /// <summary>Values per block (B): each block carries its own FP32 scale.</summary>
    public int BlockSize { get; }

    /// <inheritdoc/>
    public WireFormat Format => WireFormat.Float4E3M0;

    /// <inheritdoc/>
    public int EncodedLength(int count)
    {
        WireCodecLengths.ThrowIfNegative(count);
        long wholeBlocks = count / BlockSize;
        int rest = count % BlockSize;
        long bytes = wholeBlocks * BlockBytes(BlockSize) + (rest > 0 ? BlockBytes(rest) : 0);
        return WireCodecLengths.ToPayloadLength(bytes, count);
    }

    /// <inheritdoc/>
    public void Encode(ReadOnlySpan<float> values, Span<byte> destination)
    {
        WireCodecLengths.ThrowIfWrongLength(destination.Length, EncodedLength(values.Length), values.Length, nameof(destination));
        FiniteValueGuard.ThrowIfAnyNonFinite(values, nameof(values));
        for (int start = 0; start < values.Length; start += BlockSize)
        {
            ReadOnlySpan<float> block = values.Slice(start, Math.Min(BlockSize, values.Length - start));
            int blockBytes = BlockBytes(block.Length);
            EncodeBlock(block, destination.Slice(0, blockBytes));
            destination = destination.Slice(blockBytes);
        }
    }

    /// <inheritdoc/>
    public void Decode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        WireCodecLengths.ThrowIfWrongLength(source.Length, EncodedLength(destination.Length), destination.Length, nameof(source));
        Span<float> magnitudes = stackalloc float[16];
        for (int start = 0; start < destination.Length; start += BlockSize)
        {
            Span<float> block = destination.Slice(start, Math.Min(BlockSize, destination.Length - start));
            float scale = BinaryPrimitives.ReadSingleLittleEndian(source);
            if (!float.IsFinite(scale) || scale < 0)
            {
                throw new ArgumentException( // a clause the engine quotes after the sender's name: no parameter name
                    $"the block starting at value {start} has scale {scale}; a scale must be finite and non-negative, so the payload is corrupt.");
            }

            FillDecodingTable(scale, magnitudes);
            ReadOnlySpan<byte> codes = source.Slice(ScaleBytes, (block.Length + 1) / 2);
            int pairs = block.Length / 2;
            for (int i = 0; i < pairs; i++)
            {
                int packed = codes[i];
                block[2 * i] = magnitudes[packed & 0xF];
                block[2 * i + 1] = magnitudes[packed >> 4];
            }

            if ((block.Length & 1) != 0)
            {
                block[^1] = magnitudes[codes[pairs] & 0xF];
            }

            source = source.Slice(ScaleBytes + codes.Length);
        }
    }

    private static int BlockBytes(int valuesInBlock) => ScaleBytes + (valuesInBlock + 1) / 2;

    private static void EncodeBlock(ReadOnlySpan<float> block, Span<byte> destination)
    {
        float scale = MaxAbs(block);
        BinaryPrimitives.WriteSingleLittleEndian(destination, scale);
        Span<byte> codes = destination.Slice(ScaleBytes);
        if (scale == 0)
        {
            codes.Clear();
            return;
        }

        double inverseScale = 1.0 / scale * TieNudge;
        int pairs = block.Length / 2;
        for (int i = 0; i < pairs; i++)
        {
            codes[i] = (byte)(Code(block[2 * i], inverseScale) | (Code(block[2 * i + 1], inverseScale) << 4));
        }

        if ((block.Length & 1) != 0)
        {
            codes[pairs] = (byte)Code(block[^1], inverseScale);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Code(float value, double inverseScale)
    {
        // r = |x|/s = m·2^E with m in [1, 2); r ≥ 1.5·2^E exactly when the top mantissa bit is set, so the
        // nearest power of two is 2^(E + top bit): no logarithms, no loops.
        double ratio = Math.Abs((double)value) * inverseScale;
        long bits = BitConverter.DoubleToInt64Bits(ratio);
        int exponent = (int)(bits >> 52) - 1023;
        if (exponent < -7)
        {
            return 0; // r < 2^-7 (or r = 0): flush to zero
        }

        int roundedExponent = exponent + (int)((bits >> 51) & 1);
        int magnitude = Math.Clamp(roundedExponent + 7, 1, LargestMagnitudeCode);
        int sign = (int)(BitConverter.SingleToUInt32Bits(value) >> 31) * SignBit;
        return magnitude | sign;
    }

    private static void FillDecodingTable(float scale, Span<float> magnitudes)
    {
        magnitudes[0] = 0f;
        magnitudes[SignBit] = 0f;
        for (int e = 1; e <= LargestMagnitudeCode; e++)
        {
            float magnitude = MathF.ScaleB(scale, e - LargestMagnitudeCode);
            magnitudes[e] = magnitude;
            magnitudes[SignBit | e] = -magnitude;
        }
    }

    private static float MaxAbs(ReadOnlySpan<float> block)
    {
        int i = 0;
        float max = 0f;
        if (Vector.IsHardwareAccelerated && block.Length >= Vector<float>.Count)
        {
            var vectorMax = Vector<float>.Zero;
            for (; i <= block.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                vectorMax = Vector.Max(vectorMax, Vector.Abs(new Vector<float>(block.Slice(i, Vector<float>.Count))));
            }

            for (int lane = 0; lane < Vector<float>.Count; lane++)
            {
                max = Math.Max(max, vectorMax[lane]);
            }
        }

        for (; i < block.Length; i++)
        {
            max = Math.Max(max, Math.Abs(block[i]));
        }

        return max;
    }
}
