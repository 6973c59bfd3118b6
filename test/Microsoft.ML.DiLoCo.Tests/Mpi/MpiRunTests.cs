namespace Microsoft.ML.DiLoCo.Tests.Mpi;

/// <summary>Ranks in separate processes under mpirun on localhost (each test Inconclusive without Open MPI).</summary>
[TestClass]
public sealed class MpiRunTests
{
    [TestMethod]
    public void AllGatherReturnsEveryRanksPayloadInRankOrderThroughSmallChunks()
    {
        var outcome = MpiLauncher.UnderMpi(3, "mode=allgather", "chunk=777");
        Assert.AreEqual(0, outcome.ExitCode, outcome.Output);
        Assert.AreEqual(3, outcome.Lines.Length, outcome.Output);
        CollectionAssert.AreEquivalent(new[] { 0, 1, 2 }, outcome.Lines.Select(l => l.GetProperty("rank").GetInt32()).ToArray());
        foreach (var line in outcome.Lines)
        {
            Assert.IsTrue(line.GetProperty("ok").GetBoolean(), "every byte of every rank's payload arrived, in rank order");
            Assert.AreEqual("[[1,0,5001],[5001,0,1]]", line.GetProperty("lengths").GetRawText(), "sizes differ between ranks, one is empty, two rounds in flight");
        }
    }

    [TestMethod]
    [DataRow(3)] // 2 ranks are covered by TwoRanksOfTwoWorkers… (same path between ranks, fewer processes to start)
    public void MpiRanksEndWithTheSameParametersAsInProcessWorkers(int m)
    {
        string[] settings = { "steps=30", "innerSteps=10", "fragments=2", "overlap=1" };
        var inProcess = new InProcessReference(() => MpiLauncher.Alone(settings.Append($"workers={m}").ToArray()));
        var mpi = MpiLauncher.UnderMpi(m, settings.Append("transport=mpi").ToArray());
        Assert.AreEqual(0, mpi.ExitCode, mpi.Output);

        Assert.AreEqual(m, mpi.Lines.Length, mpi.Output);
        foreach (var rank in mpi.Lines)
        {
            inProcess.AssertSameParameters(rank, "θ̂ is bit-identical on every rank and to the in-process run");
            Assert.AreEqual(m, rank.GetProperty("workers").GetInt32());
            Assert.AreEqual(m, rank.GetProperty("ranks").GetInt32());
            Assert.AreEqual(inProcess.Line.GetProperty("bytesSent").GetInt64(), rank.GetProperty("bytesSent").GetInt64(), "same traffic per worker");
            Assert.AreEqual(inProcess.Line.GetProperty("lastLoss").GetDouble(), rank.GetProperty("lastLoss").GetDouble(), "the report gathers every worker's losses");
        }
        Assert.AreEqual(1, mpi.Lines.Count(l => l.GetProperty("isRoot").GetBoolean()), "exactly one root");
        inProcess.Conclude();
    }

    [TestMethod]
    public void TwoRanksOfTwoWorkersEndWithTheSameParametersAsFourInProcessWorkers()
    {
        string[] settings = { "steps=20", "innerSteps=10", "fragments=2", "overlap=1" };
        var inProcess = new InProcessReference(() => MpiLauncher.Alone(settings.Append("workers=4").ToArray()));
        var mpi = MpiLauncher.UnderMpi(2, settings.Concat(new[] { "transport=mpi", "workers=2" }).ToArray());
        Assert.AreEqual(0, mpi.ExitCode, mpi.Output);

        Assert.AreEqual(2, mpi.Lines.Length, mpi.Output);
        foreach (var rank in mpi.Lines)
        {
            inProcess.AssertSameParameters(rank, "θ̂ of 2 ranks × 2 workers is bit-identical on both ranks and to 4 in-process workers");
            Assert.AreEqual(4, rank.GetProperty("workers").GetInt32(), "M = ranks × workers per rank");
            Assert.AreEqual(inProcess.Line.GetProperty("bytesSent").GetInt64(), rank.GetProperty("bytesSent").GetInt64(), "each worker sends to the 3 others");
            Assert.AreEqual(inProcess.Line.GetProperty("lastLoss").GetDouble(), rank.GetProperty("lastLoss").GetDouble(), "the report has all 4 workers' losses");
        }
        inProcess.Conclude();
    }

