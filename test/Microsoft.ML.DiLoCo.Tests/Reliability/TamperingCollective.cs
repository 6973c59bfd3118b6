using System.Buffers.Binary;
using Microsoft.ML.DiLoCo.Communication;

namespace Microsoft.ML.DiLoCo.Tests.Reliability;

/// <summary>
/// A faulty peer: wraps one member's collective and changes what it sends on its first call (the first fragment sync).
/// Linked into the MPI runner too, so the same peer misbehaves in-process and across ranks.
/// </summary>
internal sealed class TamperingCollective(ICollective inner, Func<byte[], byte[]> attack) : ICollective
{
    private long _calls;

    public int Rank => inner.Rank;

    public int Size => inner.Size;

    public Task<ReadOnlyMemory<byte>[]> AllGatherAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        inner.AllGatherAsync(Tampered(payload), cancellationToken);

    public Task<PeerPayload[]> AllGatherSameLengthAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        inner.AllGatherSameLengthAsync(Tampered(payload), cancellationToken);

    public void Dispose() => inner.Dispose();

    /// <summary>The attack called <paramref name="name"/>, on a payload whose codec bytes start at <paramref name="offset"/>
    /// (1 under SkipContribution: the flag byte comes first).</summary>
    /// <remarks>nan / inf: the first FP32 value (or FP4 block scale) becomes NaN / +∞; bf16inf: the first BF16 value becomes +∞;
    /// large: 1 MiB is appended; short: the last byte is cut off; flip: the byte at the offset has its low bit flipped; sender0: the
    /// int32 at the offset becomes 0 (a sealed payload's nonce names worker 0 as its sender); huge1e38: every FP32 value becomes 1e38 (finite, but an
    /// outer step can overflow it); huge3e38: every FP32 value becomes 3e38 (two of them overflow a sum).</remarks>
    public static Func<byte[], byte[]> Attack(string name, int offset = 0) => name switch
    {
        "nan" => p => WriteFloat(p, offset, float.NaN),
        "inf" => p => WriteFloat(p, offset, float.PositiveInfinity),
        "bf16inf" => p => { BinaryPrimitives.WriteUInt16LittleEndian(p.AsSpan(offset), 0x7F80); return p; },
        "large" => p => p.Concat(new byte[1 << 20]).ToArray(),
        "short" => p => p[..^1],
        "flip" => p => { p[offset] ^= 1; return p; },
        "sender0" => p => { BinaryPrimitives.WriteInt32LittleEndian(p.AsSpan(offset), 0); return p; },
        "huge1e38" => p => FillFloats(p, offset, 1e38f),
        "huge3e38" => p => FillFloats(p, offset, 3e38f),
        _ => throw new ArgumentException($"Unknown attack '{name}'.", nameof(name)),
    };

    private ReadOnlyMemory<byte> Tampered(ReadOnlyMemory<byte> payload) =>
        Interlocked.Increment(ref _calls) == 1 ? attack(payload.ToArray()) : payload;

    private static byte[] WriteFloat(byte[] payload, int offset, float value)
    {
        BinaryPrimitives.WriteSingleLittleEndian(payload.AsSpan(offset), value);
        return payload;
    }

    private static byte[] FillFloats(byte[] payload, int offset, float value)
    {
        for (int i = offset; i + 4 <= payload.Length; i += 4) WriteFloat(payload, i, value);
        return payload;
    }
}
