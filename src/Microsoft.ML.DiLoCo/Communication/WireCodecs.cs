namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>Picks the codec for a <see cref="WireFormat"/>.</summary>
internal static class WireCodecs
{
    /// <summary>Creates the codec that writes <paramref name="format"/>.</summary>
    /// <param name="format">The wire format.</param>
    /// <param name="float4BlockSize">Values per FP32 scale for <see cref="WireFormat.Float4E3M0"/> (at least 1); ignored otherwise.</param>
    public static IWireCodec Create(WireFormat format, int float4BlockSize = 128) => format switch
    {
        WireFormat.Float32 => new Float32WireCodec(),
        WireFormat.BFloat16 => new BFloat16WireCodec(),
        WireFormat.Float4E3M0 => new Float4E3M0WireCodec(float4BlockSize),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format,
            $"Unknown wire format; expected one of {string.Join(", ", Enum.GetNames<WireFormat>())}."),
    };
}
