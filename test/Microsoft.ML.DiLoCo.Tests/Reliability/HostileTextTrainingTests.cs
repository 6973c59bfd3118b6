using Microsoft.ML.DiLoCo.Data;
using Microsoft.ML.DiLoCo.Tests.EndToEnd;
using Microsoft.ML.DiLoCo.Tokenization;

namespace Microsoft.ML.DiLoCo.Tests.Reliability;

/// <summary>Training data that is empty, blank, ill-formed UTF-16 or one long row.</summary>
[TestClass]
public sealed class HostileTextTrainingTests
{
    private sealed class BodyRow
    {
        public string? Body { get; set; }
    }

    [TestMethod]
    public void AnAllEmptyOrBlankTrainingSetFailsBeforeTrainingNamingTheColumn()
    {
        var ml = new MLContext(seed: 1);
        var rows = HostileTexts.Blank.Select(t => new BodyRow { Body = t }).Append(new BodyRow { Body = null }).ToArray();
        var options = FitTests.SmallOptions();
        options.TextColumnName = "Body";
        int steps = 0;
        options.Progress = new Progress<TrainingProgressUpdate>(_ => Interlocked.Increment(ref steps));
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(ml.Data.LoadFromEnumerable(rows)));
        StringAssert.Contains(e.Message, "'Body'");
        StringAssert.Contains(e.Message, "holds no text");
        Assert.AreEqual(0, steps, "nothing trained");

        // The same for a validation set.
        options.ValidationSet = ml.Data.LoadFromEnumerable(rows);
        var train = ml.Data.LoadFromEnumerable(SyntheticText.Documents(20, 6, seed: 4).Select(d => new BodyRow { Body = d.Text }));
        var v = Assert.ThrowsExactly<ArgumentException>(() => ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train));
        Assert.AreEqual(nameof(StreamingDiLoCoTrainer.Options.ValidationSet), v.ParamName);
        StringAssert.Contains(v.Message, "'Body'");
    }

    [TestMethod]
    [DataRow(TokenizerKind.Bytes)]
    [DataRow(TokenizerKind.Gpt2)]
    [DataRow(TokenizerKind.Cl100kBase)]
    public void BlankRowsAreSkippedAndLoneSurrogatesReadAsReplacementCharacters(TokenizerKind kind)
    {
        var tokenizer = LanguageModelTokenizer.Create(kind);
        var hostile = HostileTexts.NonEmpty.Concat(HostileTexts.Blank).ToArray();
        var expected = HostileTexts.NonEmpty.SelectMany(t => tokenizer.Encode(HostileTexts.Repaired(t)).Append(tokenizer.EndOfTextId)).ToArray();
        CollectionAssert.AreEqual(expected, TokenStream.Build(hostile, tokenizer));

        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(hostile.Select(t => new SyntheticText.TextRow { Text = t }));
        CollectionAssert.AreEqual(HostileTexts.NonEmpty, TextColumnReader.ReadDocuments(data, "Text"), "blank rows are not documents");
    }

    [TestMethod]
    public void FitTrainsOnHostileRowsMixedWithText()
    {
        var ml = new MLContext(seed: 1);
        var rows = SyntheticText.Documents(20, 6, seed: 4).ToList();
        foreach (string text in HostileTexts.NonEmpty.Concat(HostileTexts.Blank)) rows.Insert(rows.Count / 2, new SyntheticText.TextRow { Text = text });
        var options = FitTests.SmallOptions();
        options.TrainingSteps = 20;
        options.InnerSteps = 10;
        var model = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(ml.Data.LoadFromEnumerable(rows));
        Assert.IsTrue(model.TrainingReport!.MeanInnerLoss.All(float.IsFinite));
    }

    [TestMethod]
    public void AFourMegabyteRowBuildsItsStreamWithOneAllocationOfItsSize()
    {
        string row = LongRows.Prose(4 << 20);
        var tokenizer = LanguageModelTokenizer.Create(TokenizerKind.Bytes);
        long before = GC.GetAllocatedBytesForCurrentThread();
        int[] stream = TokenStream.Build([row], tokenizer);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.AreEqual(row.Length + 1, stream.Length, "ASCII: one token per char, then end-of-text");
        // The stream itself is 4 bytes per token; no byte[] of the text, no second copy of the ids.
        Assert.IsTrue(allocated < 4L * stream.Length + (256 << 10), $"allocated {allocated:N0} bytes for a {stream.Length:N0}-token stream");

        var windows = new PackedWindows(stream, 128);
        Assert.AreEqual((stream.Length - 1) / 128, windows.Count);
    }
}
