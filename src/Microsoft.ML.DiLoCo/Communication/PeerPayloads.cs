namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>The length checks every collective applies to the payloads of an equal-length all-gather.</summary>
internal static class PeerPayloads
{
    /// <summary>Throws when <paramref name="declared"/> is not <paramref name="expected"/> (call it before allocating anything for the payload).</summary>
    public static void ThrowIfLengthDiffers(int sender, string senderName, long declared, long expected, long? step = null, int? fragment = null)
    {
        if (declared == expected) return;
        throw new PeerPayloadException(sender, senderName,
            $"it declared {declared:N0} bytes where every payload of this exchange has {expected:N0} (this worker's own); refused before " +
            "anything was allocated for it. The workers disagree on the model, the fragment schedule, the wire format or NonFiniteValuePolicy, " +
            "or the peer is faulty.", step, fragment);
    }

    /// <summary>Returns <paramref name="gathered"/> after checking that every payload is <paramref name="expected"/> bytes long.</summary>
    public static PeerPayload[] WithLength(PeerPayload[] gathered, int expected)
    {
        foreach (var p in gathered) ThrowIfLengthDiffers(p.Sender, $"worker {p.Sender}", p.Bytes.Length, expected);
        return gathered;
    }

    /// <summary>The bytes alone, in the same order (for the plain all-gather).</summary>
    public static async Task<ReadOnlyMemory<byte>[]> BytesOf(Task<PeerPayload[]> gathered) =>
        Array.ConvertAll(await gathered.ConfigureAwait(false), p => p.Bytes);

    /// <summary>The default equal-length all-gather: positions are ranks (no member ever left), checked once gathered.</summary>
    public static async Task<PeerPayload[]> GatherThenCheck(Task<ReadOnlyMemory<byte>[]> gathered, int expected)
    {
        var payloads = await gathered.ConfigureAwait(false);
        return WithLength(payloads.Select((bytes, rank) => new PeerPayload(rank, bytes)).ToArray(), expected);
    }
}
