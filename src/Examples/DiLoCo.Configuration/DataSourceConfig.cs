namespace DiLoCo.Configuration;

/// <summary>Where a config's text comes from (the <c>data</c> field, or <c>validation.data</c>).</summary>
public enum DataSourceKind
{
    /// <summary>A list of text files (<see cref="DataSourceConfig.Paths"/>).</summary>
    Files,
    /// <summary>Every file in a folder that matches a pattern (<see cref="DataSourceConfig.Path"/>, <see cref="DataSourceConfig.Pattern"/>).</summary>
    Folder,
    /// <summary>One column of a TSV or CSV file with a header row (<see cref="DataSourceConfig.Path"/>, <see cref="DataSourceConfig.Column"/>).</summary>
    Table,
    /// <summary>The built-in State of the Union corpus (233 speeches, 1790–2021; see <see cref="SotuCorpus"/>).</summary>
    Sotu,
}

/// <summary>How a text file is cut into documents (rows of the training data).</summary>
public enum DocumentUnit
{
    /// <summary>The whole file is one document.</summary>
    File,
    /// <summary>Each non-blank line is one document.</summary>
    Line,
}

/// <summary>A data source of a training config. Which fields apply depends on <see cref="Source"/>.</summary>
public sealed class DataSourceConfig
{
    /// <summary>The kind of source.</summary>
    public DataSourceKind Source { get; init; }

    /// <summary><see cref="DataSourceKind.Files"/>: the files, relative to the config file's folder unless absolute.</summary>
    public IReadOnlyList<string> Paths { get; init; } = Array.Empty<string>();

    /// <summary><see cref="DataSourceKind.Folder"/>: the folder; <see cref="DataSourceKind.Table"/>: the TSV/CSV file.</summary>
    public string? Path { get; init; }

    /// <summary><see cref="DataSourceKind.Folder"/>: the file-name pattern (<c>*</c> and <c>?</c>). Default <c>*.txt</c>.</summary>
    public string Pattern { get; init; } = "*.txt";

    /// <summary><see cref="DataSourceKind.Folder"/>: include sub-folders. Default false.</summary>
    public bool Recursive { get; init; }

    /// <summary><see cref="DataSourceKind.Files"/> and <see cref="DataSourceKind.Folder"/>: one document per file or per line. Default per file.</summary>
    public DocumentUnit DocumentPer { get; init; } = DocumentUnit.File;

    /// <summary><see cref="DataSourceKind.Table"/>: the header name of the text column.</summary>
    public string? Column { get; init; }

    /// <summary><see cref="DataSourceKind.Table"/>: the field separator. Default tab for <c>.tsv</c>/<c>.txt</c>, comma for <c>.csv</c>.</summary>
    public char? Separator { get; init; }

    /// <summary><see cref="DataSourceKind.Sotu"/>: folder holding (or to receive) the corpus tarball. Default <see cref="SotuCorpus.DefaultCacheDirectory"/>.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>The JSON path this source was read from (<c>data</c> or <c>validation.data</c>), for errors.</summary>
    public string JsonPath { get; init; } = "data";
}
