// The Model Builder shape for a language model: SotuModel.training.cs trains and saves, SotuModel.consumption.cs
// loads and predicts. This program does both, the way a new user would after copying the two files into an app.
//
//   dotnet run -c Release --project src/Examples/ModelBuilderStyle [-- --steps 600 --model SotuModel.mlnet --retrain]
using Microsoft.ML;
using Microsoft.ML.DiLoCo;
using ModelBuilderStyle;

int steps = 600;
bool retrain = false;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--steps" when i + 1 < args.Length: steps = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
        case "--model" when i + 1 < args.Length: SotuModel.MLNetModelPath = Path.GetFullPath(args[++i]); break;
        case "--retrain": retrain = true; break;
        default: Console.Error.WriteLine("usage: [--steps N] [--model PATH] [--retrain]"); return 2;
    }
}

// 1. Training (what Model Builder's "Train" page runs): only when there is no saved model yet.
if (retrain || !File.Exists(SotuModel.MLNetModelPath))
{
    Console.WriteLine($"Training {steps} steps on the State of the Union addresses; saving to {SotuModel.MLNetModelPath} ...");
    SotuModel.Train(SotuModel.MLNetModelPath, steps);
}

// 2. Consumption (what Model Builder's "Consume" page shows): a lazy PredictionEngine over the saved file.
string[] samples =
{
    "Fellow-Citizens of the Senate and House of Representatives: ",
    "The state of the Union is strong.",
    "Colorless green ideas sleep furiously.",
};
foreach (var text in samples)
{
    var output = SotuModel.Predict(new SotuModel.ModelInput { Text = text });
    Console.WriteLine($"{output.Loss,7:F3} nats/byte  perplexity {output.Perplexity,7:F2}  {output.TokenCount,3} tokens  \"{text}\"");
}

// Generation needs the model's own type: a model saved by Microsoft.ML.DiLoCo loads as a LanguageModelTransformer.
var mlContext = new MLContext();
var model = (LanguageModelTransformer)mlContext.Model.Load(SotuModel.MLNetModelPath, out _);
Console.WriteLine(samples[0] + model.Generate(samples[0], new GenerationOptions { MaxNewTokens = 200, Temperature = 0.8f, TopK = 40, Seed = 1 }));
return 0;
