using System.Diagnostics;
using System.Text;
using Microsoft.ML.DiLoCo.Tokenization;

namespace Microsoft.ML.DiLoCo.Tests.Reliability;

/// <summary>Every tokenizer on ill-formed UTF-16, control characters and one very long piece.</summary>
[TestClass]
public sealed class HostileTextTokenizerTests
{
    [TestMethod]
    [DataRow(TokenizerKind.Bytes)]
    [DataRow(TokenizerKind.Gpt2)]
    [DataRow(TokenizerKind.Cl100kBase)]
    public void ALoneSurrogateReadsAsTheReplacementCharacterAndEverythingElseRoundTrips(TokenizerKind kind)
    {
        var tokenizer = LanguageModelTokenizer.Create(kind);
        foreach (string text in HostileTexts.NonEmpty)
        {
            string repaired = HostileTexts.Repaired(text);
            int[] ids = tokenizer.Encode(text);
            CollectionAssert.AreEqual(tokenizer.Encode(repaired), ids, $"{kind}: {Escape(text)} encodes as {Escape(repaired)}");
            Assert.AreEqual(repaired, tokenizer.Decode(ids), $"{kind}: {Escape(text)} decodes back to {Escape(repaired)}");
            Assert.IsTrue(ids.All(id => id >= 0 && id < tokenizer.VocabularySize && id != tokenizer.EndOfTextId), $"{kind}: {Escape(text)}");
        }
    }

    [TestMethod]
    public void TheByteTokenizerWritesEncodingUtf8sBytes()
    {
        var tokenizer = LanguageModelTokenizer.Create(TokenizerKind.Bytes);
        CollectionAssert.AreEqual(new[] { 0x61, 0xEF, 0xBF, 0xBD, 0x62 }, tokenizer.Encode("a\uD800b"), "U+FFFD is EF BF BD");
        CollectionAssert.AreEqual(new[] { 0xEF, 0xBF, 0xBD, 0xEF, 0xBF, 0xBD }, tokenizer.Encode("\uDC00\uD800"), "a reversed pair is two replacements");
        CollectionAssert.AreEqual(new[] { 0xEF, 0xBF, 0xBE, 0xEF, 0xBF, 0xBF }, tokenizer.Encode("\uFFFE\uFFFF"), "noncharacters are encoded as themselves");
        CollectionAssert.AreEqual(new[] { 0x61, 0x00, 0x02 }, tokenizer.Encode("a\0\x02"));

        // Random text of every kind of char, long enough that chunk boundaries fall inside surrogate pairs.
        var random = new Random(3);
        var text = new StringBuilder();
        string[] pieces = ["a", "é", "€", "\uD83D\uDE00", "\uD800", "\uDC00", "\0", "\uFFFF"];
        while (text.Length < 60_000) text.Append(pieces[random.Next(pieces.Length)]);
        string s = text.ToString();
        byte[] expected = Encoding.UTF8.GetBytes(s);
        Assert.AreEqual(expected.Length, tokenizer.LengthOf(s));
        CollectionAssert.AreEqual(expected.Select(b => (int)b).ToArray(), tokenizer.Encode(s));
    }

    [TestMethod]
    [DataRow(TokenizerKind.Gpt2)]
    [DataRow(TokenizerKind.Cl100kBase)]
    public void OneVeryLongPieceEncodesInLinearTime(TokenizerKind kind)
    {
        // Byte-pair merging is quadratic in a piece's length: 400 000 letters in one piece would take over a minute.
        var tokenizer = LanguageModelTokenizer.Create(kind);
        string prefix = "The state of the union is strong. ";
        string text = prefix + new string('a', 400_000) + " and the end.";
        var clock = Stopwatch.StartNew();
        int[] ids = tokenizer.Encode(text);
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(15), $"{kind}: {clock.Elapsed.TotalSeconds:F1} s for one 400 000-char piece");
        Assert.AreEqual(text, tokenizer.Decode(ids), "chunks keep every char");
        // Text before the long piece is tokenized as tiktoken does (its last space belongs to the piece " aaa…").
        int[] head = tokenizer.Inner.EncodeToIds(prefix.TrimEnd()).ToArray();
        CollectionAssert.AreEqual(head, ids.Take(head.Length).ToArray());
    }

    [TestMethod]
    [DataRow(TokenizerKind.Gpt2)]
    [DataRow(TokenizerKind.Cl100kBase)]
    public void TextWithoutLongPiecesOrLoneSurrogatesIsTokenizedExactlyAsTiktoken(TokenizerKind kind)
    {
        var tokenizer = LanguageModelTokenizer.Create(kind);
        string text = string.Concat(Enumerable.Repeat("Mr. Speaker, 1234 \t  spaces\n\n and\u00A0émoji \uD83D\uDE00; a\0b\x02. ", 40))
                      + new string(' ', 255) + new string('x', 255);
        CollectionAssert.AreEqual(tokenizer.Inner.EncodeToIds(text).ToArray(), tokenizer.Encode(text));
    }

    private static string Escape(string s) => string.Concat(s.Select(c => c < 32 || c > 126 ? $"\\u{(int)c:X4}" : c.ToString()));
}
