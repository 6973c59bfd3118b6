namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// A simulated network link between one member and the rest of its group: full duplex, the same bandwidth and
/// latency in each direction.
/// </summary>
/// <remarks>
/// The model, per all-gather on a member of a group of M with payloads of n_k bytes:
/// <list type="bullet">
/// <item>outbound: this member sends its payload to each of the M − 1 others, out = n_self·(M − 1) bytes;</item>
/// <item>inbound: it receives every other payload, in = Σ_{k ≠ self} n_k bytes;</item>
/// <item>each direction is a queue: a transfer starts when the previous one in that direction has left the link,
/// occupies it for bytes / bandwidth, and arrives one latency later;</item>
/// <item>the exchange completes when both directions have arrived (and the wrapped collective has completed):
/// delay = max(latency + out / bandwidth, latency + in / bandwidth) when the link is idle.</item>
/// </list>
/// Latency is paid once per message and direction (the M − 1 messages of one all-gather travel in parallel);
/// a group of one sends nothing and waits for nothing.
/// </remarks>
/// <param name="BytesPerSecond">Bandwidth per direction; <see cref="double.PositiveInfinity"/> = unlimited.</param>
/// <param name="LatencySeconds">One-way latency per message.</param>
internal sealed record LinkModel(double BytesPerSecond, double LatencySeconds)
{
    /// <summary>A link from the options' units: bits per second (0 = unlimited) and milliseconds.</summary>
    public static LinkModel FromBitsPerSecond(double bitsPerSecond, double latencyMilliseconds) =>
        new(bitsPerSecond > 0 ? bitsPerSecond / 8 : double.PositiveInfinity, latencyMilliseconds / 1000);

    /// <summary>Seconds the link is busy with <paramref name="bytes"/> in one direction (latency not included).</summary>
    public double SerializationSeconds(long bytes) => bytes / BytesPerSecond;
}
