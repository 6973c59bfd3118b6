using Microsoft.ML;
using Microsoft.ML.Data;

namespace DiLoCo.Cli;

/// <summary><c>diloco score --model M --text "..."</c>: one PredictionEngine prediction (Loss, Perplexity, TokenCount).</summary>
internal static class ScoreCommand
{
    public static int Run(CommandArguments flags, TextWriter stdout)
    {
        string modelPath = flags.Required("--model");
        string text = flags.Required("--text");
        flags.RejectUnused();

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
