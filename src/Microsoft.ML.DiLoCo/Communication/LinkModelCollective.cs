using System.Diagnostics;

namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// Wraps any <see cref="ICollective"/> and delays each all-gather's completion as if this member's traffic
/// crossed a <see cref="LinkModel"/>, so that slow-link experiments run on one machine. The exchange completes at
/// the later of the wrapped collective's completion and the link model's arrival time. Thread-safe.
/// Disposing it disposes the wrapped collective.
/// </summary>
internal sealed class LinkModelCollective : ICollective
{
    private readonly ICollective _inner;
    private readonly object _gate = new();
    private readonly long _origin = Stopwatch.GetTimestamp();
    private double _outboundFreeAt;   // seconds since _origin when the outbound direction is idle again
    private double _inboundFreeAt;

    /// <summary>Wraps <paramref name="inner"/> behind <paramref name="link"/>.</summary>
    public LinkModelCollective(ICollective inner, LinkModel link)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(link);
        if (!(link.BytesPerSecond > 0)) throw new ArgumentOutOfRangeException(nameof(link), link.BytesPerSecond, "The link's bandwidth must be > 0 bytes/s.");
        if (!(link.LatencySeconds >= 0) || double.IsInfinity(link.LatencySeconds))
            throw new ArgumentOutOfRangeException(nameof(link), link.LatencySeconds, "The link's latency must be a finite number of seconds ≥ 0.");
        _inner = inner;
        Link = link;
    }

    /// <summary>The simulated link.</summary>
    public LinkModel Link { get; }

    /// <inheritdoc/>
    public int Rank => _inner.Rank;

    /// <inheritdoc/>
    public int Size => _inner.Size;

    /// <inheritdoc/>
    public async Task<ReadOnlyMemory<byte>[]> AllGatherAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        double issued = Now();
        var gathered = _inner.AllGatherAsync(payload, cancellationToken);
        if (Size == 1) return await gathered.ConfigureAwait(false);
        double outboundArrives = Send(issued, payload.Length);
        var payloads = await gathered.ConfigureAwait(false);
        long inbound = 0;
        for (int r = 0; r < payloads.Length; r++) if (r != Rank) inbound += payloads[r].Length;
        await Receive(issued, outboundArrives, inbound, cancellationToken).ConfigureAwait(false);
        return payloads;
    }

    /// <inheritdoc/>
    public Task<PeerPayload[]> AllGatherSameLengthAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        AllGatherSameLengthAsync(payload, ExchangeLabel.Unlabelled, cancellationToken);

    /// <inheritdoc/>
    public async Task<PeerPayload[]> AllGatherSameLengthAsync(ReadOnlyMemory<byte> payload, ExchangeLabel label, CancellationToken cancellationToken = default)
    {
        double issued = Now();
        var gathered = _inner.AllGatherSameLengthAsync(payload, label, cancellationToken);
        if (Size == 1) return await gathered.ConfigureAwait(false);
        double outboundArrives = Send(issued, payload.Length);
        var payloads = await gathered.ConfigureAwait(false);
        await Receive(issued, outboundArrives, payloads.Where(p => p.Sender != Rank).Sum(p => (long)p.Bytes.Length), cancellationToken).ConfigureAwait(false);
        return payloads;
    }

    /// <summary>Queues this member's payload on the outbound direction; returns when it has reached the others (seconds since the origin).</summary>
    private double Send(double issued, int length)
    {
        lock (_gate)
        {
            double start = Math.Max(issued, _outboundFreeAt);
            _outboundFreeAt = start + Link.SerializationSeconds((long)length * (Size - 1));
            return _outboundFreeAt + Link.LatencySeconds;
        }
    }

    /// <summary>Waits until the others' <paramref name="inbound"/> bytes and this member's own payload have crossed the link.</summary>
    private async Task Receive(double issued, double outboundArrives, long inbound, CancellationToken cancellationToken)
    {
        double inboundArrives;
        lock (_gate)
        {
            // The others' payloads could start arriving when they were issued, which we approximate by our own issue time.
            double start = Math.Max(issued, _inboundFreeAt);
            _inboundFreeAt = start + Link.SerializationSeconds(inbound);
            inboundArrives = _inboundFreeAt + Link.LatencySeconds;
        }

        // Task.Delay works in whole milliseconds (it truncates) and its timer may fire a little early, so wait in
        // rounded-up steps until the modelled arrival time has really passed: the link never delivers early.
        double arrives = Math.Max(outboundArrives, inboundArrives);
        for (double remaining = arrives - Now(); remaining > 0; remaining = arrives - Now())
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(remaining * 1000)), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Disposes the wrapped collective.</summary>
    public void Dispose() => _inner.Dispose();

    private double Now() => Stopwatch.GetElapsedTime(_origin).TotalSeconds;
}
