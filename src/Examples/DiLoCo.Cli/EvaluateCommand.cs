using System.CommandLine;
using DiLoCo.Configuration;
using Microsoft.ML.DiLoCo;

namespace DiLoCo.Cli;

/// <summary><c>diloco evaluate --model M --data PATH|sotu</c>: Model.Load, Transform, LanguageModeling().Evaluate.</summary>
internal static class EvaluateCommand
{
    public static Command Create(CliConsole console)
    {
        var model = CliOptions.Model();
        var data = CliOptions.Text("--data", "PATH|sotu", "A text file, a folder of *.txt files, a .tsv/.csv file with a header, or \"sotu\" (the held-out State of the Union speeches).", required: true);
        var column = CliOptions.Text("--column", "NAME", "The text column of a .tsv/.csv file (default: the model's text column).");
        var per = CliOptions.Choice("--document-per", "One document per file (default) or per line.", "file", "line");
        var command = new Command("evaluate", "Score held-out text with a saved model: loss, perplexity, bits per byte.") { model, data, column, per };
        command.SetAction(p => Run(p.GetRequiredValue(model), p.GetRequiredValue(data), p.GetValue(column),
            p.GetValue(per) == "line" ? DocumentUnit.Line : DocumentUnit.File, console.Out));
        return command;
    }

    private static int Run(string modelPath, string dataArgument, string? column, DocumentUnit documentPer, TextWriter stdout)
    {
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
