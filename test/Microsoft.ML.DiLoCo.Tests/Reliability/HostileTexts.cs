namespace Microsoft.ML.DiLoCo.Tests.Reliability;

/// <summary>The hostile texts every path is tried with, and the rule for invalid UTF-16 (docs/reliability.md, "Hostile text").</summary>
internal static class HostileTexts
{
    /// <summary>Texts that hold something to score: ill-formed UTF-16, noncharacters and control characters.</summary>
    public static readonly string[] NonEmpty =
    [
        "a\uD800b",              // lone high surrogate
        "a\uDC00b",              // lone low surrogate
        "\uDC00\uD800",          // a reversed pair: two lone surrogates
        "x\uD83D",               // a high surrogate at the very end
        "\uFFFE\uFFFF",          // noncharacters: valid UTF-16, encoded as themselves
        "a\0b",                  // NUL
        "speech\x02text",        // the stray \x02 of the State of the Union corpus
        "\uD83D\uDE00 ok",       // a well-formed pair, for contrast
        "<|endoftext|>",         // a special-token spelling: ordinary text
    ];

    /// <summary>Texts with nothing to score: empty and whitespace-only (ASCII and Unicode spaces).</summary>
    public static readonly string[] Blank = ["", " ", "\t\r\n ", "\u00A0\u2003\u3000"];

    /// <summary>The text every tokenizer actually reads: each lone surrogate replaced by U+FFFD.</summary>
    public static string Repaired(string text)
    {
        var chars = text.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1])) { i++; continue; }
            if (char.IsSurrogate(chars[i])) chars[i] = '\uFFFD';
        }
        return new string(chars);
    }

    public static bool HasLoneSurrogate(string text) => Repaired(text) != text;
}