    [TestMethod]
    public void TheMpiExchangeOverlapsComputeBehindASlowLink()
    {
        // Each rank's MPI collective sits behind a 40 ms link model; τ = 9 inner steps (≥ 10 ms each even on an idle
        // machine at this size, far more under load) run while the exchange travels on the communication thread, so the
        // worker barely waits at the apply step. The latency stays well below 9 steps' compute so the test is not timing-bound.
        var outcome = MpiLauncher.UnderMpi(2, "transport=mpi", "steps=30", "innerSteps=10", "fragments=1", "overlap=9",
            "latencyMs=40", "embedding=128", "batch=16");
        Assert.AreEqual(0, outcome.ExitCode, outcome.Output);
        Assert.AreEqual(2, outcome.Lines.Length, outcome.Output);
        foreach (var rank in outcome.Lines)
        {
            var exchange = rank.GetProperty("exchangeSeconds").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var wait = rank.GetProperty("waitSeconds").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.AreEqual(3, exchange.Length, outcome.Output);
            Assert.IsTrue(exchange.All(s => s >= 0.039), $"every exchange takes at least the link's latency: {string.Join(", ", exchange)}");
            Assert.IsTrue(wait.Average() < exchange.Average() / 5,
                $"rank {rank.GetProperty("rank")}: waited {wait.Average():F4} s per sync for exchanges of {exchange.Average():F3} s");
        }
    }

    [TestMethod]
    public void RanksWithDifferentOptionsAllStopNamingTheDifference()
    {
        var outcome = MpiLauncher.UnderMpi(3, "transport=mpi", "steps=20", "differOnRank=2");
        Assert.AreNotEqual(0, outcome.ExitCode);
        var errors = outcome.Lines.Where(l => l.TryGetProperty("error", out _)).ToArray();
        Assert.AreEqual(3, errors.Length, "every rank stops with the error, none hangs: " + outcome.Output);
        foreach (var e in errors)
            StringAssert.Contains(e.GetProperty("message").GetString(), "InnerSteps is 10 on rank 0 but 20 on rank 2");
    }

    [TestMethod]
    public void MpiTransportWithoutALauncherSaysHowToLaunch()
    {
        var outcome = MpiLauncher.Alone("transport=mpi");
        Assert.AreNotEqual(0, outcome.ExitCode);
        var line = outcome.Lines.Single();
        Assert.AreEqual("ArgumentException", line.GetProperty("error").GetString());
        StringAssert.Contains(line.GetProperty("message").GetString(), "mpirun -np");
        StringAssert.Contains(line.GetProperty("message").GetString(), "Transport");
    }

    [TestMethod]
    public void ARankThatDiesEndsTheJobInsteadOfHanging()
    {
        var outcome = MpiLauncher.UnderMpi(2, "transport=mpi", "steps=100000", "dieOnRank=1", "dieAfterMs=1500", "timeout=30");
        Assert.AreNotEqual(0, outcome.ExitCode, outcome.Output);
        Assert.IsTrue(outcome.Elapsed < TimeSpan.FromSeconds(30), $"the job ended {outcome.Elapsed.TotalSeconds:F1} s after start");
        Assert.IsFalse(outcome.Lines.Any(l => l.TryGetProperty("checksum", out _)), "no rank claims to have finished");
    }

    [TestMethod]
    public void ARankThatFailsEndsTheJobWithinSecondsEvenWhenItsHostCatchesTheExceptionAndKeepsRunning()
    {
        // Rank 1's worker throws at step 5; its host prints the exception and would sleep 60 s. The exchange timeout (600 s) is not
        // what ends the job: the failed rank aborts it (MPI_Abort) a moment after Fit threw.
        var outcome = MpiLauncher.UnderMpi(2, "transport=mpi", "steps=1000", "failOnRank=1", "failAtStep=5", "keepRunningMs=60000", "timeout=600");
        var ended = DateTimeOffset.UtcNow;
        Assert.AreNotEqual(0, outcome.ExitCode, outcome.Output);
        var failed = outcome.Lines.Single(l => l.TryGetProperty("error", out _));
        Assert.AreEqual("1", failed.GetProperty("rank").GetString(), "the failed rank's host saw the exception");
        StringAssert.StartsWith(failed.GetProperty("message").GetString(), "Worker 1 failed at step 5: InvalidOperationException: injected fault");
        StringAssert.Contains(outcome.Output, "aborting the job: rank 1 failed: Worker 1 failed at step 5");
        var afterFailure = ended - DateTimeOffset.FromUnixTimeMilliseconds(failed.GetProperty("atUnixMs").GetInt64());
        Assert.IsTrue(afterFailure < TimeSpan.FromSeconds(15), $"the job ended {afterFailure.TotalSeconds:F1} s after the failure ({outcome.Elapsed.TotalSeconds:F1} s in all)");
        Assert.IsFalse(outcome.Lines.Any(l => l.TryGetProperty("checksum", out _)), "no rank claims to have finished");
    }
}
