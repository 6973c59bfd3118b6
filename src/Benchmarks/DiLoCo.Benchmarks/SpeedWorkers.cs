using Microsoft.ML;
using Microsoft.ML.DiLoCo;

namespace DiLoCo.Benchmarks;

/// <summary>One configuration of the workers-on-threads comparison.</summary>
internal sealed record WorkerConfiguration(string Name, int Workers, TrainingAlgorithm Algorithm, int InnerSteps);

/// <summary>
/// One run of a configuration through the public trainer: tokens/s over all workers (the report's, evaluation excluded),
/// and per step, mean over workers: wall time, compute (forward, backward, AdamW, clipping, and for data-parallel the
/// gradient averaging's own work), time blocked on the exchange, and the outer sync's own work.
/// </summary>
internal sealed record WorkerRun(string Configuration, int Workers, int Steps, double TokensPerSecond, double WallPerStep,
    double ComputePerStep, double WaitPerStep, double SyncPerStep);

/// <summary>
/// In-process workers on threads (one torch thread each, as the trainer runs them): one worker against two with the same
/// per-worker batch, and data-parallel against DiLoCo with two workers, through <c>Fit</c> on the same text. The
/// configurations run in turn, repeated, so that a burst of load on the shared machine hits each of them alike.
/// </summary>
internal static class SpeedWorkers
{
    public const int Width = 128, Layers = 4, Heads = 4, BatchPerWorker = 16, ContextLength = 128;

    public static readonly WorkerConfiguration[] Configurations =
    {
        new("1 worker (DiLoCo, no sync in the run)", 1, TrainingAlgorithm.DiLoCo, 0),
        new("2 workers on 2 threads (DiLoCo, no sync in the run)", 2, TrainingAlgorithm.DiLoCo, 0),
        new("2 workers, DiLoCo H = 10 (FP32)", 2, TrainingAlgorithm.DiLoCo, 10),
        new("2 workers, data-parallel (FP32 gradients every step)", 2, TrainingAlgorithm.DataParallel, 1),
    };

    public static List<WorkerRun> Run(IDataView text, int steps, int repetitions, Action<string>? log = null)
    {
        var ml = new MLContext(seed: 1);
        var runs = new List<WorkerRun>();
        for (int rep = 0; rep < repetitions; rep++)
            foreach (var c in Configurations)
            {
                var options = new StreamingDiLoCoTrainer.Options
                {
                    Tokenizer = TokenizerKind.Bytes,
                    Model = new TransformerOptions { ContextLength = ContextLength, EmbeddingSize = Width, NumberOfLayers = Layers, NumberOfHeads = Heads },
                    NumberOfWorkers = c.Workers,
                    Algorithm = c.Algorithm,
                    InnerSteps = c.InnerSteps > 0 ? c.InnerSteps : steps,
                    TrainingSteps = steps,
                    BatchSize = BatchPerWorker,
                    WarmupSteps = 0,
                    EvaluationInterval = steps,
                    WireFormat = WireFormat.Float32,
                    Seed = 1,
                };
                var report = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(text).TrainingReport!;
                var run = new WorkerRun(c.Name, c.Workers, steps, report.TokensPerSecond,
                    report.Workers.Average(w => w.WallSeconds) / steps, report.ComputeSeconds / steps,
                    report.CommunicationWaitSeconds / steps, report.Workers.Average(w => w.SyncSeconds) / steps);
                runs.Add(run);
                log?.Invoke($"  {c.Name}: {run.TokensPerSecond:N0} tokens/s, {run.WallPerStep * 1000:F1} ms/step wall, " +
                            $"{run.ComputePerStep * 1000:F1} compute, {run.WaitPerStep * 1000:F1} wait, {run.SyncPerStep * 1000:F1} sync");
            }
        return runs;
    }
}
