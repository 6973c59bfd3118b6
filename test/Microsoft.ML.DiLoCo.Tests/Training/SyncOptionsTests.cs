using Microsoft.ML.DiLoCo.Checkpointing;
using Microsoft.ML.DiLoCo.Runs;
using Microsoft.ML.DiLoCo.Tests.Checkpointing;
using Microsoft.ML.DiLoCo.Tests.Mpi;
using Microsoft.ML.DiLoCo.Training;

namespace Microsoft.ML.DiLoCo.Tests.Training;

/// <summary>
/// Issue 13's options: what training returns at the end (<see cref="FinalModel"/>) and a warm-up of H. Golden values from the
/// golden-vector setup of ALGORITHM.md, then resume and MPI equivalence with the options at non-default values.
/// </summary>
[TestClass]
public sealed class SyncOptionsTests
{
    // The golden setup (α = 0, τ = 0, H = 6, P = 2, outer SGD lr 2) stopped at T = 14: fragment 0 was last synced at step 9
    // (θ̂ = −35) and its replicas are at −45; fragment 1 at step 12 (θ̂ = −47), replicas at −51 (ALGORITHM.md's table).
    [TestMethod]
    [DataRow(FinalModel.OuterParameters, -35f, -47f)]
    [DataRow(FinalModel.SynchronizedOuterParameters, -55f, -55f)] // θ̂ − 2·(θ̂ − θ_m): −35 − 2·10, −47 − 2·4
    [DataRow(FinalModel.ReplicaAverage, -45f, -51f)]              // the replicas' mean (identical workers: the replica)
    public void TheFinalModelFoldsTheLastStepsIntoθ̂AsAskedAndLeavesTheReplicasAlone(FinalModel final, float fragment0, float fragment1)
    {
        var settings = EngineHarness.GoldenSettings(alpha: 0f, tau: 0) with { FinalModel = final };
        var (replica, global, workers) = EngineHarness.Run(_ => new ConstantGradientReplica(2), 2, settings, steps: 14);
        try
        {
            for (int r = 0; r < 2; r++)
            {
                CollectionAssert.AreEqual(new[] { fragment0, fragment1 }, global[r][14], $"θ̂ of worker {r}");
                CollectionAssert.AreEqual(new[] { -45f, -51f }, replica[r][14], $"the replicas of worker {r} are not merged after training");
            }
            int extra = final == FinalModel.OuterParameters ? 0 : 2;
            Assert.AreEqual(4 + extra, workers[0].Statistics.Syncs.Count, "syncs at 3, 6, 9, 12, then one per fragment at the end");
            if (extra > 0)
                Assert.IsTrue(workers[0].Statistics.Syncs.TakeLast(2).All(s => s.LaunchStep == 15 && s.BytesSent > 0), "the final syncs are counted, labelled T + 1");
        }
        finally { foreach (var w in workers) w.Dispose(); }
    }

    [TestMethod]
    public void TheWarmUpSyncsEveryH0OverPStepsUntilWThenEveryHOverP()
    {
        var schedule = new SyncSchedule(innerSteps: 12, numberOfFragments: 2, overlapSteps: 1, warmupSteps: 12, warmupInnerSteps: 4);
        var launches = Enumerable.Range(1, 30).Where(t => schedule.IsLaunchStep(t)).ToArray();
        CollectionAssert.AreEqual(new[] { 1, 3, 5, 7, 9, 11, 17, 23, 29 }, launches, "Δt₀ = 2 while the apply step is ≤ W = 12, then Δt = 6");
        foreach (long s in Enumerable.Range(1, 30))
            Assert.AreEqual(!launches.Contains((int)s), schedule.IsQuiescentAfter(s), $"step {s}: in flight exactly after a launch (τ = 1)");
        var plain = new SyncSchedule(12, 2, 1);
        foreach (long s in Enumerable.Range(1, 40))
            Assert.AreEqual(s % 6 < 6 - 1, plain.IsQuiescentAfter(s), $"without a warm-up the old rule s mod Δt < Δt − τ holds at {s}");
    }

