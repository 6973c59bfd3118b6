using Microsoft.ML.DiLoCo.Tokenization;

namespace Microsoft.ML.DiLoCo.Tests.Tokenization;

[TestClass]
public sealed class LanguageModelTokenizerTests
{
    [TestMethod]
    public void BytesWrapsTheByteTokenizer()
    {
        var tokenizer = LanguageModelTokenizer.Create(TokenizerKind.Bytes);
        Assert.IsInstanceOfType<ByteTokenizer>(tokenizer.Inner);
        Assert.AreEqual(TokenizerKind.Bytes, tokenizer.Kind);
        Assert.AreEqual(257, tokenizer.VocabularySize);
        Assert.AreEqual(256, tokenizer.EndOfTextId);
        CollectionAssert.AreEqual(new[] { 0xC3, 0xA9, 0x21 }, tokenizer.Encode("é!"));
        Assert.AreEqual("é!<|endoftext|>", tokenizer.Decode([0xC3, 0xA9, 0x21, 256]));
    }

    [TestMethod]
    public void Gpt2EncodesKnownIds()
    {
        var tokenizer = LanguageModelTokenizer.Create(TokenizerKind.Gpt2);
        CollectionAssert.AreEqual(new[] { 15496, 995 }, tokenizer.Encode("Hello world"));
        Assert.AreEqual(50257, tokenizer.VocabularySize);
        Assert.AreEqual(50256, tokenizer.EndOfTextId);
        Assert.AreEqual("Hello world<|endoftext|>", tokenizer.Decode([15496, 995, 50256]));
    }

    [TestMethod]
    public void Cl100kBaseEncodesKnownIds()
    {
        var tokenizer = LanguageModelTokenizer.Create(TokenizerKind.Cl100kBase);
        CollectionAssert.AreEqual(new[] { 9906, 1917 }, tokenizer.Encode("Hello world"));
        Assert.AreEqual(100257, tokenizer.EndOfTextId);
        // Largest special id is <|endofprompt|> = 100276.
        Assert.AreEqual(100277, tokenizer.VocabularySize);
    }

    [TestMethod]
    [DataRow(TokenizerKind.Gpt2)]
    [DataRow(TokenizerKind.Cl100kBase)]
    public void SpecialTokensInUserTextStayPlainText(TokenizerKind kind)
    {
        var tokenizer = LanguageModelTokenizer.Create(kind);
        const string text = "one <|endoftext|> two<|<|endoftext|>three <|fim_prefix|>";
        int[] ids = tokenizer.Encode(text);
        Assert.IsTrue(ids.All(id => id < tokenizer.VocabularySize && id != tokenizer.EndOfTextId));
        Assert.IsFalse(tokenizer.Inner.EncodeToIds(text).All(id => id != tokenizer.EndOfTextId), "the raw tokenizer parses special tokens");
        Assert.AreEqual(text, tokenizer.Decode(ids));
    }

    [TestMethod]
    [DataRow(TokenizerKind.Gpt2, new[] { 27, 91, 437, 1659, 5239, 91, 29 })]
    [DataRow(TokenizerKind.Cl100kBase, new[] { 27, 91, 8862, 728, 428, 91, 29 })]
    public void SpelledOutEndOfTextMatchesTiktokenOrdinaryEncoding(TokenizerKind kind, int[] expected)
    {
        // tiktoken's encode_ordinary("<|endoftext|>") (disallowed_special=()).
        CollectionAssert.AreEqual(expected, LanguageModelTokenizer.Create(kind).Encode("<|endoftext|>"));
    }

    [TestMethod]
    public void CreateCachesOneInstancePerKind()
    {
        Assert.AreSame(LanguageModelTokenizer.Create(TokenizerKind.Gpt2), LanguageModelTokenizer.Create(TokenizerKind.Gpt2));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LanguageModelTokenizer.Create((TokenizerKind)42));
    }
}
