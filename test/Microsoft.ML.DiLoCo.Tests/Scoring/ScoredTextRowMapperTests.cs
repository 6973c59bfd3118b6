using Microsoft.ML.DiLoCo.Scoring;

namespace Microsoft.ML.DiLoCo.Tests.Scoring;

[TestClass]
public sealed class ScoredTextRowMapperTests
{
    private static readonly MLContext Ml = new(seed: 1);

    private static readonly TextRow[] Rows =
    [
        new() { Id = 1, Text = "first text" },
        new() { Id = 2, Text = "" },
        new() { Id = 3, Text = "the third, longer text" },
        new() { Id = 4, Text = "the third, longer text" },
        new() { Id = 5, Text = "x" },
    ];

    [TestMethod]
    public void PredictionEngineGivesWhatTheDataViewGives()
    {
        var factory = new ScorerFactory<FakeTextScorer>();
        var transformer = new ScoringTransformer("Text", factory.Create);
        var fromView = Ml.Data.CreateEnumerable<ScoredRow>(transformer.Transform(Ml.Data.LoadFromEnumerable(Rows)), reuseRowObject: false).ToList();

        using var engine = Ml.Model.CreatePredictionEngine<TextRow, ScoredRow>(transformer);
        var fromEngine = Rows.Select(engine.Predict).ToList();

        Assert.HasCount(Rows.Length, fromEngine);
        for (int i = 0; i < Rows.Length; i++)
        {
            Assert.AreEqual(fromView[i].Id, fromEngine[i].Id);
            Assert.AreEqual(fromView[i].Text, fromEngine[i].Text);
            Assert.AreEqual(fromView[i].Loss, fromEngine[i].Loss, $"row {i}");
            Assert.AreEqual(fromView[i].Perplexity, fromEngine[i].Perplexity, $"row {i}");
            Assert.AreEqual(fromView[i].TokenCount, fromEngine[i].TokenCount, $"row {i}");
            Assert.AreEqual(Rows[i].Text.Length, fromEngine[i].TokenCount, $"row {i}");
        }
        // One scorer for the data view's cursor and one for the engine's row; each text scored once by each.
        Assert.HasCount(2, factory.Made);
        Assert.AreEqual(Rows.Length, factory.Made[1].SingleCalls);
    }

    [TestMethod]
    public void DependenciesAreTheTextColumnOnlyWhenAScoreIsRequested()
    {
        var input = Ml.Data.LoadFromEnumerable(Rows).Schema;
        var mapper = new ScoredTextRowMapper(input, "Text", () => new FakeTextScorer());
        var output = mapper.OutputSchema;

        CollectionAssert.AreEqual(new[] { "Id" }, mapper.GetDependencies([output["Id"]]).Select(c => c.Name).ToArray());
        CollectionAssert.AreEqual(new[] { "Text" }, mapper.GetDependencies([output["Perplexity"]]).Select(c => c.Name).ToArray());
        CollectionAssert.AreEquivalent(new[] { "Id", "Text" }, mapper.GetDependencies([output["Id"], output["TokenCount"], output["Text"]]).Select(c => c.Name).ToArray());
        Assert.IsEmpty(mapper.GetDependencies([]));
        Assert.AreSame(input, mapper.InputSchema);
        Assert.AreEqual(input.Count + 3, output.Count);
    }

    [TestMethod]
    public void RowFromAnotherSchemaIsRejected()
    {
        var mapper = new ScoredTextRowMapper(Ml.Data.LoadFromEnumerable(Rows).Schema, "Text", () => new FakeTextScorer());
        var other = Ml.Data.LoadFromEnumerable(Rows);
        using var cursor = other.GetRowCursor(other.Schema);

        var error = Assert.ThrowsExactly<ArgumentException>(() => mapper.GetRow(cursor, mapper.OutputSchema));
        Assert.AreEqual("input", error.ParamName);
    }

    [TestMethod]
    public void RowFollowsItsInputCursor()
    {
        var input = Ml.Data.LoadFromEnumerable(Rows);
        var factory = new ScorerFactory<FakeTextScorer>();
        var mapper = new ScoredTextRowMapper(input.Schema, "Text", factory.Create);
        using var cursor = input.GetRowCursor(input.Schema);
        using var row = mapper.GetRow(cursor, [mapper.OutputSchema["TokenCount"], mapper.OutputSchema["Id"]]);
        var tokens = row.GetGetter<int>(mapper.OutputSchema["TokenCount"]);
        Assert.IsFalse(row.IsColumnActive(mapper.OutputSchema["Loss"]));

        var seen = new List<int>();
        int t = 0;
        while (cursor.MoveNext())
        {
            tokens(ref t);
            tokens(ref t);
            seen.Add(t);
            Assert.AreEqual(cursor.Position, row.Position);
        }
        CollectionAssert.AreEqual(Rows.Select(r => r.Text.Length).ToList(), seen);
        Assert.AreEqual(Rows.Length, factory.Made.Single().SingleCalls);
        row.Dispose();
        Assert.IsTrue(factory.Made.Single().Disposed);
    }
}
