using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.DiLoCo;

namespace DiLoCo.Configuration;

/// <summary>
/// A JSON training config in the spirit of Model Builder's <c>.mbconfig</c>: scenario, data source, text column,
/// tokenizer, model shape, trainer options, validation split and output paths, versioned. Every field is
/// documented in <c>docs/config.md</c>. <see cref="Load"/> and <see cref="Parse"/> check every value before
/// anything is trained; a bad value throws <see cref="TrainingConfigException"/> naming the field's JSON path
/// (e.g. <c>trainer.innerSteps</c>) and the allowed values, and unknown fields are rejected by name.
/// </summary>
public sealed class TrainingConfig
{
    /// <summary>The config format version this library reads.</summary>
    public const int CurrentVersion = 1;

    /// <summary>The only scenario so far.</summary>
    public const string LanguageModelingScenario = "LanguageModeling";

    /// <summary>The format version of the file (<see cref="CurrentVersion"/>).</summary>
    public int Version { get; init; } = CurrentVersion;

    /// <summary>The scenario (<see cref="LanguageModelingScenario"/>).</summary>
    public string Scenario { get; init; } = LanguageModelingScenario;

    /// <summary>The training text.</summary>
    public required DataSourceConfig Data { get; init; }

    /// <summary>The validation split. Default none.</summary>
    public ValidationSplitConfig Validation { get; init; } = new();

    /// <summary>The output paths.</summary>
    public OutputConfig Output { get; init; } = new();

    /// <summary>
    /// The trainer options the config sets: text column, tokenizer, model and every trainer field (each missing
    /// field keeps the library default). <see cref="StreamingDiLoCoTrainer.Options.ValidationSet"/> is null here:
    /// <see cref="CreateTrainerOptions"/> fills it.
    /// </summary>
    public required StreamingDiLoCoTrainer.Options Trainer { get; init; }

    /// <summary>The folder relative data paths are resolved against (the config file's folder).</summary>
    public string BaseDirectory { get; init; } = System.IO.Directory.GetCurrentDirectory();

    /// <summary>Reads and checks a config file.</summary>
    /// <exception cref="TrainingConfigException">The file is missing, is not JSON (the message gives the line), or a field is unknown or out of range.</exception>
    public static TrainingConfig Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new TrainingConfigException("", $"the config file {full} does not exist.");
        return Parse(File.ReadAllText(full), Path.GetDirectoryName(full)!);
    }

    /// <summary>Parses and checks config JSON; relative data paths resolve against <paramref name="baseDirectory"/>.
    /// Comments (<c>//</c>, <c>/* */</c>) and trailing commas are allowed.</summary>
    /// <exception cref="TrainingConfigException">The text is not JSON (the message gives the line), or a field is unknown or out of range.</exception>
    public static TrainingConfig Parse(string json, string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentException.ThrowIfNullOrWhiteSpace(baseDirectory);
        byte[] utf8 = JsonLineMap.Utf8(json);
        var documentOptions = new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8, documentOptions);
        }
        catch (JsonException e)
        {
            // JsonException counts lines and bytes from 0.
            long? line = e.LineNumber + 1, column = e.BytePositionInLine + 1;
            string reason = e.Message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0].TrimEnd('.', ' ');
            throw new TrainingConfigException("", $"not valid JSON at line {line}, column {column}: {reason}.", (int?)line, e);
        }
        using (document)
        {
            var lines = JsonLineMap.Build(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            return TrainingConfigReader.Read(new ConfigObject(document.RootElement, "", lines), Path.GetFullPath(baseDirectory));
        }
    }

    /// <summary>A copy of <see cref="Trainer"/> with <paramref name="validationSet"/> and the optional progress listener.</summary>
    public StreamingDiLoCoTrainer.Options CreateTrainerOptions(IDataView? validationSet, IProgress<TrainingProgressUpdate>? progress = null)
    {
        var options = Trainer.Clone();
        options.ValidationSet = validationSet;
        options.Progress = progress;
        return options;
    }

    /// <summary>
    /// Reads the training text (and the validation text) the config names into data views with one text column
    /// named <see cref="StreamingDiLoCoTrainer.Options.TextColumnName"/>.
    /// </summary>
    /// <exception cref="TrainingConfigException">A file or folder is missing, a table lacks the column, or a split leaves no text.</exception>
    public TrainingData LoadData(MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        var documents = TextDocumentSource.Read(Data, BaseDirectory);
        List<string> train, validation;
        if (Validation.Split == ValidationSplitKind.Source)
        {
            train = documents.ToList();
            validation = TextDocumentSource.Read(Validation.Data!, BaseDirectory).ToList();
        }
        else
        {
            (train, validation) = Validation.Apply(documents);
        }
        if (train.Count == 0)
            throw new TrainingConfigException("validation", $"leaves no training documents ({documents.Count} in data).");
        if (Validation.Split != ValidationSplitKind.None && validation.Count == 0)
            throw new TrainingConfigException("validation", $"holds out no document ({documents.Count} in data): raise the fraction or lower 'every'.");
        string column = Trainer.TextColumnName;
        return new TrainingData(
            TextDocumentSource.ToDataView(mlContext, train, column),
            Validation.Split == ValidationSplitKind.None ? null : TextDocumentSource.ToDataView(mlContext, validation, column),
            train.Count, validation.Count);
    }
}

/// <summary>The text a <see cref="TrainingConfig"/> names, as ML.NET data.</summary>
/// <param name="Train">The training documents, one per row.</param>
/// <param name="Validation">The held-out documents, or null without validation.</param>
/// <param name="TrainDocuments">Rows of <paramref name="Train"/>.</param>
/// <param name="ValidationDocuments">Rows of <paramref name="Validation"/> (0 without validation).</param>
public sealed record TrainingData(IDataView Train, IDataView? Validation, int TrainDocuments, int ValidationDocuments);
