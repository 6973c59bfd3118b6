using System.Buffers;
using System.Text.Unicode;

namespace Microsoft.ML.DiLoCo.Tokenization;

/// <summary>
/// The UTF-8 bytes of UTF-16 text as byte-token ids, written straight into an id array (no byte[] of the whole text).
/// Ill-formed UTF-16 (a lone or reversed surrogate) becomes U+FFFD (bytes EF BF BD), exactly as
/// <see cref="System.Text.Encoding.UTF8"/> encodes it; every other char, U+0000, U+FFFE and U+FFFF included, is
/// encoded as itself.
/// </summary>
internal static class Utf8Bytes
{
    private const int ChunkChars = 16 << 10;

    /// <summary>Number of UTF-8 bytes of <paramref name="text"/>.</summary>
    /// <exception cref="ArgumentException">The text has more bytes than one array can hold.</exception>
    public static int Count(ReadOnlySpan<char> text)
    {
        long total = 0;
        while (!text.IsEmpty)
        {
            int length = Math.Min(ChunkChars, text.Length);
            // Never split a surrogate pair between chunks: it would count as two replacement characters.
            if (length < text.Length && char.IsHighSurrogate(text[length - 1])) length--;
            total += System.Text.Encoding.UTF8.GetByteCount(text[..length]);
            text = text[length..];
        }

        if (total > Array.MaxLength)
            throw new ArgumentException($"The text has {total} UTF-8 bytes, more tokens than one array can hold ({Array.MaxLength}).", nameof(text));
        return (int)total;
    }

    /// <summary>Writes the UTF-8 bytes of <paramref name="text"/> into <paramref name="ids"/>, which holds exactly <see cref="Count"/> of them.</summary>
    public static void Write(ReadOnlySpan<char> text, Span<int> ids)
    {
        Span<byte> bytes = stackalloc byte[4096];
        int position = 0;
        while (!text.IsEmpty)
        {
            // With the whole rest as the final block, the encoder stops only between whole characters.
            OperationStatus status = Utf8.FromUtf16(text, bytes, out int read, out int written, replaceInvalidSequences: true, isFinalBlock: true);
            if (status is not (OperationStatus.Done or OperationStatus.DestinationTooSmall) || (read == 0 && written == 0))
                throw new InvalidOperationException($"UTF-8 encoding stopped with {status}.");
            if (position + written > ids.Length)
                throw new ArgumentException($"The destination holds {ids.Length} ids; the text has more UTF-8 bytes.", nameof(ids));
            for (int i = 0; i < written; i++) ids[position + i] = bytes[i];
            position += written;
            text = text[read..];
        }

        if (position != ids.Length)
            throw new ArgumentException($"The destination holds {ids.Length} ids; the text has {position} UTF-8 bytes.", nameof(ids));
    }
}
