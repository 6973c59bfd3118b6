using Microsoft.ML.Data;
using Microsoft.ML.DiLoCo.Scoring;

namespace Microsoft.ML.DiLoCo.Tests.Scoring;

[TestClass]
public sealed class ScoreColumnsTests
{
    public sealed class TextVectorRow
    {
        [VectorType(2)]
        public string[] Text { get; set; } = ["a", "b"];
    }

    public sealed class NumberRow
    {
        public int Text { get; set; }
    }

    private static readonly MLContext Ml = new(seed: 1);

    private static DataViewSchema SchemaOf<T>() where T : class => Ml.Data.LoadFromEnumerable(Array.Empty<T>()).Schema;

    // SchemaShape has no public factory from a schema: an estimator that adds T's columns to an empty shape gives one.
    private static SchemaShape ShapeOf<T>() where T : class, new() =>
        Ml.Transforms.CustomMapping<ScoreColumns.NoColumns, T>((_, _) => { }, contractName: null).GetOutputSchema(new SchemaShape([]));

    [TestMethod]
    public void SchemaKeepsInputColumnsAndAppendsTheScores()
    {
        var input = SchemaOf<TextRow>();
        var output = ScoreColumns.AddTo(input);

        Assert.HasCount(input.Count + 3, output);
        Assert.AreEqual("Id", output[0].Name);
        Assert.AreEqual("Text", output[1].Name);
        Assert.AreEqual(TextDataViewType.Instance, output[1].Type);
        Assert.AreEqual(NumberDataViewType.Single, output["Loss"].Type);
        Assert.AreEqual(NumberDataViewType.Single, output["Perplexity"].Type);
        Assert.AreEqual(NumberDataViewType.Int32, output["TokenCount"].Type);
        Assert.AreEqual(input.Count, output["Loss"].Index);
    }

    [TestMethod]
    public void SchemaHidesAnInputColumnWithAScoreName()
    {
        var input = SchemaOf<TextRowWithLoss>();
        var output = ScoreColumns.AddTo(input);

        int oldLoss = input["Loss"].Index;
        Assert.IsTrue(output[oldLoss].IsHidden);
        Assert.AreEqual(NumberDataViewType.Double, output[oldLoss].Type);
        Assert.AreEqual(NumberDataViewType.Single, output["Loss"].Type);
        Assert.AreEqual(input.Count, output["Loss"].Index);
    }

    [TestMethod]
    public void ShapeReplacesScoreNamesAndHasTheRightTypes()
    {
        var input = ShapeOf<TextRowWithLoss>();
        Assert.HasCount(2, input);

        var output = ScoreColumns.AddTo(input).ToDictionary(c => c.Name);

        Assert.HasCount(4, output);
        Assert.IsInstanceOfType<TextDataViewType>(output["Text"].ItemType);
        foreach (var (name, type) in new[] { ("Loss", NumberDataViewType.Single), ("Perplexity", NumberDataViewType.Single), ("TokenCount", NumberDataViewType.Int32) })
        {
            Assert.AreEqual(type, output[name].ItemType, name);
            Assert.AreEqual(SchemaShape.Column.VectorKind.Scalar, output[name].Kind, name);
            Assert.IsFalse(output[name].IsKey, name);
        }
    }

    [TestMethod]
    public void MissingColumnErrorNamesItAndListsTheColumns()
    {
        var schemaError = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ScoreColumns.CheckTextColumn(SchemaOf<TextRow>(), "Body"));
        var shapeError = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ScoreColumns.CheckTextColumn(ShapeOf<TextRowWithLoss>(), "Body"));

        foreach (var error in new[] { schemaError, shapeError })
        {
            StringAssert.Contains(error.Message, "'Body'");
            StringAssert.Contains(error.Message, "'Text'");
        }
    }

    [TestMethod]
    public void NonTextColumnErrorNamesItAndItsType()
    {
        var number = Assert.ThrowsExactly<ArgumentException>(() => ScoreColumns.CheckTextColumn(SchemaOf<NumberRow>(), "Text"));
        StringAssert.Contains(number.Message, "'Text'");
        StringAssert.Contains(number.Message, "Int32");

        var vector = Assert.ThrowsExactly<ArgumentException>(() => ScoreColumns.CheckTextColumn(SchemaOf<TextVectorRow>(), "Text"));
        StringAssert.Contains(vector.Message, "'Text'");
        StringAssert.Contains(vector.Message, "Vector");

        var shapeNumber = Assert.ThrowsExactly<ArgumentException>(() => ScoreColumns.CheckTextColumn(ShapeOf<NumberRow>(), "Text"));
        StringAssert.Contains(shapeNumber.Message, "Int32");
        var shapeVector = Assert.ThrowsExactly<ArgumentException>(() => ScoreColumns.CheckTextColumn(ShapeOf<TextVectorRow>(), "Text"));
        StringAssert.Contains(shapeVector.Message, "Vector");
    }

    [TestMethod]
    public void TextColumnPasses()
    {
        ScoreColumns.CheckTextColumn(SchemaOf<TextRow>(), "Text");
        ScoreColumns.CheckTextColumn(ShapeOf<TextRowWithLoss>(), "Text");
    }
}
