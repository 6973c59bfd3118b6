using Microsoft.ML.DiLoCo.Data;
using Microsoft.ML.DiLoCo.Tokenization;

namespace Microsoft.ML.DiLoCo.Tests.Data;

[TestClass]
public sealed class TokenStreamTests
{
    private static readonly LanguageModelTokenizer Bytes = LanguageModelTokenizer.Create(TokenizerKind.Bytes);

    [TestMethod]
    public void DocumentsAreJoinedAndEndedByEndOfText()
    {
        int[] stream = TokenStream.Build(["ab", "", "c"], Bytes);
        CollectionAssert.AreEqual(new[] { 97, 98, 256, 99, 256 }, stream);
    }

    [TestMethod]
    public void Gpt2StreamUsesItsOwnEndOfText()
    {
        int[] stream = TokenStream.Build(["Hello world", "Hello"], LanguageModelTokenizer.Create(TokenizerKind.Gpt2));
        CollectionAssert.AreEqual(new[] { 15496, 995, 50256, 15496, 50256 }, stream);
    }

    [TestMethod]
    public void NoTextIsRejected()
    {
        var none = Assert.ThrowsExactly<ArgumentException>(() => TokenStream.Build([], Bytes));
        StringAssert.Contains(none.Message, "no text");
        var empty = Assert.ThrowsExactly<ArgumentException>(() => TokenStream.Build(["", ""], Bytes));
        StringAssert.Contains(empty.Message, "no text");
    }
}
