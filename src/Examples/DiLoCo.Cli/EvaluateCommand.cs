using Microsoft.ML.DiLoCo;
using Microsoft.ML.DiLoCo.Configuration;

namespace DiLoCo.Cli;

/// <summary><c>diloco evaluate --model M --data PATH|sotu</c>: Model.Load, Transform, LanguageModeling().Evaluate.</summary>
internal static class EvaluateCommand
{
    public static int Run(CommandArguments flags, TextWriter stdout)
    {
        string modelPath = flags.Required("--model");
        string dataArgument = flags.Required("--data");
        string? column = flags.String("--column");
        string? per = flags.String("--document-per");
        flags.RejectUnused();
        var documentPer = per switch
        {
            null or "file" => DocumentUnit.File,
            "line" => DocumentUnit.Line,
            _ => throw new UsageException($"evaluate: --document-per must be file or line; got '{per}'."),
        };

        var saved = SavedModel.Load(modelPath);
        var documents = ReadDocuments(dataArgument, column ?? saved.TextColumnName, documentPer);
        var data = TextDocumentSource.ToDataView(saved.MLContext, documents, saved.TextColumnName);
        var metrics = saved.MLContext.LanguageModeling().Evaluate(saved.Model.Transform(data), saved.TextColumnName);
        stdout.WriteLine($"documents:      {documents.Count:N0}");
        stdout.WriteLine($"tokens:         {metrics.TokenCount:N0}");
        stdout.WriteLine($"loss:           {metrics.Loss:F4} nats per token");
        stdout.WriteLine($"perplexity:     {metrics.Perplexity:F3}");
        stdout.WriteLine($"bits per byte:  {metrics.BitsPerByte:F4}");
        return ExitCodes.Success;
    }

    private static IReadOnlyList<string> ReadDocuments(string argument, string column, DocumentUnit documentPer)
    {
        if (argument == "sotu")
        {
            // The held-out speeches: every 10th, as in the main job and the sotu config.
            var all = TextDocumentSource.Read(new DataSourceConfig { Source = DataSourceKind.Sotu, JsonPath = "--data" }, Directory.GetCurrentDirectory());
            return new ValidationSplitConfig { Split = ValidationSplitKind.EveryNth, Every = SotuCorpus.ValidationEvery }.Apply(all).Validation;
        }
        string full = Path.GetFullPath(argument);
        string extension = Path.GetExtension(full).ToLowerInvariant();
        var source = Directory.Exists(full)
            ? new DataSourceConfig { Source = DataSourceKind.Folder, Path = full, DocumentPer = documentPer, JsonPath = "--data" }
            : extension is ".tsv" or ".csv"
                ? new DataSourceConfig { Source = DataSourceKind.Table, Path = full, Column = column, JsonPath = "--data" }
                : new DataSourceConfig { Source = DataSourceKind.Files, Paths = new[] { full }, DocumentPer = documentPer, JsonPath = "--data" };
        return TextDocumentSource.Read(source, Directory.GetCurrentDirectory());
    }
}
