using Microsoft.ML.DiLoCo.Tests.EndToEnd;

namespace Microsoft.ML.DiLoCo.Tests.Reliability;

/// <summary>
/// Everything a user runs, while a background thread forces full collections and runs finalizers without pause: the way
/// a temporary TorchSharp <c>Scalar</c> gets freed while libtorch still reads it (ENVIRONMENT.md, "implicit Scalars";
/// issue 12). Training with 2 in-process workers (Streaming DiLoCo, DiLoCo, data-parallel), a checkpoint and resume,
/// Transform, a PredictionEngine and Generate, once each; then Streaming DiLoCo training, the busiest path, until the time
/// budget is spent. Budget: DILOCO_GC_STRESS_SECONDS (default 30); docs/reliability.md gives the long runs.
/// </summary>
[TestClass]
public sealed class GcStressTests
{
    private static readonly TrainingAlgorithm[] Algorithms = { TrainingAlgorithm.StreamingDiLoCo, TrainingAlgorithm.DiLoCo, TrainingAlgorithm.DataParallel };

    [TestMethod]
    public void EverythingSurvivesFullCollectionsWithoutPause()
    {
        double budget = double.TryParse(Environment.GetEnvironmentVariable("DILOCO_GC_STRESS_SECONDS"), out var s) ? s : 30;
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticText.Documents(30, 10, seed: 1));
        var valid = ml.Data.LoadFromEnumerable(SyntheticText.Documents(4, 5, seed: 2));

        using var hammer = new CollectionHammer();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long steps = 0;
        foreach (var algorithm in Algorithms) steps += Round(ml, train, valid, algorithm);
        long endToEnd = steps;
        steps += TrainUntil(ml, train, TimeSpan.FromSeconds(Math.Max(5, budget - clock.Elapsed.TotalSeconds)));
        hammer.Stop();
        Console.WriteLine($"GC stress: {endToEnd} inner steps end to end, then {steps - endToEnd} of Streaming DiLoCo; " +
                          $"{hammer.Collections} forced full collections in {clock.Elapsed.TotalSeconds:F0} s");
        Assert.IsTrue(hammer.Collections > 10, "the hammer ran during the runs");
    }

    /// <summary>Streaming DiLoCo on 2 workers until <paramref name="duration"/> has passed; returns the inner steps run.</summary>
    private static long TrainUntil(MLContext ml, IDataView train, TimeSpan duration)
    {
        long steps = 0;
        using var cancellation = new CancellationTokenSource(duration);
        var options = Options(TrainingAlgorithm.StreamingDiLoCo, directory: null);
        options.TrainingSteps = 1_000_000;
        options.CancellationToken = cancellation.Token;
        options.Progress = new SynchronousProgress(_ => steps++);
        Assert.ThrowsExactly<OperationCanceledException>(() => ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train));
        return steps;
    }

    /// <summary>Fit to half way, cancel (checkpoint), Fit again (resume), then score and generate; returns the inner steps run.</summary>
    private static long Round(MLContext ml, IDataView train, IDataView valid, TrainingAlgorithm algorithm)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"diloco-gc-stress-{Environment.ProcessId}-{algorithm}");
        try
        {
            long steps = 0;
            using var cancellation = new CancellationTokenSource();
            var options = Options(algorithm, directory);
            options.CancellationToken = cancellation.Token;
            options.Progress = new SynchronousProgress(u =>
            {
                steps++;
                if (u.Step == options.TrainingSteps / 2) cancellation.Cancel();
            });
            Assert.ThrowsExactly<OperationCanceledException>(() => ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train),
                $"{algorithm}: the cancelled run stops with a checkpoint");
            options.CancellationToken = CancellationToken.None;
            var model = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train); // resumes from the checkpoint
            Assert.IsTrue(float.IsFinite(model.TrainingReport!.MeanInnerLoss[^1]), $"{algorithm}: finite loss after resume");

            var scored = ml.Data.CreateEnumerable<SyntheticText.ScoredRow>(model.Transform(valid), reuseRowObject: false).ToArray();
            Assert.IsTrue(scored.All(r => float.IsFinite(r.Loss)), $"{algorithm}: Transform");
            using var engine = ml.Model.CreatePredictionEngine<SyntheticText.TextRow, SyntheticText.ScoredRow>(model);
            for (int i = 0; i < 8; i++)
                Assert.IsTrue(float.IsFinite(engine.Predict(new SyntheticText.TextRow { Text = $"the cat sees the moon {i}." }).Loss), $"{algorithm}: PredictionEngine");
            Assert.IsNotNull(model.Generate("the cat", new GenerationOptions { MaxNewTokens = 24, Temperature = 0.8f, Seed = 3 }));
            return steps;
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    private static StreamingDiLoCoTrainer.Options Options(TrainingAlgorithm algorithm, string? directory) => new()
    {
        Algorithm = algorithm,
        Model = new TransformerOptions { ContextLength = 16, EmbeddingSize = 16, NumberOfLayers = 2, NumberOfHeads = 2 },
        NumberOfWorkers = 2,
        InnerSteps = 8,
        NumberOfFragments = algorithm == TrainingAlgorithm.StreamingDiLoCo ? 2 : 1,
        OverlapSteps = algorithm == TrainingAlgorithm.StreamingDiLoCo ? 1 : 0,
        InnerLearningRate = 3e-3f,
        WarmupSteps = 5,
        BatchSize = 2,
        TrainingSteps = 32,
        CheckpointDirectory = directory,
        CheckpointInterval = 8,
        Seed = 7,
    };

    /// <summary>A thread that forces full, blocking collections and runs the finalizers, over and over, until stopped.</summary>
    private sealed class CollectionHammer : IDisposable
    {
        private readonly Thread _thread;
        private volatile bool _stop;

        public CollectionHammer()
        {
            _thread = new Thread(() =>
            {
                while (!_stop)
                {
                    GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);
                    GC.WaitForPendingFinalizers();
                    Collections++;
                }
            }) { IsBackground = true, Name = "GC hammer" };
            _thread.Start();
        }

        public long Collections { get; private set; }

        public void Stop()
        {
            _stop = true;
            _thread.Join();
        }

        public void Dispose() => Stop();
    }
}
