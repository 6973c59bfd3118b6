using System.Buffers;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.DiLoCo.Tokenization;

/// <summary>
/// A byte-level tokenizer: every UTF-8 byte of the text is one token (ids 0–255), and id 256 is the
/// end-of-text token that separates documents (vocabulary 257).
/// </summary>
/// <remarks>
/// <para>
/// Encoding never produces the end-of-text id: the literal text <c>&lt;|endoftext|&gt;</c> in the input
/// is encoded as its 13 bytes, so user text can never forge a document boundary and
/// <c>Decode(EncodeToIds(s)) == s</c> for every well-formed string. Only the data pipeline inserts id 256.
/// Decoding id 256 yields <see cref="EndOfTextToken"/>.
/// </para>
/// <para>
/// Decoding never throws on byte sequences that are not valid UTF-8 (a model may emit any byte order):
/// each ill-formed subsequence becomes U+FFFD, as <see cref="Encoding.UTF8"/> does. Ids outside 0–256
/// are rejected with <see cref="ArgumentOutOfRangeException"/>.
/// </para>
/// <para>
/// The tokenizer has no normalizer and no pre-tokenizer, so the <c>considerNormalization</c> and
/// <c>considerPreTokenization</c> flags of the base API change nothing. When a token budget is given,
/// encoding stops at a character boundary: the ids returned always encode exactly
/// <c>text[..charsConsumed]</c>. In <see cref="Tokenizer.EncodeToTokens(string, out string?, bool, bool)"/>
/// each byte token carries the text and the character range of the character it belongs to.
/// </para>
/// </remarks>
internal sealed class ByteTokenizer : Tokenizer
{
    /// <summary>The id of the end-of-text token.</summary>
    public const int EndOfTextId = 256;

    /// <summary>The text of the end-of-text token when decoding.</summary>
    public const string EndOfTextToken = "<|endoftext|>";

    /// <summary>Number of token ids: 256 bytes plus end-of-text.</summary>
    public const int VocabularySize = 257;

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    /// <summary>The shared instance (the tokenizer has no state).</summary>
    public static ByteTokenizer Instance { get; } = new();

    /// <summary>Creates a byte tokenizer; <see cref="Instance"/> serves as well.</summary>
    public ByteTokenizer()
    {
    }

    /// <inheritdoc />
    protected override EncodeResults<EncodedToken> EncodeToTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        ReadOnlySpan<char> span = text is null ? textSpan : text.AsSpan();
        var tokens = new List<EncodedToken>(Math.Min(span.Length, settings.MaxTokenCount));
        Span<byte> bytes = stackalloc byte[4];
        int index = 0;
        while (index < span.Length)
        {
            int charCount = ReadRune(span[index..], out Rune rune);
            int byteCount = rune.EncodeToUtf8(bytes);
            if (tokens.Count + byteCount > settings.MaxTokenCount)
            {
                break;
            }

            string value = span.Slice(index, charCount).ToString();
            var range = new Range(index, index + charCount);
            for (int b = 0; b < byteCount; b++)
            {
                tokens.Add(new EncodedToken(bytes[b], value, range));
            }

            index += charCount;
        }

