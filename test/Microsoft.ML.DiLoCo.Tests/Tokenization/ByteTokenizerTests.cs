using System.Buffers;
using System.Text;
using Microsoft.ML.DiLoCo.Tokenization;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.DiLoCo.Tests.Tokenization;

[TestClass]
public sealed class ByteTokenizerTests
{
    private static readonly Tokenizer Bytes = ByteTokenizer.Instance;

    [TestMethod]
    public void AsciiEncodesToItsBytesAndRoundTrips()
    {
        IReadOnlyList<int> ids = Bytes.EncodeToIds("Hi, you!");
        CollectionAssert.AreEqual(new[] { 72, 105, 44, 32, 121, 111, 117, 33 }, ids.ToArray());
        Assert.AreEqual("Hi, you!", Bytes.Decode(ids));
    }

    [TestMethod]
    public void MultiByteUtf8RoundTripsWithIdsInByteRange()
    {
        const string text = "héllo, 世界 🎉 naïve";
        IReadOnlyList<int> ids = Bytes.EncodeToIds(text);
        CollectionAssert.AreEqual(Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray(), ids.ToArray());
        Assert.IsTrue(ids.All(id => id is >= 0 and <= 255));
        Assert.AreEqual(Encoding.UTF8.GetByteCount(text), Bytes.CountTokens(text));
        Assert.AreEqual(text, Bytes.Decode(ids));
    }

    [TestMethod]
    public void VocabularyIsBytesPlusEndOfText()
    {
        Assert.AreEqual(256, ByteTokenizer.EndOfTextId);
        Assert.AreEqual(257, ByteTokenizer.VocabularySize);
        Assert.AreEqual("ab<|endoftext|>c", Bytes.Decode([97, 98, 256, 99]));
    }

    [TestMethod]
    public void LiteralEndOfTextInTextIsEncodedAsPlainBytes()
    {
        IReadOnlyList<int> ids = Bytes.EncodeToIds("<|endoftext|>");
        Assert.AreEqual(13, ids.Count);
        Assert.IsFalse(ids.Contains(ByteTokenizer.EndOfTextId));
    }

    [TestMethod]
    public void InvalidUtf8DecodesToReplacementCharacters()
    {
        int[][] cases = [[0xFF, 0x41], [0xE4, 0xB8], [0xE4, 0xB8, 0x41], [0x80, 0x80, 0xC3, 0xA9], [0xF0, 0x9F, 0x8E]];
        foreach (int[] ids in cases)
        {
            string expected = Encoding.UTF8.GetString(ids.Select(i => (byte)i).ToArray());
            Assert.Contains('\uFFFD', expected);
            Assert.AreEqual(expected, Bytes.Decode(ids));

            var buffer = new char[32];
            Assert.AreEqual(OperationStatus.Done, Bytes.Decode(ids, buffer, out int idsConsumed, out int charsWritten));
            Assert.AreEqual(ids.Length, idsConsumed);
            Assert.AreEqual(expected, new string(buffer, 0, charsWritten));
        }
    }

    [TestMethod]
    public void SpanDecodeStopsAtCharacterBoundaryWhenDestinationIsFull()
    {
        int[] ids = Bytes.EncodeToIds("a世b").ToArray(); // 97, E4 B8 96, 98
        var buffer = new char[1];
        Assert.AreEqual(OperationStatus.DestinationTooSmall, Bytes.Decode(ids, buffer, out int idsConsumed, out int charsWritten));
        Assert.AreEqual(1, idsConsumed);
        Assert.AreEqual(1, charsWritten);

        var eotBuffer = new char[5];
        Assert.AreEqual(OperationStatus.DestinationTooSmall, Bytes.Decode([97, 256], eotBuffer, out idsConsumed, out charsWritten));
        Assert.AreEqual(1, idsConsumed);
        Assert.AreEqual(1, charsWritten);
    }

    [TestMethod]
    public void IdsOutsideTheVocabularyAreRejected()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Bytes.Decode([65, 257]));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Bytes.Decode([-1]));
    }

    [TestMethod]
    public void TokenBudgetStopsAtCharacterBoundary()
    {
        IReadOnlyList<int> ids = Bytes.EncodeToIds("a世b", maxTokenCount: 3, out _, out int charsConsumed);
        CollectionAssert.AreEqual(new[] { 97 }, ids.ToArray());
        Assert.AreEqual(1, charsConsumed);

        Assert.AreEqual(2, Bytes.GetIndexByTokenCount("a世b", maxTokenCount: 4, out _, out int tokenCount));
        Assert.AreEqual(4, tokenCount);
        Assert.AreEqual(2, Bytes.GetIndexByTokenCountFromEnd("a世b", maxTokenCount: 3, out _, out tokenCount));
        Assert.AreEqual(1, tokenCount);
    }

    [TestMethod]
    public void EncodedTokensCarryTheirCharacterAndOffset()
    {
        IReadOnlyList<EncodedToken> tokens = Bytes.EncodeToTokens("aé", out string? normalized);
        Assert.IsNull(normalized);
        Assert.AreEqual(3, tokens.Count);
        Assert.AreEqual(97, tokens[0].Id);
        Assert.AreEqual("a", tokens[0].Value);
        Assert.AreEqual(new Range(1, 2), tokens[1].Offset);
        Assert.AreEqual("é", tokens[2].Value);
        Assert.AreEqual(0xA9, tokens[2].Id);
    }
}