    [TestMethod]
    [DataRow(13, 4, "SyncWarmupSteps")]      // not a multiple of H
    [DataRow(12, 5, "SyncWarmupInnerSteps")] // not a multiple of P
    [DataRow(12, 8, "SyncWarmupInnerSteps")] // does not divide H
    [DataRow(12, 2, "SyncWarmupInnerSteps")] // τ = 1 is not below H₀/P = 1
    public void ABadWarmUpIsRefusedNamingTheOption(int warmup, int warmupInnerSteps, string option)
    {
        var o = new StreamingDiLoCoTrainer.Options { InnerSteps = 12, NumberOfFragments = 2, OverlapSteps = 1, SyncWarmupSteps = warmup, SyncWarmupInnerSteps = warmupInnerSteps };
        var e = Assert.Throws<ArgumentException>(() => o.Validate(), $"W = {warmup}, H₀ = {warmupInnerSteps}");
        Assert.AreEqual(option, e.ParamName, e.Message);
    }

    [TestMethod]
    public void ARunWithBothOptionsResumesBitIdentically()
    {
        StreamingDiLoCoTrainer.Options Options(string? directory)
        {
            var o = CheckpointRuns.Options(directory); // H = 8, P = 2, τ = 1, T = 32, checkpoints every 4
            o.FinalModel = FinalModel.ReplicaAverage;
            o.SyncWarmupSteps = 16;
            o.SyncWarmupInnerSteps = 4; // Δt₀ = 2 for the first 16 steps
            return o;
        }
        var straight = CheckpointRuns.Train(Options(null));
        Assert.AreEqual(8 + 4 + 2, straight.Report.Syncs.Count, "8 warm-up syncs (Δt₀ = 2, applied at 2 … 16), 4 after (Δt = 4, at 20 … 32), 2 final");

        string dir = CheckpointRuns.NewDirectory();
        using var cancel = new CancellationTokenSource();
        var cancelled = Options(dir);
        cancelled.CancellationToken = cancel.Token;
        Assert.ThrowsExactly<OperationCanceledException>(() => CheckpointRuns.Train(cancelled, afterStep: t => { if (t == 9) cancel.Cancel(); }));
        long stoppedAt = new CheckpointStore(dir, 2).Files().First().Step;
        Assert.IsTrue(stoppedAt is > 9 and < 16, $"stopped inside the warm-up, at {stoppedAt}");
        var resumed = CheckpointRuns.Train(Options(dir));
        CheckpointRuns.AssertBitIdentical(straight.Global, resumed.Global, "θ̂ (the replica average at the end)");
    }

    // ReplicaAverage is the trainer's default: its final exchange of every fragment must agree across ranks too.
    [TestMethod]
    [DataRow(FinalModel.SynchronizedOuterParameters)]
    [DataRow(FinalModel.ReplicaAverage)]
    public void MpiRanksWithBothOptionsEndWithTheSameParametersAsInProcessWorkers(FinalModel final)
    {
        string[] settings = { "steps=30", "innerSteps=12", "fragments=2", "overlap=1", $"finalModel={final}", "syncWarmup=12", "syncWarmupInnerSteps=4" };
        var inProcess = new InProcessReference(() => MpiLauncher.Alone(settings.Append("workers=2").ToArray()));
        var mpi = MpiLauncher.UnderMpi(2, settings.Append("transport=mpi").ToArray());
        Assert.AreEqual(0, mpi.ExitCode, mpi.Output);
        Assert.AreEqual(2, mpi.Lines.Length, mpi.Output);
        foreach (var rank in mpi.Lines)
            inProcess.AssertSameParameters(rank, "θ̂ is bit-identical on every rank and to the in-process run");
        var plain = MpiLauncher.Alone(new[] { "steps=30", "innerSteps=12", "fragments=2", "overlap=1", "workers=2" });
        Assert.AreNotEqual(plain.Lines.Single().GetProperty("checksum").GetString(), inProcess.Line.GetProperty("checksum").GetString(), "the options change θ̂");
        inProcess.Conclude();
    }
}