        return new EncodeResults<EncodedToken> { Tokens = tokens, NormalizedText = null, CharsConsumed = index };
    }

    /// <inheritdoc />
    protected override EncodeResults<int> EncodeToIds(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        ReadOnlySpan<char> span = text is null ? textSpan : text.AsSpan();
        int charsConsumed = CountPrefix(span, settings.MaxTokenCount, out int byteCount);
        byte[] rented = ArrayPool<byte>.Shared.Rent(Math.Max(byteCount, 1));
        try
        {
            int written = Utf8.GetBytes(span[..charsConsumed], rented);
            var ids = new int[written];
            for (int i = 0; i < written; i++)
            {
                ids[i] = rented[i];
            }

            return new EncodeResults<int> { Tokens = ids, NormalizedText = null, CharsConsumed = charsConsumed };
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <inheritdoc />
    protected override int CountTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        ReadOnlySpan<char> span = text is null ? textSpan : text.AsSpan();
        CountPrefix(span, settings.MaxTokenCount, out int byteCount);
        return byteCount;
    }

    /// <inheritdoc />
    protected override int GetIndexByTokenCount(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings, bool fromEnd, out string? normalizedText, out int tokenCount)
    {
        ReadOnlySpan<char> span = text is null ? textSpan : text.AsSpan();
        normalizedText = null;
        if (!fromEnd)
        {
            return CountPrefix(span, settings.MaxTokenCount, out tokenCount);
        }

        // Walk whole characters backwards from the end while they fit in the budget.
        tokenCount = 0;
        int index = span.Length;
        while (index > 0)
        {
            int charCount = ReadLastRune(span[..index], out Rune rune);
            int byteCount = rune.Utf8SequenceLength;
            if (tokenCount + byteCount > settings.MaxTokenCount)
            {
                break;
            }

            tokenCount += byteCount;
            index -= charCount;
        }

        return index;
    }

    /// <inheritdoc />
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new StringBuilder();
        byte[] run = ArrayPool<byte>.Shared.Rent(256);
        int runLength = 0;
        try
        {
            foreach (int id in ids)
            {
                if (id == EndOfTextId)
                {
                    text.Append(Utf8.GetString(run, 0, runLength));
                    runLength = 0;
                    text.Append(EndOfTextToken);
                    continue;
                }

                if (runLength == run.Length)
                {
                    byte[] larger = ArrayPool<byte>.Shared.Rent(run.Length * 2);
                    run.AsSpan(0, runLength).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(run);
                    run = larger;
                }

                run[runLength++] = ToByte(id);
            }

            text.Append(Utf8.GetString(run, 0, runLength));
            return text.ToString();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(run);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Stops before the first character that does not fit; <paramref name="idsConsumed"/> then counts the ids
    /// of whole characters written, so decoding can resume from there.
    /// </remarks>
    public override OperationStatus Decode(IEnumerable<int> ids, Span<char> destination, out int idsConsumed, out int charsWritten)
    {
        ArgumentNullException.ThrowIfNull(ids);
        // Bytes of the character being assembled (UTF-8 sequences are at most 4 bytes).
        Span<byte> pending = stackalloc byte[4];
        int pendingCount = 0;
        int idsSeen = 0;
        idsConsumed = 0;
        charsWritten = 0;

        foreach (int id in ids)
        {
            if (id == EndOfTextId)
            {
                if (!Flush(pending, ref pendingCount, isFinal: true, destination, ref charsWritten, ref idsConsumed))
                {
                    return OperationStatus.DestinationTooSmall;
                }

                if (destination.Length - charsWritten < EndOfTextToken.Length)
                {
                    return OperationStatus.DestinationTooSmall;
                }

                EndOfTextToken.AsSpan().CopyTo(destination[charsWritten..]);
                charsWritten += EndOfTextToken.Length;
                idsSeen++;
                idsConsumed = idsSeen;
                continue;
            }

            pending[pendingCount++] = ToByte(id);
            idsSeen++;
            if (!Flush(pending, ref pendingCount, isFinal: false, destination, ref charsWritten, ref idsConsumed))
            {
                return OperationStatus.DestinationTooSmall;
            }
        }

        return Flush(pending, ref pendingCount, isFinal: true, destination, ref charsWritten, ref idsConsumed)
            ? OperationStatus.Done
            : OperationStatus.DestinationTooSmall;
    }

    // Writes every complete character held in pending (and, when final, the incomplete tail as U+FFFD).
    // idsConsumed advances by one per byte written out. Returns false when the destination is full.
    private static bool Flush(Span<byte> pending, ref int pendingCount, bool isFinal, Span<char> destination, ref int charsWritten, ref int idsConsumed)
    {
        while (pendingCount > 0)
        {
            OperationStatus status = Rune.DecodeFromUtf8(pending[..pendingCount], out Rune rune, out int bytesConsumed);
            if (status == OperationStatus.NeedMoreData && !isFinal)
            {
                return true;
            }

            // InvalidData and a truncated final sequence both yield U+FFFD (rune is ReplacementChar then).
            if (!rune.TryEncodeToUtf16(destination[charsWritten..], out int written))
            {
                return false;
            }

            charsWritten += written;
            idsConsumed += bytesConsumed;
            pending[bytesConsumed..pendingCount].CopyTo(pending);
            pendingCount -= bytesConsumed;
        }

        return true;
    }

    private static byte ToByte(int id)
    {
        if ((uint)id > byte.MaxValue)
        {
            throw new ArgumentOutOfRangeException("ids", id, $"Byte token ids are 0..255, and {EndOfTextId} is end-of-text.");
        }

        return (byte)id;
    }

    // Number of chars in the longest prefix of whole characters whose UTF-8 fits in maxTokens bytes.
    private static int CountPrefix(ReadOnlySpan<char> span, int maxTokens, out int byteCount)
    {
        if (maxTokens == int.MaxValue)
        {
            byteCount = Utf8.GetByteCount(span);
            return span.Length;
        }

        byteCount = 0;
        int index = 0;
        while (index < span.Length)
        {
            int charCount = ReadRune(span[index..], out Rune rune);
            int runeBytes = rune.Utf8SequenceLength;
            if (byteCount + runeBytes > maxTokens)
            {
                break;
            }

            byteCount += runeBytes;
            index += charCount;
        }

        return index;
    }

    // A lone surrogate reads as U+FFFD (one char), which is what the UTF-8 encoder writes for it.
    private static int ReadRune(ReadOnlySpan<char> span, out Rune rune)
    {
        Rune.DecodeFromUtf16(span, out rune, out int charsConsumed);
        return charsConsumed;
    }

    private static int ReadLastRune(ReadOnlySpan<char> span, out Rune rune)
    {
        Rune.DecodeLastFromUtf16(span, out rune, out int charsConsumed);
        return charsConsumed;
    }
}
