using Microsoft.ML.DiLoCo.Data;

namespace Microsoft.ML.DiLoCo.Tests.Data;

[TestClass]
public sealed class TextColumnReaderTests
{
    private sealed class StringRow
    {
        public string? Text { get; set; }
        public float Score { get; set; }
    }

    private sealed class MemoryRow
    {
        public ReadOnlyMemory<char> Body { get; set; }
    }

    [TestMethod]
    public void ReadsStringColumnSkippingEmptyRows()
    {
        var ml = new MLContext(seed: 0);
        IDataView data = ml.Data.LoadFromEnumerable(new[]
        {
            new StringRow { Text = "first" }, new StringRow { Text = "" }, new StringRow { Text = null }, new StringRow { Text = "second é" },
        });
        CollectionAssert.AreEqual(new[] { "first", "second é" }, TextColumnReader.ReadDocuments(data, "Text"));
    }

    [TestMethod]
    public void ReadsReadOnlyMemoryColumn()
    {
        var ml = new MLContext(seed: 0);
        IDataView data = ml.Data.LoadFromEnumerable(new[]
        {
            new MemoryRow { Body = "alpha".AsMemory() }, new MemoryRow { Body = ReadOnlyMemory<char>.Empty }, new MemoryRow { Body = "beta".AsMemory() },
        });
        CollectionAssert.AreEqual(new[] { "alpha", "beta" }, TextColumnReader.ReadDocuments(data, "Body"));
    }

    [TestMethod]
    public void MissingColumnNamesItAndTheAvailableOnes()
    {
        var ml = new MLContext(seed: 0);
        IDataView data = ml.Data.LoadFromEnumerable(new[] { new StringRow { Text = "x" } });
        var error = Assert.ThrowsExactly<ArgumentException>(() => TextColumnReader.ReadDocuments(data, "Content"));
        StringAssert.Contains(error.Message, "'Content'");
        StringAssert.Contains(error.Message, "'Text'");
        StringAssert.Contains(error.Message, "'Score'");
    }

    [TestMethod]
    public void NonTextColumnNamesItAndItsType()
    {
        var ml = new MLContext(seed: 0);
        IDataView data = ml.Data.LoadFromEnumerable(new[] { new StringRow { Text = "x", Score = 1 } });
        var error = Assert.ThrowsExactly<ArgumentException>(() => TextColumnReader.ReadDocuments(data, "Score"));
        StringAssert.Contains(error.Message, "'Score'");
        StringAssert.Contains(error.Message, "Single");
    }
}
