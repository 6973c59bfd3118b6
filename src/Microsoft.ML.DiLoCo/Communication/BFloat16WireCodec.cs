using System.Buffers.Binary;

namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// bfloat16 on the wire: the upper 16 bits of the FP32 value, rounded to nearest with ties to even
/// (as a cast to torch.bfloat16 does), 2 bytes per value, little-endian. A finite value beyond the largest bfloat16
/// (about 3.39e38) would round to infinity, as IEEE rounding prescribes: encoding refuses it (no infinity ever travels),
/// and decoding refuses NaN and infinity bit patterns from a peer.
/// </summary>
internal sealed class BFloat16WireCodec : IWireCodec
{
    /// <inheritdoc/>
    public WireFormat Format => WireFormat.BFloat16;

    /// <inheritdoc/>
    public int EncodedLength(int count)
    {
        WireCodecLengths.ThrowIfNegative(count);
        return WireCodecLengths.ToPayloadLength(2L * count, count);
    }

    /// <inheritdoc/>
    public void Encode(ReadOnlySpan<float> values, Span<byte> destination)
    {
        WireCodecLengths.ThrowIfWrongLength(destination.Length, EncodedLength(values.Length), values.Length, nameof(destination));
        FiniteValueGuard.ThrowIfAnyNonFinite(values, nameof(values));
        for (int i = 0; i < values.Length; i++)
        {
            ushort bits = ToBFloat16Bits(values[i]);
            if ((bits & 0x7F80) == 0x7F80)
            {
                throw new ArgumentException(
                    $"The value at index {i} is {values[i]}, beyond the largest bfloat16 (about 3.39e38): it would travel as infinity.", nameof(values));
            }

            BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(2 * i, 2), bits);
        }
    }

    /// <inheritdoc/>
    public void Decode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        WireCodecLengths.ThrowIfWrongLength(source.Length, EncodedLength(destination.Length), destination.Length, nameof(source));
        for (int i = 0; i < destination.Length; i++)
        {
            uint upper = BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(2 * i, 2));
            destination[i] = BitConverter.UInt32BitsToSingle(upper << 16);
        }

        FiniteValueGuard.ThrowIfAnyDecodedNonFinite(destination); // the bytes may come from a faulty peer
    }

    /// <summary>Rounds a finite float to the nearest bfloat16, ties to even.</summary>
    internal static ushort ToBFloat16Bits(float value)
    {
        // Adding 0x7FFF rounds the dropped half up when it exceeds one half; the extra 1 when the kept
        // part is odd turns an exact half into a round-up to even (and leaves an even kept part alone).
        // The carry may ripple into the exponent, which is exactly the correct rounding to the next binade.
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint lsb = (bits >> 16) & 1;
        return (ushort)((bits + 0x7FFFu + lsb) >> 16);
    }
}
