// Usage: ModelLoadCheck <model.zip> <text>...
// Loads the model the way a new program would and prints, per text, the scores' exact bits:
//   score <loss bits hex> <perplexity bits hex> <token count>
// then the loaded transformer's type and a greedy continuation of the first text (10 tokens).
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.DiLoCo;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: ModelLoadCheck <model.zip> <text>...");
    return 2;
}

var ml = new MLContext();
ITransformer loaded = ml.Model.Load(args[0], out _);
var engine = ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(loaded);
foreach (var text in args.Skip(1))
{
    var output = engine.Predict(new ModelInput { Text = text });
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"score {BitConverter.SingleToInt32Bits(output.Loss):x8} {BitConverter.SingleToInt32Bits(output.Perplexity):x8} {output.TokenCount}"));
}
Console.WriteLine($"type {loaded.GetType().FullName}");
if (loaded is LanguageModelTransformer model)
{
    string continuation = model.Generate(args[1], new GenerationOptions { MaxNewTokens = 10, Temperature = 0 });
    Console.WriteLine("generated " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(continuation)));
}
return 0;

/// <summary>The model's input row.</summary>
public sealed class ModelInput
{
    public string Text { get; set; } = "";
}

/// <summary>The score columns the model adds.</summary>
public sealed class ModelOutput
{
    public float Loss { get; set; }
    public float Perplexity { get; set; }
    public int TokenCount { get; set; }
}
