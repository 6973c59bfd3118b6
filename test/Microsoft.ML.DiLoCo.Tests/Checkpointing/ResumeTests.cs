using Microsoft.ML.DiLoCo.Checkpointing;
using Microsoft.ML.DiLoCo.Tests.EndToEnd;

namespace Microsoft.ML.DiLoCo.Tests.Checkpointing;

[TestClass]
public sealed class ResumeTests
{
    private static (float[] Global, TrainingReport Report)? _straight;

    // The uninterrupted run every resume is compared with (no checkpoints at all).
    private static (float[] Global, TrainingReport Report) Straight() => _straight ??= CheckpointRuns.Train(CheckpointRuns.Options());

    // 1 KB chunks: every tensor of the tiny model but the smallest is written and read in several pieces.
    [TestMethod]
    [DataRow(0)]
    [DataRow(1024)]
    public void CancelledThenResumedRunIsBitIdenticalToTheUninterruptedOne(int chunkBytes)
    {
        int savedChunk = CheckpointFile.ChunkBytes;
        if (chunkBytes > 0) CheckpointFile.ChunkBytes = chunkBytes;
        try { CancelAndResume(); }
        finally { CheckpointFile.ChunkBytes = savedChunk; }
    }

    private static void CancelAndResume()
    {
        var (global, report) = Straight();
        string dir = CheckpointRuns.NewDirectory();
        using var cancel = new CancellationTokenSource();
        var o = CheckpointRuns.Options(dir);
        o.CancellationToken = cancel.Token;
        var e = Assert.ThrowsExactly<OperationCanceledException>(() => CheckpointRuns.Train(o, afterStep: t => { if (t == 13) cancel.Cancel(); }));
        StringAssert.Contains(e.Message, dir, "the message says where the checkpoint is");
        var store = new CheckpointStore(dir, 2);
        long stoppedAt = store.Files().First().Step;
        Assert.IsTrue(stoppedAt is > 13 and < 32, $"stopped at {stoppedAt}");
        Assert.AreNotEqual(3L, stoppedAt % 4, "τ = 1: a step ≡ 3 mod 4 has an exchange in flight and is never a stop step");

        var log = new List<string>();
        var resumed = CheckpointRuns.Train(CheckpointRuns.Options(dir), log);
        Assert.IsTrue(log.Any(l => l.Contains($"Resuming from") && l.Contains($"at step {stoppedAt}")), string.Join("\n", log));
        CheckpointRuns.AssertBitIdentical(global, resumed.Global, "θ̂");
        for (int w = 0; w < 2; w++)
            CheckpointRuns.AssertBitIdentical(report.InnerLossPerWorker[w].ToArray(), resumed.Report.InnerLossPerWorker[w].ToArray(), $"losses of worker {w}");
    }

