using Microsoft.ML.DiLoCo.Communication;

namespace Microsoft.ML.DiLoCo.Tests.Security;

/// <summary>An attacker on the link who records a member's first sealed payload and sends it again in place of the second.</summary>
internal sealed class ReplayingCollective(ICollective inner) : ICollective
{
    private byte[]? _recorded;

    public int Rank => inner.Rank;

    public int Size => inner.Size;

    public Task<ReadOnlyMemory<byte>[]> AllGatherAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        inner.AllGatherAsync(payload, cancellationToken);

    public Task<PeerPayload[]> AllGatherSameLengthAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        if (_recorded is null) _recorded = payload.ToArray();
        else payload = _recorded;
        return inner.AllGatherSameLengthAsync(payload, cancellationToken);
    }

    public void Dispose() => inner.Dispose();
}
