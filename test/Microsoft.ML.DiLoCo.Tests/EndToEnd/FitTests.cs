using Microsoft.ML.Data;

namespace Microsoft.ML.DiLoCo.Tests.EndToEnd;

/// <summary>The whole path from MLContext: Fit on generated text, scores, report, generation.</summary>
[TestClass]
public sealed class FitTests
{
    internal static StreamingDiLoCoTrainer.Options SmallOptions(IDataView? validation = null) => new()
    {
        Model = new TransformerOptions { ContextLength = 32, EmbeddingSize = 32, NumberOfLayers = 2, NumberOfHeads = 2 },
        NumberOfWorkers = 2,
        InnerSteps = 20,
        NumberOfFragments = 2,
        OverlapSteps = 1,
        MixingAlpha = 0.5f,
        WireFormat = WireFormat.Float4E3M0,
        InnerLearningRate = 3e-3f,
        WarmupSteps = 10,
        BatchSize = 8,
        TrainingSteps = 160,
        EvaluationInterval = 40,
        ValidationSet = validation,
        Seed = 7,
    };

    [TestMethod]
    public void FitLearnsTheTextAndReportsWhatItCost()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticText.Documents(60, 20, seed: 1));
        var valid = ml.Data.LoadFromEnumerable(SyntheticText.Documents(8, 20, seed: 2));
        var options = SmallOptions(valid);

        var model = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train);
        var report = model.TrainingReport!;

        double uniform = Math.Log(257);
        Assert.AreEqual(5, report.Validation.Count, "validation at 0, 40, 80, 120 and the end");
        Assert.AreEqual(uniform, report.Validation[0].Loss, 0.3, "an untrained model is near uniform");
        Assert.IsTrue(report.Validation[^1].Loss < 0.5 * uniform, $"validation loss {report.Validation[^1].Loss:F3} should fall well below ln 257 = {uniform:F3}");
        Assert.IsTrue(report.Validation[^1].Loss < report.Validation[1].Loss, "validation loss keeps falling");

        // Schedule and bytes: one fragment every H/P = 10 steps, FP4 on the wire, then (the default FinalModel, the replicas'
        // average) every fragment once more after the last step.
        Assert.AreEqual(16, report.Syncs.Count(s => s.ApplyStep <= 160));
        CollectionAssert.AreEquivalent(new[] { 0, 1 }, report.Syncs.Where(s => s.ApplyStep > 160).Select(s => s.Fragment).ToArray());
        Assert.AreEqual(160, report.MeanInnerLoss.Count);
        Assert.AreEqual(report.Syncs.Sum(s => s.BytesSent), report.BytesSentPerWorker);
        Assert.IsTrue(report.CommunicationReduction > 0.9 * 8 * options.InnerSteps * 16 / 18,
            $"FP4 Streaming DiLoCo should send about 8H·16/18 = {8 * options.InnerSteps * 16 / 18}× less than data-parallel; got {report.CommunicationReduction:F0}×");
        Assert.IsTrue(report.LargestMessageBytes < report.ParameterCount, "the largest message is one fragment in 4 bits, far below the model in FP32");
        Assert.IsTrue(report.ComputeUtilisation is > 0 and <= 1.0001, $"utilisation {report.ComputeUtilisation}");
        // 16 syncs did real work (difference, FP4 encoding, averaging, outer step, merge), far less than the 160 inner steps.
        Assert.IsTrue(report.Workers.All(w => w.SyncSeconds > 0), "every worker timed its sync work");
        Assert.IsTrue(report.SyncOverhead is > 0 and < 0.5, $"sync overhead {report.SyncOverhead:P2} of compute");
        StringAssert.Contains(report.ToJson(), "\"CommunicationReduction\"");

        // The paper's Table 3 comparison: replica 0 and the replicas' mean, evaluated on the same windows as θ̂.
        var replicas = report.Replicas!;
        Assert.AreEqual(2, replicas.Replicas);
        Assert.IsTrue(replicas.Replica0Loss < 0.5 * uniform && replicas.ReplicaMeanLoss < 0.5 * uniform, $"replicas learned too: {replicas}");
        Assert.AreNotEqual(replicas.Replica0Loss, replicas.ReplicaMeanLoss, "two workers on different shards drift apart between syncs");
        Assert.AreNotEqual(report.Validation[^1].Loss, replicas.Replica0Loss, "θ̂ is not a replica");

        // Transform adds the score columns; their token-weighted loss is close to the report's validation loss.
        var scored = ml.Data.CreateEnumerable<SyntheticText.ScoredRow>(model.Transform(valid), reuseRowObject: false).ToArray();
        Assert.AreEqual(8, scored.Length);
        double weighted = scored.Sum(r => (double)r.Loss * r.TokenCount) / scored.Sum(r => r.TokenCount);
        Assert.AreEqual(report.Validation[^1].Loss, weighted, 0.25, "scored loss of the validation texts");
        foreach (var row in scored)
        {
            Assert.AreEqual(System.Text.Encoding.UTF8.GetByteCount(row.Text), row.TokenCount, "every byte is predicted once");
            Assert.AreEqual(Math.Exp(row.Loss), row.Perplexity, 1e-3 * row.Perplexity);
        }

        // Generation continues in the style of the text.
        string text = model.Generate("the cat", new GenerationOptions { MaxNewTokens = 40, Temperature = 0, Seed = 1 });
        Assert.IsTrue(text.Length > 0);
        Assert.AreEqual(text, model.Generate("the cat", new GenerationOptions { MaxNewTokens = 40, Temperature = 0, Seed = 2 }), "greedy is deterministic");
    }

    [TestMethod]
    public void DeterministicFitIsBitIdenticalRunToRun()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticText.Documents(30, 10, seed: 3));
        var options = SmallOptions();
        options.TrainingSteps = 40;
        var a = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train);
        var b = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train);
        CollectionAssert.AreEqual(a.TrainingReport!.MeanInnerLoss.ToArray(), b.TrainingReport!.MeanInnerLoss.ToArray());
        var probe = ml.Data.LoadFromEnumerable(SyntheticText.Documents(3, 5, seed: 4));
        var sa = ml.Data.CreateEnumerable<SyntheticText.ScoredRow>(a.Transform(probe), false).Select(r => r.Loss).ToArray();
        var sb = ml.Data.CreateEnumerable<SyntheticText.ScoredRow>(b.Transform(probe), false).Select(r => r.Loss).ToArray();
        CollectionAssert.AreEqual(sa, sb);
    }

    [TestMethod]
    public void WithOneWorkerTheReplicaMeanIsReplicaZero()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticText.Documents(20, 10, seed: 3));
        var valid = ml.Data.LoadFromEnumerable(SyntheticText.Documents(4, 10, seed: 4));
        var options = SmallOptions(valid);
        options.NumberOfWorkers = 1;
        options.TrainingSteps = 30;
        var replicas = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train).TrainingReport!.Replicas!;
        Assert.AreEqual(1, replicas.Replicas);
        Assert.AreEqual(replicas.Replica0Loss, replicas.ReplicaMeanLoss, "the mean of one replica is that replica");
    }

    [TestMethod]
    [DataRow(TrainingAlgorithm.DataParallel)]
    [DataRow(TrainingAlgorithm.DiLoCo)]
    public void BaselinesTrainThroughTheSameApi(TrainingAlgorithm algorithm)
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticText.Documents(30, 10, seed: 5));
        var options = SmallOptions();
        options.Algorithm = algorithm;
        options.TrainingSteps = 60;
        var report = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train).TrainingReport!;
        Assert.IsTrue(report.MeanInnerLoss.Skip(50).Average() < report.MeanInnerLoss.Take(5).Average() - 1, "loss falls");
        if (algorithm == TrainingAlgorithm.DataParallel)
        {
            Assert.AreEqual(0, report.Syncs.Count);
            Assert.IsNull(report.Replicas, "data-parallel replicas are the model itself");
            Assert.AreEqual(report.DataParallelBytesSentPerWorker, report.BytesSentPerWorker, "data-parallel sends exactly its own formula");
        }
        else
        {
            Assert.AreEqual(3 + 1, report.Syncs.Count, "DiLoCo: all parameters every H = 20 steps, and once more for the replicas' average");
            Assert.AreEqual(1, report.NumberOfFragments);
        }
    }
}
