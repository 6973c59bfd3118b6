using System.Diagnostics;
using ByomCharLstm;
using Microsoft.ML.DiLoCo;

// Bring your own model: a character-level LSTM with its own loop, trained plainly on one worker, then with
// Streaming DiLoCo on 2 in-process workers (threads) by adding the lines docs/byom.md shows.
// Usage: dotnet run -c Release --project src/Examples/ByomCharLstm -- [--steps 300] [--workers 2]
//        [--algorithm StreamingDiLoCo|DiLoCo|DataParallel] [--characters 400000] [--skip-plain]
int steps = 300, workers = 2, characters = 400_000;
var algorithm = TrainingAlgorithm.StreamingDiLoCo;
bool skipPlain = false;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--steps": steps = int.Parse(args[++i]); break;
        case "--workers": workers = int.Parse(args[++i]); break;
        case "--characters": characters = int.Parse(args[++i]); break;
        case "--algorithm": algorithm = Enum.Parse<TrainingAlgorithm>(args[++i], ignoreCase: true); break;
        case "--skip-plain": skipPlain = true; break;
        default: Console.Error.WriteLine($"Unknown argument '{args[i]}'."); return 2;
    }
}

var corpus = CharCorpus.Load(characters);
Console.WriteLine($"{corpus.Source}: {corpus.TrainCharacters:N0} training characters, {corpus.VocabularySize} distinct");
var settings = new ExampleSettings(steps, BatchSize: 32, SequenceLength: 64, LearningRate: 3e-3, Seed: 1, Log: Console.WriteLine);

float plain = float.NaN;
var clock = Stopwatch.StartNew();
if (!skipPlain)
{
    TorchSharp.torch.set_num_threads(1); // the same one thread per worker as below: a like-for-like clock
    Console.WriteLine($"-- plain loop, 1 worker, {steps} steps");
    plain = PlainTraining.Train(corpus, settings);
    Console.WriteLine($"held-out loss {plain:F3} nats/char ({clock.Elapsed.TotalSeconds:F0} s)");
}

// H = 30 inner steps, the LSTM's 3 top-level children (embed, lstm, head) as 3 strided fragments, τ = 1, α = 0.5, FP4 on the wire.
var options = new StreamingDiLoCoOptions { Algorithm = algorithm, InnerSteps = 30, NumberOfFragments = 3, OverlapSteps = 1 };
Console.WriteLine($"-- {algorithm}, {workers} workers on threads, {steps} steps each");
var losses = new float[workers];
clock.Restart();
StreamingDiLoCo.RunInProcess(workers, (rank, collective) =>
    losses[rank] = StreamingDiLoCoTraining.Train(corpus, settings with { Log = rank == 0 ? settings.Log : null }, collective, options));
Console.WriteLine($"held-out loss of θ̂ {losses[0]:F3} nats/char ({clock.Elapsed.TotalSeconds:F0} s); every worker holds the same θ̂: {losses.All(l => l == losses[0])}");
if (!skipPlain) Console.WriteLine($"plain {plain:F3} vs {algorithm} {losses[0]:F3} ({workers}× the tokens, the same number of steps)");
return 0;
