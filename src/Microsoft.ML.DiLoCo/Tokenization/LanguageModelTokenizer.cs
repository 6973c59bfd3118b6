using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.DiLoCo.Tokenization;

/// <summary>
/// The tokenizer a language model is trained with: a Microsoft.ML.Tokenizers <see cref="Tokenizer"/> plus what
/// the model needs to know about it (vocabulary size, end-of-text id).
/// </summary>
/// <remarks>
/// <see cref="Encode"/> treats text as ordinary text: a special token spelt out in user text (for example
/// <c>&lt;|endoftext|&gt;</c>) is encoded as plain characters, never as the special id, so documents cannot forge
/// boundaries. Only the data pipeline inserts <see cref="EndOfTextId"/>. Instances are immutable and thread-safe.
/// </remarks>
internal sealed class LanguageModelTokenizer
{
    private static readonly Lazy<LanguageModelTokenizer> Bytes = new(() =>
        new LanguageModelTokenizer(TokenizerKind.Bytes, ByteTokenizer.Instance, ByteTokenizer.VocabularySize, ByteTokenizer.EndOfTextId));

    private static readonly Lazy<LanguageModelTokenizer> Gpt2 = new(() =>
        FromTiktoken(TokenizerKind.Gpt2, TiktokenTokenizer.CreateForModel("gpt2")));

    private static readonly Lazy<LanguageModelTokenizer> Cl100kBase = new(() =>
        FromTiktoken(TokenizerKind.Cl100kBase, TiktokenTokenizer.CreateForEncoding("cl100k_base")));

    private const string EndOfTextToken = "<|endoftext|>";

    // Special-token spellings and, for each, how many leading chars to cut it after so that it can no longer
    // match as a whole (see EncodeOrdinary).
    private readonly (string Text, int CutAfter)[] _specialTokens;

    private LanguageModelTokenizer(TokenizerKind kind, Tokenizer inner, int vocabularySize, int endOfTextId, IEnumerable<string>? specialTokens = null)
    {
        Kind = kind;
        Inner = inner;
        VocabularySize = vocabularySize;
        EndOfTextId = endOfTextId;
        _specialTokens = (specialTokens ?? [])
            .Select(text => (text, CutAfter: Math.Max(1, text.TakeWhile(c => !char.IsLetterOrDigit(c)).Count())))
            .ToArray();
    }

    /// <summary>Which tokenizer this is.</summary>
    public TokenizerKind Kind { get; }

    /// <summary>The Microsoft.ML.Tokenizers tokenizer underneath.</summary>
    public Tokenizer Inner { get; }

    /// <summary>Number of token ids the model must embed (all ids, special tokens included, are below it).</summary>
    public int VocabularySize { get; }

    /// <summary>The id that separates documents.</summary>
    public int EndOfTextId { get; }

    /// <summary>The (cached, shared) tokenizer of the given kind. GPT-2 and cl100k load their vocabularies from the
    /// Microsoft.ML.Tokenizers.Data packages, without network access.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is not a defined value.</exception>
    public static LanguageModelTokenizer Create(TokenizerKind kind) => kind switch
    {
        TokenizerKind.Bytes => Bytes.Value,
        TokenizerKind.Gpt2 => Gpt2.Value,
        TokenizerKind.Cl100kBase => Cl100kBase.Value,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Tokenizer must be Bytes, Gpt2 or Cl100kBase."),
    };

