using Microsoft.ML.DiLoCo.Tokenization;

namespace Microsoft.ML.DiLoCo.Data;

/// <summary>Turns documents into one token stream: each document followed by the end-of-text token.</summary>
internal static class TokenStream
{
    /// <summary>
    /// Encodes the documents and joins them, with <see cref="LanguageModelTokenizer.EndOfTextId"/> after every
    /// document (between documents and after the last), so the model learns where documents end.
    /// Empty documents are skipped.
    /// </summary>
    /// <exception cref="ArgumentException">There is no text (no documents, or all empty).</exception>
    public static int[] Build(IEnumerable<string> documents, LanguageModelTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(tokenizer);

        var encoded = new List<int[]>();
        long total = 0;
        foreach (string? document in documents)
        {
            if (string.IsNullOrEmpty(document))
            {
                continue;
            }

            int[] ids = tokenizer.Encode(document);
            encoded.Add(ids);
            total += ids.Length + 1;
        }

        if (encoded.Count == 0)
        {
            throw new ArgumentException("There is no text to train on: every document is empty.", nameof(documents));
        }

        if (total > Array.MaxLength)
        {
            throw new ArgumentException($"The text has {total} tokens, more than one array can hold ({Array.MaxLength}).", nameof(documents));
        }

        var stream = new int[total];
        int position = 0;
        foreach (int[] ids in encoded)
        {
            ids.CopyTo(stream, position);
            position += ids.Length;
            stream[position++] = tokenizer.EndOfTextId;
        }

        return stream;
    }
}
