using System.Text.Json;
using Microsoft.ML.DiLoCo.Tests.Mpi;

namespace Microsoft.ML.DiLoCo.Tests.Checkpointing;

/// <summary>
/// Checkpoints under MPI (2 ranks on localhost, the MPI runner; Inconclusive without Open MPI): cancel, resume, damaged
/// parts, elastic restart. H = 10, P = 2 (Δt = 5), τ = 1, FP4 with error feedback, T = 30, a checkpoint every 5 steps.
/// </summary>
[TestClass]
public sealed class MpiCheckpointTests
{
    private static readonly string[] Settings = { "steps=30", "innerSteps=10", "fragments=2", "overlap=1", "checkpointInterval=5", "keep=3" };
    private static InProcessReference? _inProcessTwo;
    private static string? _cancelledTwoRanks;

    // Two in-process workers, uninterrupted: what every resumed 2-worker MPI run must equal bit for bit.
    private static InProcessReference InProcessTwo() =>
        _inProcessTwo ??= new InProcessReference(() => MpiLauncher.Alone(Settings.Append("workers=2").ToArray()));

    // 2 ranks × 1 worker, rank 0 cancels after step 12: every rank stops at step 20 (the vote of step 15 is read at step 20).
    // Each test resumes from its own copy of the folder.
    private static string CancelledTwoRanks()
    {
        if (_cancelledTwoRanks is null)
        {
            string dir = CheckpointRuns.NewDirectory();
            var outcome = MpiLauncher.UnderMpi(2, Settings.Concat(new[] { "transport=mpi", $"checkpointDir={dir}", "cancelAtStep=12" }).ToArray());
            Assert.AreEqual(2, outcome.Lines.Length, outcome.Output);
            foreach (var rank in outcome.Lines)
            {
                Assert.AreEqual("OperationCanceledException", rank.GetProperty("error").GetString(), outcome.Output);
                StringAssert.Contains(rank.GetProperty("message").GetString(), $"cancelled after step 20 of 30; the checkpoint {Path.Combine(dir, "checkpoint-000000000020.dlc")} holds it");
            }
            _cancelledTwoRanks = dir;
        }
        return Copy(_cancelledTwoRanks);
    }

    [TestMethod]
    public void CancelledThenResumedRanksEqualTheUninterruptedMpiRunAndTheInProcessRun()
    {
        var expected = InProcessTwo();
        string dir = CancelledTwoRanks();
        CollectionAssert.AreEquivalent(
            new[] { 10, 15, 20 }.SelectMany(s => new[] { $"checkpoint-{s:D12}.dlc", $"checkpoint-{s:D12}.rank-0.part", $"checkpoint-{s:D12}.rank-1.part" }).ToArray(),
            Directory.GetFiles(dir).Select(Path.GetFileName).ToArray(),
            "each kept step has rank 0's manifest and both parts; step 5's files were deleted (KeepCheckpoints = 3)");

        var straight = MpiLauncher.UnderMpi(2, Settings.Append("transport=mpi").ToArray());
        Assert.AreEqual(0, straight.ExitCode, straight.Output);
        var resumed = MpiLauncher.UnderMpi(2, Settings.Concat(new[] { "transport=mpi", $"checkpointDir={dir}" }).ToArray());
        Assert.AreEqual(0, resumed.ExitCode, resumed.Output);
        StringAssert.Contains(resumed.Output, "Resuming from " + Path.Combine(dir, "checkpoint-000000000020.dlc") + " at step 20 of 30");

        Assert.AreEqual(2, straight.Lines.Length, straight.Output);
        Assert.AreEqual(2, resumed.Lines.Length, resumed.Output);
        foreach (var rank in straight.Lines.Concat(resumed.Lines))
        {
            expected.AssertSameParameters(rank, "θ̂ bit-identical to the in-process run");
            Assert.AreEqual(expected.Line.GetProperty("losses").GetRawText(), rank.GetProperty("losses").GetRawText(), "every worker's losses, every step");
        }
        expected.Conclude();
    }

    [TestMethod]
    public void ADamagedPartOnOneRankMakesEveryRankFallBackToThePreviousCheckpoint()
    {
        var expected = InProcessTwo();
        string dir = CancelledTwoRanks();
        string part = Path.Combine(dir, "checkpoint-000000000020.rank-1.part");
        var bytes = File.ReadAllBytes(part);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(part, bytes);

        var resumed = MpiLauncher.UnderMpi(2, Settings.Concat(new[] { "transport=mpi", $"checkpointDir={dir}" }).ToArray());
        Assert.AreEqual(0, resumed.ExitCode, resumed.Output);
        StringAssert.Contains(resumed.Output, $"Refused checkpoint {Path.Combine(dir, "checkpoint-000000000020.dlc")}: rank 1: the part checkpoint-000000000020.rank-1.part does not match the SHA-256");
        StringAssert.Contains(resumed.Output, "Resuming from " + Path.Combine(dir, "checkpoint-000000000015.dlc") + " at step 15 of 30");
        Assert.AreEqual(2, resumed.Lines.Length, resumed.Output);
        foreach (var rank in resumed.Lines)
        {
            expected.AssertSameParameters(rank, "both ranks resumed from step 15 and end on the same θ̂");
            Assert.AreEqual(expected.Line.GetProperty("losses").GetRawText(), rank.GetProperty("losses").GetRawText());
        }
        expected.Conclude();
    }

