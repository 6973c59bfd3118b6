using System.CommandLine;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DiLoCo.Cli;

/// <summary><c>diloco score --model M --text "..."</c>: one PredictionEngine prediction (Loss, Perplexity, TokenCount).</summary>
internal static class ScoreCommand
{
    public static Command Create(CliConsole console)
    {
        var model = CliOptions.Model();
        var text = CliOptions.Text("--text", "TEXT", "The text to score.", required: true);
        var command = new Command("score", "Score one text with a saved model (PredictionEngine): tokens, loss, perplexity.") { model, text };
        command.SetAction(p => Run(p.GetRequiredValue(model), p.GetRequiredValue(text), console.Out));
        return command;
    }

    private static int Run(string modelPath, string text, TextWriter stdout)
    {

        var saved = SavedModel.Load(modelPath);
        var inputSchema = SchemaDefinition.Create(typeof(TextInput));
        inputSchema[0].ColumnName = saved.TextColumnName;
        using var engine = saved.MLContext.Model.CreatePredictionEngine<TextInput, TextScore>(saved.Model, inputSchemaDefinition: inputSchema);
        var score = engine.Predict(new TextInput { Text = text });
        stdout.WriteLine($"tokens:      {score.TokenCount}");
        stdout.WriteLine($"loss:        {score.Loss:F4} nats per token");
        stdout.WriteLine($"perplexity:  {score.Perplexity:F3}");
        return ExitCodes.Success;
    }

    internal sealed class TextInput
    {
        public string Text { get; set; } = "";
    }

    internal sealed class TextScore
    {
        public float Loss { get; set; }
        public float Perplexity { get; set; }
        public int TokenCount { get; set; }
    }
}
