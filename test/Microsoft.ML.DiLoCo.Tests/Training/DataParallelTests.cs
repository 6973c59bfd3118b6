using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Tests.EndToEnd;
using Microsoft.ML.DiLoCo.Training;
using Microsoft.ML.DiLoCo.Training.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Training;

/// <summary>
/// Data-parallel mode is one model trained on the global batch: M workers that each see 1/M of every global
/// batch and average their gradients take the same steps as one worker that sees the whole batch.
/// </summary>
[TestClass]
public sealed class DataParallelTests
{
    private const int HalfBatch = 8;
    private const int Steps = 20;

    /// <summary>The global batches: 2·HalfBatch distinct rows per step, drawn from a fixed permutation.</summary>
    private static int[][] GlobalBatches()
    {
        var random = new Random(11);
        return Enumerable.Range(0, Steps)
            .Select(_ => Enumerable.Range(0, 256).OrderBy(_ => random.Next()).Take(2 * HalfBatch).ToArray())
            .ToArray();
    }

    private static WorkerSettings Settings(double clipNorm, bool adam = true) => new(
        TrainingAlgorithm.DataParallel,
        new SyncSchedule(1, 1, 0),
        FragmentPlan.Explicit(2, new[] { 0, 1 }),
        0f,
        WireCodecs.Create(WireFormat.Float32),
        ErrorFeedback: false,
        adam ? new InnerOptimization(ps => new AdamWOptimizer(ps, 0.05, 0.9, 0.95, 1e-8, 0.01), LearningRateSchedule.Constant(0.05), clipNorm)
             : new InnerOptimization(ps => new SgdOptimizer(ps, 0.05), LearningRateSchedule.Constant(0.05), clipNorm),
        OuterOptimization.Nesterov(0.7, 0.9));

    [TestMethod]
    [DataRow(true, 0.0, DisplayName = "AdamW")]
    [DataRow(true, 0.5, DisplayName = "AdamW, clipping the averaged gradient")]
    [DataRow(false, 0.0, DisplayName = "SGD (not scale-invariant: a sum instead of a mean would show)")]
    public void TwoWorkersOnHalfBatchesEqualOneWorkerOnTheGlobalBatch(bool adam, double clipNorm)
    {
        var global = GlobalBatches();
        var halves = Enumerable.Range(0, 2)
            .Select(m => global.Select(b => b.Skip(m * HalfBatch).Take(HalfBatch).ToArray()).ToArray())
            .ToArray();

        var (pair, _, pairWorkers) = EngineHarness.Run(r => new LinearRegressionReplica(5, halves[r]), 2, Settings(clipNorm, adam), Steps);
        var (single, _, singleWorkers) = EngineHarness.Run(_ => new LinearRegressionReplica(5, global), 1, Settings(clipNorm, adam), Steps);
        try
        {
            for (int t = 0; t <= Steps; t++)
                CollectionAssert.AreEqual(pair[0][t], pair[1][t], $"the two data-parallel replicas differ after step {t}");

            for (int t = 1; t <= Steps; t++)
            {
                // The mean of the two half-batch losses is the global batch's loss.
                float halvesMean = (pairWorkers[0].Statistics.Losses[t - 1] + pairWorkers[1].Statistics.Losses[t - 1]) / 2;
                Assert.AreEqual(singleWorkers[0].Statistics.Losses[t - 1], halvesMean, 1e-5 * Math.Max(1, halvesMean), $"loss of step {t}");
                for (int i = 0; i < pair[0][t].Length; i++)
                    Assert.AreEqual(single[0][t][i], pair[0][t][i], 1e-5, $"parameter {i} after step {t}");
            }

            // Not trivially equal: the two workers saw different rows, the weights moved and the loss fell.
            Assert.AreNotEqual(pairWorkers[0].Statistics.Losses[0], pairWorkers[1].Statistics.Losses[0]);
            Assert.IsTrue(pair[0][Steps].Max(x => Math.Abs(x)) > 0.5f, "parameters moved");
            Assert.IsTrue(singleWorkers[0].Statistics.Losses[^1] < 0.5 * singleWorkers[0].Statistics.Losses[0], "loss fell");
        }
        finally
        {
            foreach (var w in pairWorkers.Concat(singleWorkers)) w.Dispose();
        }
    }

    [TestMethod]
    public void WorkersThatAveragedNothingWouldDiverge()
    {
        // The counterpart that makes the test above meaningful: without the gradient exchange (two independent
        // single-worker runs on the halves), the replicas part ways after the first step.
        var global = GlobalBatches();
        var half0 = global.Select(b => b.Take(HalfBatch).ToArray()).ToArray();
        var half1 = global.Select(b => b.Skip(HalfBatch).ToArray()).ToArray();
        var (a, _, wa) = EngineHarness.Run(_ => new LinearRegressionReplica(5, half0), 1, Settings(0), Steps);
        var (b, _, wb) = EngineHarness.Run(_ => new LinearRegressionReplica(5, half1), 1, Settings(0), Steps);
        try
        {
            CollectionAssert.AreEqual(a[0][0], b[0][0]);
            CollectionAssert.AreNotEqual(a[0][Steps], b[0][Steps]);
        }
        finally
        {
            foreach (var w in wa.Concat(wb)) w.Dispose();
        }
    }

    [TestMethod]
    public void DataParallelFitReportsTheLossOfEachWorker()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticText.Documents(20, 10, seed: 9));
        var options = new StreamingDiLoCoTrainer.Options
        {
            Algorithm = TrainingAlgorithm.DataParallel,
            Model = new TransformerOptions { ContextLength = 16, EmbeddingSize = 16, NumberOfLayers = 1, NumberOfHeads = 2 },
            NumberOfWorkers = 2,
            BatchSize = 4,
            TrainingSteps = 12,
            WarmupSteps = 2,
            InnerLearningRate = 3e-3f,
            Seed = 4,
        };

        var report = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train).TrainingReport!;

        Assert.AreEqual(TrainingAlgorithm.DataParallel, report.Algorithm);
        Assert.AreEqual(2, report.InnerLossPerWorker.Count);
        foreach (var losses in report.InnerLossPerWorker)
        {
            Assert.AreEqual(12, losses.Count);
            Assert.IsTrue(losses.All(float.IsFinite));
        }
        // Each worker reports the loss of its own shard's batch, and the mean is their average.
        Assert.IsTrue(Enumerable.Range(0, 12).Any(t => report.InnerLossPerWorker[0][t] != report.InnerLossPerWorker[1][t]),
            "the workers see different batches");
        for (int t = 0; t < 12; t++)
            Assert.AreEqual((report.InnerLossPerWorker[0][t] + report.InnerLossPerWorker[1][t]) / 2, report.MeanInnerLoss[t], 1e-6);
        Assert.AreEqual(report.DataParallelBytesSentPerWorker, report.BytesSentPerWorker, "FP32 gradients every step");
    }
}