    [TestMethod]
    public void Rank0sFilesGoneWhileRank1HoldsItsPartsIsRefusedOnEveryRankNotASilentRestart()
    {
        string dir = CancelledTwoRanks();
        foreach (var file in Directory.GetFiles(dir).Where(f => f.EndsWith(".dlc") || f.EndsWith(".rank-0.part"))) File.Delete(file); // rank 0's disk was lost

        var resumed = MpiLauncher.UnderMpi(2, Settings.Concat(new[] { "transport=mpi", $"checkpointDir={dir}" }).ToArray());
        Assert.AreNotEqual(0, resumed.ExitCode, resumed.Output);
        Assert.IsFalse(resumed.Lines.Any(l => l.TryGetProperty("checksum", out _)), "no rank trained: " + resumed.Output);
        var refusal = resumed.Lines.FirstOrDefault(l => l.TryGetProperty("error", out _));
        Assert.AreEqual("InvalidDataException", refusal.GetProperty("error").GetString(), resumed.Output);
        StringAssert.Contains(refusal.GetProperty("message").GetString(), "holds no checkpoint manifest on rank 0, but rank 1 holds its parts of steps 10, 15, 20");
        Assert.AreEqual(3, Directory.GetFiles(dir).Length, "rank 1's parts are left where they are");
    }

    [TestMethod]
    public void TwoRanksOfTwoWorkersStopTogetherWhenOneRankIsCancelledAndResumeExactly()
    {
        var expected = new InProcessReference(() => MpiLauncher.Alone(Settings.Append("workers=4").ToArray()));
        string dir = CheckpointRuns.NewDirectory();
        string[] mpi = Settings.Concat(new[] { "transport=mpi", "workers=2", $"checkpointDir={dir}" }).ToArray();

        // Only rank 1's token is cancelled (before Fit): it votes at step 5, every rank reads the vote at step 10 and stops there.
        var cancelled = MpiLauncher.UnderMpi(2, mpi.Append("cancelOnRank=1").ToArray());
        Assert.AreEqual(2, cancelled.Lines.Length, cancelled.Output);
        foreach (var rank in cancelled.Lines)
        {
            Assert.AreEqual("OperationCanceledException", rank.GetProperty("error").GetString(), cancelled.Output);
            StringAssert.Contains(rank.GetProperty("message").GetString(), "cancelled after step 10 of 30");
        }

        var resumed = MpiLauncher.UnderMpi(2, mpi);
        Assert.AreEqual(0, resumed.ExitCode, resumed.Output);
        StringAssert.Contains(resumed.Output, "at step 10 of 30");
        Assert.AreEqual(2, resumed.Lines.Length, resumed.Output);
        foreach (var rank in resumed.Lines)
        {
            expected.AssertSameParameters(rank, "θ̂ of 4 in-process workers");
            Assert.AreEqual(expected.Line.GetProperty("losses").GetRawText(), rank.GetProperty("losses").GetRawText(), "all 4 workers' losses");
        }
        expected.Conclude();
    }

    [TestMethod]
    public void ResumingWithMoreWorkersPerRankIsAnElasticRestart()
    {
        string dir = CancelledTwoRanks();
        // The losses below come from the in-process reference: checked first against an uninterrupted MPI run, so that a
        // reference run that parted from its rerun (InProcessReference) is replaced before its losses are read.
        var reference = InProcessTwo();
        var straight = MpiLauncher.UnderMpi(2, Settings.Append("transport=mpi").ToArray());
        Assert.AreEqual(0, straight.ExitCode, straight.Output);
        reference.AssertSameParameters(straight.Lines[0], "the uninterrupted 2-rank run and the in-process reference");
        var expected = reference.Line.GetProperty("losses");
        var resumed = MpiLauncher.UnderMpi(2, Settings.Concat(new[] { "transport=mpi", "workers=2", $"checkpointDir={dir}" }).ToArray());
        Assert.AreEqual(0, resumed.ExitCode, resumed.Output);
        StringAssert.Contains(resumed.Output, "Elastic restart from " + Path.Combine(dir, "checkpoint-000000000020.dlc") + " at step 20: the checkpoint has 2 workers, this run 4");
        Assert.AreEqual(2, resumed.Lines.Length, resumed.Output);
        Assert.AreEqual(resumed.Lines[0].GetProperty("checksum").GetString(), resumed.Lines[1].GetProperty("checksum").GetString(), "one θ̂ on both ranks");
        foreach (var rank in resumed.Lines)
        {
            var losses = rank.GetProperty("losses").EnumerateArray().Select(w => w.EnumerateArray().Select(l => l.GetSingle()).ToArray()).ToArray();
            Assert.AreEqual(4, losses.Length);
            for (int s = 0; s < 20; s++)
            {
                float mean = new[] { expected[0][s].GetSingle(), expected[1][s].GetSingle() }.Average();
                Assert.IsTrue(losses.All(w => w[s] == mean), $"step {s + 1}: every worker reports the checkpoint's mean over its 2 workers");
            }
            Assert.IsTrue(losses.All(w => w.Length == 30 && w.Skip(20).All(float.IsFinite)), "training went on to step 30");
        }
        reference.Conclude();
    }

    private static string Copy(string source)
    {
        string target = CheckpointRuns.NewDirectory();
        foreach (var file in Directory.GetFiles(source)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        return target;
    }
}