    [TestMethod]
    public void FitWithACancelledTokenWritesACheckpointAndTheNextFitResumesFromIt()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticText.Documents(20, 6, seed: 4));
        var options = CheckpointRuns.Options();
        options.TrainingSteps = 16;
        var straight = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train).TrainingReport!;

        string dir = CheckpointRuns.NewDirectory();
        options.CheckpointDirectory = dir;
        using var cancel = new CancellationTokenSource();
        cancel.Cancel(); // before the first step: the run stops after step 1 or 2 (one past the furthest step a worker may have started)
        options.CancellationToken = cancel.Token;
        var e = Assert.ThrowsExactly<OperationCanceledException>(() => ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train));
        StringAssert.Matches(e.Message, new System.Text.RegularExpressions.Regex(@"cancelled after step [12] of 16; the checkpoint .*checkpoint-00000000000[12]\.dlc"));

        options.CancellationToken = default;
        var resumed = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train).TrainingReport!;
        CheckpointRuns.AssertBitIdentical(straight.MeanInnerLoss.ToArray(), resumed.MeanInnerLoss.ToArray(), "mean inner loss");
    }

    [TestMethod]
    public void ATruncatedOrBitFlippedNewestCheckpointIsRefusedAndThePreviousOneIsUsed()
    {
        var (global, _) = Straight();
        string dir = CheckpointRuns.NewDirectory();
        var o = CheckpointRuns.Options(dir);
        o.KeepCheckpoints = 3;
        o.CheckpointInterval = 8;
        CheckpointRuns.Train(o);
        var files = new CheckpointStore(dir, 3).Files().ToArray();
        CollectionAssert.AreEqual(new long[] { 32, 24, 16 }, files.Select(f => f.Step).ToArray(), "the newest three are kept");

        // Newest: truncated. Next: one bit flipped in the middle. The third is intact.
        using (var s = File.Open(files[0].Path, FileMode.Open)) s.SetLength(s.Length / 2);
        var bytes = File.ReadAllBytes(files[1].Path);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(files[1].Path, bytes);

        var log = new List<string>();
        var resumed = CheckpointRuns.Train(CheckpointRuns.Options(dir), log);
        Assert.AreEqual(2, log.Count(l => l.StartsWith("Refused checkpoint")), string.Join("\n", log));
        Assert.IsTrue(log.Any(l => l.Contains("at step 16")), string.Join("\n", log));
        CheckpointRuns.AssertBitIdentical(global, resumed.Global, "θ̂ after resuming from the older checkpoint");
    }

    [TestMethod]
    public void ResumingWithOtherOptionsIsRefusedNamingThem()
    {
        string dir = CheckpointRuns.NewDirectory();
        var o = CheckpointRuns.Options(dir);
        o.TrainingSteps = 8;
        CheckpointRuns.Train(o);
        o.InnerLearningRate = 1e-2f;
        var e = Assert.ThrowsExactly<ArgumentException>(() => CheckpointRuns.Train(o));
        Assert.AreEqual("CheckpointDirectory", e.ParamName);
        StringAssert.Contains(e.Message, "InnerLearningRate");
        o.InnerLearningRate = 3e-3f;
        o.Seed = 12;
        Assert.AreEqual("Seed", Assert.ThrowsExactly<ArgumentException>(() => CheckpointRuns.Train(o)).ParamName);
    }

    [TestMethod]
    public void ElasticRestartKeepsTheGlobalStateAndStartsEveryWorkerFromIt()
    {
        string dir = CheckpointRuns.NewDirectory();
        using var cancel = new CancellationTokenSource();
        var o = CheckpointRuns.Options(dir);
        o.CancellationToken = cancel.Token;
        Assert.ThrowsExactly<OperationCanceledException>(() => CheckpointRuns.Train(o, afterStep: t => { if (t == 9) cancel.Cancel(); }));
        var (checkpoint, _) = new CheckpointStore(dir, 2).LoadNewest(null)!.Value;

        var three = CheckpointRuns.Options(dir);
        three.NumberOfWorkers = 3;
        var log = new List<string>();
        var (global, report) = CheckpointRuns.Train(three, log);
        Assert.IsTrue(log.Any(l => l.StartsWith("Elastic restart") && l.Contains("2 workers, this run 3")), string.Join("\n", log));
        Assert.AreEqual(3, report.NumberOfWorkers);
        Assert.AreEqual(32, report.MeanInnerLoss.Count);
        Assert.AreEqual((checkpoint.Workers[0].Losses[0] + checkpoint.Workers[1].Losses[0]) / 2, report.MeanInnerLoss[0], 1e-6f, "earlier steps: the checkpoint's mean");
        Assert.IsTrue(global.All(float.IsFinite));
        Assert.IsTrue(report.MeanInnerLoss[^1] < report.MeanInnerLoss[0], "training goes on learning");
    }

    [TestMethod]
    public void CheckpointIntervalMustBeAMultipleOfHOverP()
    {
        var o = CheckpointRuns.Options(CheckpointRuns.NewDirectory());
        o.CheckpointInterval = 6; // Δt = 8 / 2 = 4
        var e = Assert.ThrowsExactly<ArgumentException>(() => new MLContext().LanguageModeling().Trainers.StreamingDiLoCo(o));
        Assert.AreEqual("CheckpointInterval", e.ParamName);
        StringAssert.Contains(e.Message, "H/P = 8/2 = 4");
        o.CheckpointInterval = 8;
        o.KeepCheckpoints = 0;
        Assert.AreEqual("KeepCheckpoints", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new MLContext().LanguageModeling().Trainers.StreamingDiLoCo(o)).ParamName);
    }
}
