namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>Turns FP32 values into the bytes that travel, and back. Stateless and thread-safe.</summary>
internal interface IWireCodec
{
    /// <summary>The format this codec writes.</summary>
    WireFormat Format { get; }

    /// <summary>Bytes needed to encode <paramref name="count"/> values.</summary>
    int EncodedLength(int count);

    /// <summary>Encodes <paramref name="values"/> into <paramref name="destination"/> (exactly EncodedLength bytes).
    /// Throws <see cref="ArgumentException"/> naming the index of a NaN or infinite value.</summary>
    void Encode(ReadOnlySpan<float> values, Span<byte> destination);

    /// <summary>Decodes <paramref name="source"/> into <paramref name="destination"/> (its length is the value count).
    /// Throws <see cref="ArgumentException"/> when the bytes decode to a NaN or infinite value, or hold a corrupt scale: they may
    /// come from a faulty peer, and nothing non-finite may reach an average.</summary>
    void Decode(ReadOnlySpan<byte> source, Span<float> destination);
}
