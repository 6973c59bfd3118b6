namespace Microsoft.ML.DiLoCo.Communication;

/// <summary>Argument checks shared by the codecs: value counts and buffer lengths.</summary>
internal static class WireCodecLengths
{
    /// <summary>Returns <paramref name="bytes"/> as an int, or throws naming the count that is too large for one payload.</summary>
    public static int ToPayloadLength(long bytes, int count)
    {
        if (bytes > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count,
                $"Encoding {count} values needs {bytes} bytes, more than one payload can hold ({Array.MaxLength}).");
        }

        return (int)bytes;
    }

    /// <summary>Throws when a count is negative.</summary>
    public static void ThrowIfNegative(int count) => ArgumentOutOfRangeException.ThrowIfNegative(count);

    /// <summary>Throws when an encoded buffer is not exactly as long as the values need.</summary>
    public static void ThrowIfWrongLength(int actual, int expected, int count, string paramName)
    {
        if (actual != expected)
        {
            throw new ArgumentException(
                $"{paramName} has {actual} bytes; {count} values take exactly {expected} bytes in this format.", paramName);
        }
    }
}
