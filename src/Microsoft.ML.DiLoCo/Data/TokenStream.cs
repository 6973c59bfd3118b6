using Microsoft.ML.DiLoCo.Tokenization;

namespace Microsoft.ML.DiLoCo.Data;

/// <summary>Turns documents into one token stream: each document followed by the end-of-text token.</summary>
internal static class TokenStream
{
    /// <summary>
    /// Encodes the documents and joins them, with <see cref="LanguageModelTokenizer.EndOfTextId"/> after every
    /// document (between documents and after the last), so the model learns where documents end.
    /// Empty and whitespace-only documents are skipped (as <see cref="TextColumnReader"/> and scoring do).
    /// </summary>
    /// <remarks>
    /// Memory: the byte tokenizer's length is known without encoding, so its stream is allocated once at its final
    /// size and filled in place (4 bytes per token beside the documents); other tokenizers keep each document's ids
    /// until the stream is joined (at most twice the stream).
    /// </remarks>
    /// <exception cref="ArgumentException">There is no text (no documents, or all empty), or more tokens than one array holds.</exception>
    public static int[] Build(IEnumerable<string> documents, LanguageModelTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(tokenizer);
        var texts = documents.Where(d => d is not null && !d.AsSpan().IsWhiteSpace()).ToList();
        if (texts.Count == 0)
        {
            throw new ArgumentException("There is no text to train on: every document is empty.", nameof(documents));
        }

        return tokenizer.EncodesInPlace ? FillInPlace(texts, tokenizer) : Join(texts, tokenizer);
    }

    private static int[] FillInPlace(List<string> texts, LanguageModelTokenizer tokenizer)
    {
        var counts = new int[texts.Count];
        long total = 0;
        for (int i = 0; i < texts.Count; i++)
        {
            counts[i] = tokenizer.LengthOf(texts[i]);
            total += counts[i] + 1;
        }

        var stream = new int[CheckedLength(total)];
        int position = 0;
        for (int i = 0; i < texts.Count; i++)
        {
            tokenizer.EncodeInto(texts[i], stream.AsSpan(position, counts[i]));
            position += counts[i];
            stream[position++] = tokenizer.EndOfTextId;
        }

        return stream;
    }

    private static int[] Join(List<string> texts, LanguageModelTokenizer tokenizer)
    {
        var encoded = new List<int[]>(texts.Count);
        long total = 0;
        foreach (string text in texts)
        {
            int[] ids = tokenizer.Encode(text);
            encoded.Add(ids);
            total += ids.Length + 1;
        }

        var stream = new int[CheckedLength(total)];
        int position = 0;
        for (int i = 0; i < encoded.Count; i++)
        {
            encoded[i].CopyTo(stream, position);
            position += encoded[i].Length;
            stream[position++] = tokenizer.EndOfTextId;
            encoded[i] = []; // let the document's ids go as soon as they are in the stream
        }

        return stream;
    }

    private static int CheckedLength(long total) => total <= Array.MaxLength
        ? (int)total
        : throw new ArgumentException($"The text has {total} tokens, more than one array can hold ({Array.MaxLength}).", "documents");
}
