using DiLoCo.Configuration;

namespace Microsoft.ML.DiLoCo.Tests.Configuration;

/// <summary>Each data source reads the documents it should, and the validation splits hold out the right ones.</summary>
[TestClass]
public sealed class TextDocumentSourceTests
{
    private string _folder = "";

    [TestInitialize]
    public void CreateFolder()
    {
        _folder = Path.Combine(Path.GetTempPath(), "diloco-sources-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(_folder, "texts", "more"));
        File.WriteAllText(Path.Combine(_folder, "texts", "b.txt"), "second file\nline two\n");
        File.WriteAllText(Path.Combine(_folder, "texts", "a.txt"), "first file\r\n\r\n  line two  \r\n");
        File.WriteAllText(Path.Combine(_folder, "texts", "notes.md"), "not text");
        File.WriteAllText(Path.Combine(_folder, "texts", "more", "c.txt"), "nested");
        File.WriteAllText(Path.Combine(_folder, "table.csv"), "Id,Text\n1,\"hello, world\"\n2,plain\n");
        File.WriteAllText(Path.Combine(_folder, "table.tsv"), "Text\tLabel\nfirst row\tx\nsecond row\ty\n");
    }

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    private TrainingConfig Config(string data, string validation = "") => TrainingConfig.Parse(
        $$"""{ "version": 1, "scenario": "LanguageModeling", "data": {{data}}{{(validation.Length > 0 ? ", \"validation\": " + validation : "")}} }""", _folder);

    private IReadOnlyList<string> Read(string data) => TextDocumentSource.Read(Config(data).Data, _folder);

    [TestMethod]
    public void FilesAreOneDocumentEachOrOnePerLine()
    {
        CollectionAssert.AreEqual(new[] { "second file\nline two\n", "first file\r\n\r\n  line two  \r\n" },
            Read("""{ "source": "files", "paths": ["texts/b.txt", "texts/a.txt"] }""").ToArray());
        CollectionAssert.AreEqual(new[] { "first file", "line two", "second file", "line two" },
            Read("""{ "source": "files", "paths": ["texts/a.txt", "texts/b.txt"], "documentPer": "line" }""").ToArray());
    }

    [TestMethod]
    public void AFolderMatchesItsPatternInPathOrder()
    {
        CollectionAssert.AreEqual(new[] { "first file", "line two", "second file", "line two" },
            Read("""{ "source": "folder", "path": "texts", "documentPer": "line" }""").ToArray());
        Assert.AreEqual(3, Read("""{ "source": "folder", "path": "texts", "recursive": true }""").Count);
        Assert.AreEqual("not text", Read("""{ "source": "folder", "path": "texts", "pattern": "*.md" }""").Single());
    }

    [TestMethod]
    public void ATableColumnIsReadByHeaderName()
    {
        CollectionAssert.AreEqual(new[] { "hello, world", "plain" }, Read("""{ "source": "table", "path": "table.csv", "column": "Text" }""").ToArray());
        CollectionAssert.AreEqual(new[] { "first row", "second row" }, Read("""{ "source": "table", "path": "table.tsv", "column": "Text" }""").ToArray());
        var e = Assert.ThrowsExactly<TrainingConfigException>(() => Read("""{ "source": "table", "path": "table.tsv", "column": "Body" }"""));
        Assert.AreEqual("data.column", e.Field);
        StringAssert.Contains(e.Message, "\"Text\", \"Label\"");
    }

    [TestMethod]
    public void MissingFilesAndFoldersNameTheirField()
    {
        Assert.AreEqual("data.paths[1]", Assert.ThrowsExactly<TrainingConfigException>(() => Read("""{ "source": "files", "paths": ["texts/a.txt", "texts/zzz.txt"] }""")).Field);
        Assert.AreEqual("data.path", Assert.ThrowsExactly<TrainingConfigException>(() => Read("""{ "source": "folder", "path": "nowhere" }""")).Field);
        Assert.AreEqual("data.pattern", Assert.ThrowsExactly<TrainingConfigException>(() => Read("""{ "source": "folder", "path": "texts", "pattern": "*.json" }""")).Field);
        Assert.AreEqual("data.path", Assert.ThrowsExactly<TrainingConfigException>(() => Read("""{ "source": "table", "path": "none.tsv", "column": "Text" }""")).Field);
    }

    [TestMethod]
    public void SplitsHoldOutEvenlySpacedDocuments()
    {
        var docs = Enumerable.Range(1, 20).Select(i => i.ToString()).ToArray();
        var every = new ValidationSplitConfig { Split = ValidationSplitKind.EveryNth, Every = 10 }.Apply(docs);
        CollectionAssert.AreEqual(new[] { "10", "20" }, every.Validation);
        Assert.AreEqual(18, every.Train.Count);
        var fraction = new ValidationSplitConfig { Split = ValidationSplitKind.Fraction, Fraction = 0.25 }.Apply(docs);
        CollectionAssert.AreEqual(new[] { "4", "8", "12", "16", "20" }, fraction.Validation);
        Assert.AreEqual(15, fraction.Train.Count);
    }

    [TestMethod]
    public void LoadDataBuildsTheTextColumnAndTheValidationSet()
    {
        var ml = new MLContext(seed: 1);
        var config = TrainingConfig.Parse("""
            { "version": 1, "scenario": "LanguageModeling", "textColumn": "Body",
              "data": { "source": "folder", "path": "texts", "documentPer": "line" },
              "validation": { "split": "source", "data": { "source": "table", "path": "table.tsv", "column": "Text" } } }
            """, _folder);
        var data = config.LoadData(ml);
        Assert.AreEqual((4, 2), (data.TrainDocuments, data.ValidationDocuments));
        Assert.IsNotNull(data.Train.Schema.GetColumnOrNull("Body"));
        Assert.AreEqual("Body", config.CreateTrainerOptions(data.Validation).TextColumnName);
        Assert.AreSame(data.Validation, config.CreateTrainerOptions(data.Validation).ValidationSet);

        var tooFew = Config("""{ "source": "files", "paths": ["texts/b.txt"], "documentPer": "line" }""", """{ "split": "everyNth", "every": 5 }""");
        Assert.AreEqual("validation", Assert.ThrowsExactly<TrainingConfigException>(() => tooFew.LoadData(ml)).Field);
    }
}
