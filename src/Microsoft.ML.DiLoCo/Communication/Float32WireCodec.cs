using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>IEEE single precision on the wire: 4 bytes per value, little-endian, bit-exact.</summary>
internal sealed class Float32WireCodec : IWireCodec
{
    /// <inheritdoc/>
    public WireFormat Format => WireFormat.Float32;

    /// <inheritdoc/>
    public int EncodedLength(int count)
    {
        WireCodecLengths.ThrowIfNegative(count);
        return WireCodecLengths.ToPayloadLength(4L * count, count);
    }

    /// <inheritdoc/>
    public void Encode(ReadOnlySpan<float> values, Span<byte> destination)
    {
        WireCodecLengths.ThrowIfWrongLength(destination.Length, EncodedLength(values.Length), values.Length, nameof(destination));
        FiniteValueGuard.ThrowIfAnyNonFinite(values, nameof(values));
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(destination);
            return;
        }

        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(destination.Slice(4 * i, 4), values[i]);
        }
    }

    /// <inheritdoc/>
    public void Decode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        WireCodecLengths.ThrowIfWrongLength(source.Length, EncodedLength(destination.Length), destination.Length, nameof(source));
        if (BitConverter.IsLittleEndian)
        {
            source.CopyTo(MemoryMarshal.AsBytes(destination));
        }
        else
        {
            for (int i = 0; i < destination.Length; i++)
            {
                destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source.Slice(4 * i, 4));
            }
        }

        FiniteValueGuard.ThrowIfAnyDecodedNonFinite(destination); // the bytes may come from a faulty peer
    }
}
