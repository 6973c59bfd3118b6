using Microsoft.ML.DiLoCo.Scoring;

namespace Microsoft.ML.DiLoCo.Tests.Scoring;

[TestClass]
public sealed class ScoredTextDataViewTests
{
    private static readonly MLContext Ml = new(seed: 1);

    public sealed class ScoredTextRowWithLoss
    {
        public string Text { get; set; } = "";
        public float Loss { get; set; }
    }

    private static TextRow[] Rows(int count) =>
        Enumerable.Range(0, count).Select(i => new TextRow { Id = i, Text = new string((char)('a' + i % 26), i % 7) + "x" + i }).ToArray();

    private static void AssertScored(TextRow[] rows, IReadOnlyList<ScoredRow> scored)
    {
        Assert.HasCount(rows.Length, scored);
        for (int i = 0; i < rows.Length; i++)
        {
            var expected = FakeTextScorer.Expected(rows[i].Text);
            Assert.AreEqual(rows[i].Id, scored[i].Id);
            Assert.AreEqual(rows[i].Text, scored[i].Text);
            Assert.AreEqual(expected.Loss, scored[i].Loss, $"row {i}");
            Assert.AreEqual(expected.Perplexity, scored[i].Perplexity, $"row {i}");
            Assert.AreEqual(expected.TokenCount, scored[i].TokenCount, $"row {i}");
        }
    }

    [TestMethod]
    public void ScoresEachRowAndPassesInputColumnsThrough()
    {
        var rows = new[] { new TextRow { Id = 7, Text = "hello" }, new TextRow { Id = 8, Text = "a longer text here" } };
        var factory = new ScorerFactory<FakeTextScorer>();
        var view = new ScoredTextDataView(Ml.Data.LoadFromEnumerable(rows), "Text", factory.Create);

        var scored = Ml.Data.CreateEnumerable<ScoredRow>(view, reuseRowObject: false).ToList();

        AssertScored(rows, scored);
        Assert.AreEqual(0.5f, scored[0].Loss);
        Assert.AreEqual(5, scored[0].TokenCount);
        Assert.AreEqual(2, factory.Made.Single().SingleCalls);
    }

    [TestMethod]
    public void EmptyTextHasNoTokensAndNaNLoss()
    {
        var view = new ScoredTextDataView(Ml.Data.LoadFromEnumerable(new[] { new TextRow { Id = 1, Text = "" } }), "Text", () => new FakeTextScorer());

        var row = Ml.Data.CreateEnumerable<ScoredRow>(view, reuseRowObject: false).Single();

        Assert.AreEqual(0, row.TokenCount);
        Assert.IsTrue(float.IsNaN(row.Loss));
        Assert.IsTrue(float.IsNaN(row.Perplexity));
    }

    [TestMethod]
    public void AnInputLossColumnIsHiddenByTheScore()
    {
        var input = Ml.Data.LoadFromEnumerable(new[] { new TextRowWithLoss { Text = "abcd", Loss = -123 } });
        var view = new ScoredTextDataView(input, "Text", () => new FakeTextScorer());

        var row = Ml.Data.CreateEnumerable<ScoredTextRowWithLoss>(view, reuseRowObject: false).Single();

        Assert.AreEqual(0.4f, row.Loss);
        Assert.IsTrue(view.Schema[input.Schema["Loss"].Index].IsHidden);
        Assert.AreEqual(input.Schema.Count + 3, view.Schema.Count);
    }

    [TestMethod]
    public void ScoresLazilyAndOncePerRow()
    {
        var rows = Rows(5);
        var factory = new ScorerFactory<FakeTextScorer>();
        var view = new ScoredTextDataView(Ml.Data.LoadFromEnumerable(rows), "Text", factory.Create);

        // Input columns only: no scorer is made at all.
        using (var cursor = view.GetRowCursor([view.Schema["Id"]]))
        {
            Assert.IsFalse(cursor.IsColumnActive(view.Schema["Loss"]));
            while (cursor.MoveNext()) { }
        }
        Assert.IsEmpty(factory.Made);

        // Three score getters read twice per row, and one row skipped: one scorer call per row read.
        using (var cursor = view.GetRowCursor(view.Schema))
        {
            var loss = cursor.GetGetter<float>(view.Schema["Loss"]);
            var perplexity = cursor.GetGetter<float>(view.Schema["Perplexity"]);
            var tokens = cursor.GetGetter<int>(view.Schema["TokenCount"]);
            float l = 0, p = 0; int t = 0;
            while (cursor.MoveNext())
            {
                if (cursor.Position == 2)
                    continue;
                loss(ref l); perplexity(ref p); tokens(ref t); loss(ref l); tokens(ref t);
                Assert.AreEqual(FakeTextScorer.Expected(rows[cursor.Position].Text).TokenCount, t);
            }
        }
        Assert.AreEqual(4, factory.Made.Single().SingleCalls);
        Assert.IsTrue(factory.Made.Single().Disposed, "the cursor disposes the scorer it asked for");
    }

    [TestMethod]
    public void GetterOfWrongTypeOrInactiveColumnThrows()
    {
        var view = new ScoredTextDataView(Ml.Data.LoadFromEnumerable(Rows(2)), "Text", () => new FakeTextScorer());
        using var cursor = view.GetRowCursor([view.Schema["Loss"]]);

        Assert.ThrowsExactly<InvalidOperationException>(() => cursor.GetGetter<int>(view.Schema["Loss"]));
        Assert.ThrowsExactly<InvalidOperationException>(() => cursor.GetGetter<int>(view.Schema["TokenCount"]));
    }

