namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>
/// One named entry of a checkpoint file to write: <paramref name="Write"/> produces its payload into the writer it is
/// given. <see cref="CheckpointFile"/> calls it twice (once to measure the length and SHA-256 that precede the payload
/// in the file, once to write it), so it must write the same bytes each time; it never builds the payload in memory.
/// </summary>
internal sealed record CheckpointEntry(string Name, Action<PayloadWriter> Write)
{
    /// <summary>An entry whose payload is already in memory (small entries, and tests that craft bytes).</summary>
    public static CheckpointEntry FromBytes(string name, byte[] payload) => new(name, w => w.WriteRaw(payload));

    /// <summary>The payload as bytes (tests and small entries only: this is the in-memory copy the streaming writer avoids).</summary>
    public byte[] ToBytes()
    {
        using var buffer = new MemoryStream();
        Write(new PayloadWriter(buffer));
        return buffer.ToArray();
    }
}
