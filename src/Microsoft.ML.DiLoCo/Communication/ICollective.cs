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

    /// <summary>
    /// Non-blocking all-gather of payloads that every member sends with the same length as this one (the engine's exchanges:
    /// one fragment, one codec). A payload whose declared length differs is refused before anything is allocated for it: the
    /// task fails with a <see cref="PeerPayloadException"/> naming the sender. Each result carries its sender's rank.
    /// </summary>
    /// <remarks>
    /// The default gathers with <see cref="AllGatherAsync"/> and checks afterwards, taking positions as ranks: right for a
    /// collective whose payloads are already in memory and whose members never leave. Collectives that receive bytes from
    /// other processes, or whose members can leave, override it.
    /// </remarks>
    Task<PeerPayload[]> AllGatherSameLengthAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        PeerPayloads.GatherThenCheck(AllGatherAsync(payload, cancellationToken), payload.Length);

    /// <summary>
    /// <see cref="AllGatherSameLengthAsync(ReadOnlyMemory{byte}, CancellationToken)"/> for the exchange <paramref name="label"/> names.
    /// Decorators pass the label on; a collective that seals payloads binds it into them; the others ignore it (the default).
    /// </summary>
    Task<PeerPayload[]> AllGatherSameLengthAsync(ReadOnlyMemory<byte> payload, ExchangeLabel label, CancellationToken cancellationToken = default) =>
        AllGatherSameLengthAsync(payload, cancellationToken);
}