    /// <summary>Encodes text as ordinary text (special tokens are not parsed from it).</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Encode(text.AsSpan());
    }

    /// <summary>
    /// Encodes text as ordinary text (special tokens are not parsed from it). Any UTF-16 is accepted: each lone
    /// surrogate is read as U+FFFD, the replacement character, by every tokenizer (docs/reliability.md, "Hostile text").
    /// </summary>
    public int[] Encode(ReadOnlySpan<char> text)
    {
        if (Inner is ByteTokenizer)
        {
            return EncodeBytes(text);
        }

        return EncodeOrdinary(text);
    }

    /// <summary>
    /// True for the byte tokenizer: the number of tokens of a text is known without encoding it
    /// (<see cref="LengthOf"/>), and <see cref="EncodeInto"/> writes the ids in place.
    /// </summary>
    public bool EncodesInPlace => Inner is ByteTokenizer;

    /// <summary>The byte tokenizer only: the number of ids of <paramref name="text"/> (its UTF-8 length, a lone surrogate counting as U+FFFD).</summary>
    public int LengthOf(ReadOnlySpan<char> text) => EncodesInPlace
        ? Utf8Bytes.Count(text)
        : throw new InvalidOperationException($"The {Kind} tokenizer cannot count tokens without encoding; call Encode.");

    /// <summary>The byte tokenizer only: encodes <paramref name="text"/> into <paramref name="destination"/>, which holds exactly <see cref="LengthOf"/> ids.</summary>
    public void EncodeInto(ReadOnlySpan<char> text, Span<int> destination)
    {
        if (!EncodesInPlace)
            throw new InvalidOperationException($"The {Kind} tokenizer cannot encode in place; call Encode.");
        Utf8Bytes.Write(text, destination);
    }

    /// <summary>Decodes token ids to text; the end-of-text id becomes <c>&lt;|endoftext|&gt;</c>.</summary>
    public string Decode(ReadOnlySpan<int> ids) => Inner.Decode(ids.ToArray()) ?? string.Empty;

    private static LanguageModelTokenizer FromTiktoken(TokenizerKind kind, TiktokenTokenizer tokenizer)
    {
        // tiktoken vocabularies number the special tokens after all ordinary ranks
        // (GPT-2: 50256 is <|endoftext|>; cl100k: <|endofprompt|> = 100276 is the largest id).
        IReadOnlyDictionary<string, int> specialTokens = tokenizer.SpecialTokens
            ?? throw new InvalidOperationException($"The {kind} tokenizer has no special tokens, so no end-of-text token.");
        int vocabularySize = specialTokens.Values.Max() + 1;
        int endOfTextId = specialTokens[EndOfTextToken];
        return new LanguageModelTokenizer(kind, tokenizer, vocabularySize, endOfTextId, specialTokens.Keys);
    }

    private static int[] EncodeBytes(ReadOnlySpan<char> text)
    {
        var ids = new int[Utf8Bytes.Count(text)];
        Utf8Bytes.Write(text, ids);
        return ids;
    }

    // Microsoft.ML.Tokenizers' tiktoken pre-tokenizer turns special-token spellings into special ids. To get
    // tiktoken's encode_ordinary instead, the text is cut inside every such spelling, right after its leading
    // punctuation ("<|" | "endoftext|>"), and the pieces are encoded one by one. The regex pre-tokenizers of GPT-2 and
    // cl100k always end a piece at that point anyway (punctuation followed by a letter), so the ids are the same as
    // encoding the whole text without special tokens. Lone surrogates become U+FFFD first (TiktokenText), and pieces
    // longer than TiktokenText.MaximumPieceLength are encoded in chunks (BPE is quadratic in the piece length).
    private int[] EncodeOrdinary(ReadOnlySpan<char> original)
    {
        char[]? repaired = TiktokenText.ReplaceLoneSurrogates(original);
        ReadOnlySpan<char> text = repaired is null ? original : repaired;
        var ids = new List<int>(text.Length / 3 + 16);
        int start = 0;
        for (int cut = NextCut(text, 0); cut >= 0; cut = NextCut(text, start))
        {
            TiktokenText.Encode(Inner, text[start..cut], ids);
            start = cut;
        }

        TiktokenText.Encode(Inner, text[start..], ids);
        return ids.ToArray();
    }

    // The earliest cut position at or after start, or -1 when no special-token spelling remains.
    private int NextCut(ReadOnlySpan<char> text, int start)
    {
        int best = -1;
        foreach ((string special, int cutAfter) in _specialTokens)
        {
            int at = text[start..].IndexOf(special, StringComparison.Ordinal);
            if (at >= 0 && (best < 0 || start + at + cutAfter < best))
            {
                best = start + at + cutAfter;
            }
        }

        return best;
    }
}
