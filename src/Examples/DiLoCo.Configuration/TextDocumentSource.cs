using Microsoft.ML;
using Microsoft.ML.Data;

namespace DiLoCo.Configuration;

/// <summary>Reads the documents a <see cref="DataSourceConfig"/> names, and turns documents into ML.NET data.</summary>
public static class TextDocumentSource
{
    /// <summary>
    /// The documents of <paramref name="source"/>, in a stable order (files as listed; a folder's files sorted by
    /// path; table rows as in the file; speeches by year). Relative paths resolve against <paramref name="baseDirectory"/>.
    /// </summary>
    /// <exception cref="TrainingConfigException">A file or folder is missing, a table lacks the column, or the source holds no text.</exception>
    public static IReadOnlyList<string> Read(DataSourceConfig source, string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(baseDirectory);
        string at = source.JsonPath;
        List<string> documents;
        switch (source.Source)
        {
            case DataSourceKind.Files:
                documents = new List<string>();
                for (int i = 0; i < source.Paths.Count; i++)
                {
                    string file = Path.GetFullPath(source.Paths[i], baseDirectory);
                    if (!File.Exists(file)) throw new TrainingConfigException($"{at}.paths[{i}]", $"the file {file} does not exist.");
                    documents.AddRange(Split(File.ReadAllText(file), source.DocumentPer));
                }
                break;
            case DataSourceKind.Folder:
                string folder = Path.GetFullPath(source.Path!, baseDirectory);
                if (!Directory.Exists(folder)) throw new TrainingConfigException($"{at}.path", $"the folder {folder} does not exist.");
                var files = Directory.GetFiles(folder, source.Pattern, source.Recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly);
                if (files.Length == 0)
                    throw new TrainingConfigException($"{at}.pattern", $"no file in {folder} matches \"{source.Pattern}\"{(source.Recursive ? " (sub-folders included)" : "")}.");
                Array.Sort(files, StringComparer.Ordinal);
                documents = files.SelectMany(f => Split(File.ReadAllText(f), source.DocumentPer)).ToList();
                break;
            case DataSourceKind.Table:
                documents = ReadTable(source, Path.GetFullPath(source.Path!, baseDirectory));
                break;
            case DataSourceKind.Sotu:
                string cache = source.CacheDirectory is null ? SotuCorpus.DefaultCacheDirectory() : Path.GetFullPath(source.CacheDirectory, baseDirectory);
                documents = SotuCorpus.ReadSpeeches(SotuCorpus.EnsureTarball(cache)).Select(s => s.Text).ToList();
                break;
            default:
                throw new TrainingConfigException($"{at}.source", $"unknown source {source.Source}.");
        }
        documents.RemoveAll(string.IsNullOrWhiteSpace);
        if (documents.Count == 0) throw new TrainingConfigException(at, "holds no text (every document is empty).");
        return documents;
    }

    /// <summary>One row per document, in a single text column named <paramref name="textColumnName"/>.</summary>
    public static IDataView ToDataView(MLContext mlContext, IEnumerable<string> documents, string textColumnName = "Text")
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentException.ThrowIfNullOrWhiteSpace(textColumnName);
        var schema = SchemaDefinition.Create(typeof(TextDocument));
        schema[0].ColumnName = textColumnName;
        return mlContext.Data.LoadFromEnumerable(documents.Select(d => new TextDocument { Text = d }).ToList(), schema);
    }

    private static IEnumerable<string> Split(string text, DocumentUnit unit) => unit == DocumentUnit.Line
        ? text.ReplaceLineEndings("\n").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0)
        : new[] { text };

    // A header row names the columns; ML.NET's text loader reads the quoted fields.
    private static List<string> ReadTable(DataSourceConfig source, string file)
    {
        string at = source.JsonPath;
        if (!File.Exists(file)) throw new TrainingConfigException($"{at}.path", $"the file {file} does not exist.");
        char separator = source.Separator ?? (Path.GetExtension(file).Equals(".csv", StringComparison.OrdinalIgnoreCase) ? ',' : '\t');
        string header = File.ReadLines(file).FirstOrDefault() ?? "";
        var names = header.Split(separator).Select(n => n.Trim().Trim('"')).ToArray();
        int index = Array.IndexOf(names, source.Column);
        if (index < 0)
            throw new TrainingConfigException($"{at}.column",
                $"the header of {file} has no column \"{source.Column}\" (separator '{(separator == '\t' ? "\\t" : separator.ToString())}'); its columns: {string.Join(", ", names.Select(n => $"\"{n}\""))}.");
        var ml = new MLContext(seed: 0);
        var view = ml.Data.LoadFromTextFile(file, new Microsoft.ML.Data.TextLoader.Options
        {
            HasHeader = true,
            Separators = new[] { separator },
            AllowQuoting = true,
            ReadMultilines = true,
            Columns = new[] { new Microsoft.ML.Data.TextLoader.Column("Text", DataKind.String, index) },
        });
        // Empty rows are dropped here and by Read alike.
        return view.GetColumn<string>("Text").Where(d => !string.IsNullOrWhiteSpace(d)).ToList();
    }

    /// <summary>A row of one text column (renamed by the schema definition).</summary>
    private sealed class TextDocument
    {
        public string Text { get; set; } = "";
    }
}
