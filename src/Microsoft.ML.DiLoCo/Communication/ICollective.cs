namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>
/// One member of a group of workers that exchange opaque byte payloads. It knows nothing about models:
/// the engine encodes tensors into bytes before calling it. Every member must issue the same calls in
/// the same order (a mismatch deadlocks real collectives).
/// </summary>
public interface ICollective : IDisposable
{
    /// <summary>This member's index, 0 … Size − 1.</summary>
    int Rank { get; }

    /// <summary>The number of members.</summary>
    int Size { get; }

    /// <summary>
    /// Non-blocking all-gather: every member contributes one payload (sizes may differ between members);
    /// the task completes with all payloads in rank order (this member's own included). The caller must not
    /// modify <paramref name="payload"/> until the task completes.
    /// </summary>
    Task<ReadOnlyMemory<byte>[]> AllGatherAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default);
}
