using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.DiLoCo.Tokenization;

/// <summary>
/// What the GPT-2 and cl100k tokenizers need before Microsoft.ML.Tokenizers sees hostile text
/// (docs/reliability.md, "Hostile text").
/// </summary>
/// <remarks>
/// <para>
/// Lone surrogates: Microsoft.ML.Tokenizers 2.0.1 writes a lone surrogate as its 3-byte generalized UTF-8 form
/// (U+D800 → ED A0 80), bytes that valid UTF-8 never holds and that decode to three U+FFFD. Python's tiktoken replaces
/// lone surrogates with U+FFFD before encoding, and so does the byte tokenizer (through .NET's UTF-8 encoder); we do
/// the same here, so every tokenizer reads a lone surrogate as U+FFFD.
/// </para>
/// <para>
/// Long pieces: byte-pair merging in Microsoft.ML.Tokenizers is quadratic in the length of one pre-tokenized piece
/// (64 000 'a' took 1.9 s, 16 000 took 0.14 s), so one long run of letters, digits, punctuation or whitespace could
/// take hours. A piece longer than <see cref="MaximumPieceLength"/> chars is encoded in chunks of that length: linear
/// time, and tokens different from tiktoken's only inside such a piece (natural text has none).
/// </para>
/// </remarks>
internal static class TiktokenText
{
    /// <summary>Longest piece encoded whole; longer ones are cut into pieces of this many chars.</summary>
    public const int MaximumPieceLength = 256;

    /// <summary>A copy of <paramref name="text"/> with every lone surrogate replaced by U+FFFD, or null when it has none.</summary>
    public static char[]? ReplaceLoneSurrogates(ReadOnlySpan<char> text)
    {
        int first = text.IndexOfAnyInRange('\uD800', '\uDFFF');
        if (first < 0) return null;
        char[]? copy = null;
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (!char.IsSurrogate(c)) continue;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++; // a well-formed pair
                continue;
            }

            copy ??= text.ToArray();
            copy[i] = '\uFFFD';
        }

        return copy;
    }

    /// <summary>Appends the ids of <paramref name="text"/> (special-token spellings already cut) to <paramref name="ids"/>.</summary>
    public static void Encode(Tokenizer tokenizer, ReadOnlySpan<char> text, List<int> ids)
    {
        if (!HasLongRun(text))
        {
            ids.AddRange(tokenizer.EncodeToIds(text));
            return;
        }

        // Encode the text between long pieces whole (so it matches tiktoken), and each long piece in chunks.
        PreTokenizer splitter = tokenizer.PreTokenizer
            ?? throw new InvalidOperationException("The tiktoken tokenizer has no pre-tokenizer.");
        int start = 0;
        foreach ((int offset, int length) in splitter.PreTokenize(text))
        {
            if (length <= MaximumPieceLength) continue;
            if (offset > start) ids.AddRange(tokenizer.EncodeToIds(text[start..offset]));
            for (int at = offset, end = offset + length; at < end;)
            {
                int chunk = Math.Min(MaximumPieceLength, end - at);
                if (at + chunk < end && char.IsHighSurrogate(text[at + chunk - 1])) chunk--; // keep pairs whole
                ids.AddRange(tokenizer.EncodeToIds(text.Slice(at, chunk)));
                at += chunk;
            }

            start = offset + length;
        }

        if (start < text.Length) ids.AddRange(tokenizer.EncodeToIds(text[start..]));
    }

    // A cheap filter before pre-tokenizing: a piece is one run of whitespace or of non-whitespace chars, plus at most
    // one char of the other kind in front (or, in cl100k, punctuation followed by newlines). Text without a run of
    // MaximumPieceLength chars has no piece longer than about twice that, whose quadratic cost stays small.
    private static bool HasLongRun(ReadOnlySpan<char> text)
    {
        if (text.Length < MaximumPieceLength) return false;
        int run = 0;
        bool white = false;
        foreach (char c in text)
        {
            bool isWhite = char.IsWhiteSpace(c);
            run = isWhite == white ? run + 1 : 1;
            white = isWhite;
            if (run >= MaximumPieceLength) return true;
        }

        return false;
    }
}
