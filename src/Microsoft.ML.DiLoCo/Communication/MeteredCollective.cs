namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// Wraps any <see cref="ICollective"/> and counts the traffic of its all-gathers (thread-safe).
/// </summary>
/// <remarks>
/// The accounting models an all-gather as every member sending its payload to every other member:
/// <list type="bullet">
/// <item><see cref="BytesSent"/> grows by <c>payload.Length × (Size − 1)</c> when a call is issued.</item>
/// <item><see cref="BytesReceived"/> grows by the sum of the other members' payload lengths when a call completes
/// successfully (our own payload is not received).</item>
/// <item><see cref="LargestMessageBytes"/> is the longest payload this member has sent (0 in a group of one, which sends nothing).</item>
/// <item><see cref="Calls"/> counts issued all-gathers.</item>
/// </list>
/// Disposing the meter disposes the wrapped collective.
/// </remarks>
internal sealed class MeteredCollective : ICollective
{
    private readonly ICollective _inner;
    private readonly int _overheadPerMessage;
    private long _bytesSent;
    private long _bytesReceived;
    private long _largestMessageBytes;
    private long _calls;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The collective to meter.</param>
    /// <param name="overheadPerMessage">Bytes a layer below adds to every equal-length payload (a <see cref="SealedCollective"/>'s
    /// nonce and tag), counted as sent and received: the meter then counts what crosses the link.</param>
    public MeteredCollective(ICollective inner, int overheadPerMessage = 0)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfNegative(overheadPerMessage);
        _inner = inner;
        _overheadPerMessage = overheadPerMessage;
    }

    /// <summary>The wrapped collective.</summary>
    public ICollective Inner => _inner;

    /// <inheritdoc/>
    public int Rank => _inner.Rank;

    /// <inheritdoc/>
    public int Size => _inner.Size;

    /// <summary>Bytes this member sent: the sum over calls of payload length × (Size − 1).</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>Bytes this member received: the sum over completed calls of the other members' payload lengths.</summary>
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    /// <summary>The longest single payload this member sent to another member.</summary>
    public long LargestMessageBytes => Interlocked.Read(ref _largestMessageBytes);

    /// <summary>The number of all-gathers issued.</summary>
    public long Calls => Interlocked.Read(ref _calls);

    /// <inheritdoc/>
    public async Task<ReadOnlyMemory<byte>[]> AllGatherAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        Task<ReadOnlyMemory<byte>[]> gathered = _inner.AllGatherAsync(payload, cancellationToken);
        CountIssued(payload.Length);
        ReadOnlyMemory<byte>[] payloads = await gathered.ConfigureAwait(false);
        long received = 0;
        for (int rank = 0; rank < payloads.Length; rank++)
        {
            if (rank != Rank) received += payloads[rank].Length;
        }

        Interlocked.Add(ref _bytesReceived, received);
        return payloads;
    }

    /// <inheritdoc/>
    public Task<PeerPayload[]> AllGatherSameLengthAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        AllGatherSameLengthAsync(payload, ExchangeLabel.Unlabelled, cancellationToken);

    /// <inheritdoc/>
    public async Task<PeerPayload[]> AllGatherSameLengthAsync(ReadOnlyMemory<byte> payload, ExchangeLabel label, CancellationToken cancellationToken = default)
    {
        Task<PeerPayload[]> gathered = _inner.AllGatherSameLengthAsync(payload, label, cancellationToken);
        CountIssued(payload.Length + _overheadPerMessage);
        PeerPayload[] payloads = await gathered.ConfigureAwait(false);
        Interlocked.Add(ref _bytesReceived, payloads.Where(p => p.Sender != Rank).Sum(p => (long)p.Bytes.Length + _overheadPerMessage));
        return payloads;
    }

    /// <summary>Disposes the wrapped collective.</summary>
    public void Dispose() => _inner.Dispose();

    private void CountIssued(int length)
    {
        Interlocked.Increment(ref _calls);
        int others = Size - 1;
        if (others > 0)
        {
            Interlocked.Add(ref _bytesSent, (long)length * others);
            RaiseLargestMessage(length);
        }
    }

    private void RaiseLargestMessage(long length)
    {
        long current = Interlocked.Read(ref _largestMessageBytes);
        while (length > current)
        {
            long seen = Interlocked.CompareExchange(ref _largestMessageBytes, length, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
