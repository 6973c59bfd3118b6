namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// Where the values of a <see cref="TensorData"/> read from a file live (a verified checkpoint's entries): the engine's
/// state records stay free of the checkpoint format, which depends on them and not back.
/// </summary>
internal interface ITensorValueSource
{
    /// <summary>Fills <paramref name="destination"/> with the bytes at <paramref name="offset"/>.</summary>
    void ReadAt(long offset, Span<byte> destination);
}
