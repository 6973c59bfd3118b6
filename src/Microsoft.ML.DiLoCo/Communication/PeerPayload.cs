namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>One member's part of a gathered round: who sent it and its bytes (read-only, shared between members).</summary>
/// <param name="Sender">The sender's rank in its group: the worker index (never renumbered when a member leaves).</param>
/// <param name="Bytes">The payload as it arrived.</param>
public readonly record struct PeerPayload(int Sender, ReadOnlyMemory<byte> Bytes);