    [TestMethod]
    public void DelegatesRowCountAndShuffling()
    {
        var input = Ml.Data.LoadFromEnumerable(Rows(3));
        var view = new ScoredTextDataView(input, "Text", () => new FakeTextScorer());

        Assert.AreEqual(input.GetRowCount(), view.GetRowCount());
        Assert.AreEqual(input.CanShuffle, view.CanShuffle);
        Assert.HasCount(1, view.GetRowCursorSet(view.Schema, 4));
    }

    [TestMethod]
    public void BadTextColumnIsRejectedByName()
    {
        var input = Ml.Data.LoadFromEnumerable(Rows(1));
        var missing = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ScoredTextDataView(input, "Body", () => new FakeTextScorer()));
        StringAssert.Contains(missing.Message, "'Body'");
        var notText = Assert.ThrowsExactly<ArgumentException>(() => new ScoredTextDataView(input, "Id", () => new FakeTextScorer()));
        StringAssert.Contains(notText.Message, "'Id'");
    }

    [TestMethod]
    public void BatchScorerGetsReadAheadBatches()
    {
        var rows = Rows(70);
        var factory = new ScorerFactory<FakeBatchScorer>();
        var view = new ScoredTextDataView(Ml.Data.LoadFromEnumerable(rows), "Text", factory.Create, batchSize: 32);

        AssertScored(rows, Ml.Data.CreateEnumerable<ScoredRow>(view, reuseRowObject: false).ToList());

        var scorer = factory.Made.Single();
        CollectionAssert.AreEqual(new[] { 32, 32, 6 }, scorer.BatchSizes);
        Assert.AreEqual(0, scorer.SingleCalls);
        Assert.IsTrue(scorer.Disposed);
    }

    [TestMethod]
    public void BatchesStartAtTheFirstRowThatIsRead()
    {
        var rows = Rows(10);
        var factory = new ScorerFactory<FakeBatchScorer>();
        var view = new ScoredTextDataView(Ml.Data.LoadFromEnumerable(rows), "Text", factory.Create, batchSize: 4);

        using (var cursor = view.GetRowCursor(view.Schema))
        {
            var tokens = cursor.GetGetter<int>(view.Schema["TokenCount"]);
            int t = 0;
            while (cursor.MoveNext())
            {
                if (cursor.Position is 0 or 1 or 5)
                    continue;
                tokens(ref t);
                Assert.AreEqual(rows[cursor.Position].Text.Length, t, $"row {cursor.Position}");
            }
        }
        // Rows 2-5 in one batch (5 scored though unread), 6-9 in the next.
        CollectionAssert.AreEqual(new[] { 4, 4 }, factory.Made.Single().BatchSizes);
    }

    [TestMethod]
    public void ShuffledCursorScoresRowByRow()
    {
        var rows = Rows(20);
        var factory = new ScorerFactory<FakeBatchScorer>();
        var view = new ScoredTextDataView(Ml.Data.Cache(Ml.Data.LoadFromEnumerable(rows)), "Text", factory.Create);
        Assert.IsTrue(view.CanShuffle);

        var seen = new List<int>();
        using (var cursor = view.GetRowCursor(view.Schema, new Random(3)))
        {
            var id = cursor.GetGetter<int>(view.Schema["Id"]);
            var tokens = cursor.GetGetter<int>(view.Schema["TokenCount"]);
            int i = 0, t = 0;
            while (cursor.MoveNext())
            {
                id(ref i); tokens(ref t);
                Assert.AreEqual(rows[i].Text.Length, t);
                seen.Add(i);
            }
        }
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 20).ToList(), seen);
        CollectionAssert.AreNotEqual(Enumerable.Range(0, 20).ToList(), seen, "the cursor was not shuffled");
        Assert.IsEmpty(factory.Made.Single().BatchSizes);
        Assert.AreEqual(20, factory.Made.Single().SingleCalls);
    }

    [TestMethod]
    public void InputWhoseCursorsDisagreeIsStillScoredRight()
    {
        // LoadFromEnumerable enumerates the sequence afresh per cursor: this one gives a different order each time.
        var rows = Rows(12);
        int enumerations = 0;
        IEnumerable<TextRow> Rotating()
        {
            int shift = enumerations++;
            for (int i = 0; i < rows.Length; i++)
                yield return rows[(i + shift) % rows.Length];
        }
        var factory = new ScorerFactory<FakeBatchScorer>();
        var view = new ScoredTextDataView(Ml.Data.LoadFromEnumerable(Rotating()), "Text", factory.Create, batchSize: 4);

        var scored = Ml.Data.CreateEnumerable<ScoredRow>(view, reuseRowObject: false).ToList();

        Assert.AreEqual(2, enumerations, "the read-ahead cursor was opened");
        Assert.HasCount(12, scored);
        foreach (var row in scored)
            Assert.AreEqual(FakeTextScorer.Expected(row.Text), new TextScore(row.Loss, row.Perplexity, row.TokenCount));
        Assert.HasCount(1, factory.Made.Single().BatchSizes, "batching stops at the first mismatch");
        Assert.AreEqual(12, factory.Made.Single().SingleCalls);
    }
}
