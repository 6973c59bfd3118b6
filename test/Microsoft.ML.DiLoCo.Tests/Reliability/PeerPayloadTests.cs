using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Tests.Training;
using Microsoft.ML.DiLoCo.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Reliability;

/// <summary>
/// A peer that sends NaN, infinity, a payload of the wrong length, or values whose average or outer step overflows: two in-process
/// workers of torchft's fixture (H = 6, P = 2, τ = 0, α = 0.5: fragment 0 is launched and applied at step 3), worker 1's first
/// payload (fragment 0, step 3) changed by a <see cref="TamperingCollective"/>. Over MPI: <see cref="PeerPayloadMpiTests"/>.
/// </summary>
[TestClass]
public sealed class PeerPayloadTests
{
    private static (float[][][] Replica, float[][][] Global, DiLoCoWorker[] Workers) Run(
        WorkerSettings settings, string attack, int offset = 0, bool everyWorker = false, int steps = 6) =>
        EngineHarness.Run(_ => new ConstantGradientReplica(2), 2, settings, steps,
            wrap: (rank, c) => rank == 1 || everyWorker ? new TamperingCollective(c, TamperingCollective.Attack(attack, offset)) : c);

    private static WorkerSettings Skipping(WorkerSettings settings) => settings with { NonFinite = NonFiniteValuePolicy.SkipContribution };

    [TestMethod]
    [DataRow(WireFormat.Float32, "nan", "the value at index 0 decodes to NaN")]
    [DataRow(WireFormat.BFloat16, "bf16inf", "the value at index 0 decodes to {inf}")]
    [DataRow(WireFormat.Float4E3M0, "inf", "the block starting at value 0 has scale {inf}")]
    public void APeerThatSendsANonFiniteValueIsNamedWithTheStepAndTheFragment(WireFormat wire, string attack, string problem)
    {
        var settings = EngineHarness.GoldenSettings(0.5f, tau: 0) with { Codec = WireCodecs.Create(wire) };
        var e = Assert.ThrowsExactly<PeerPayloadException>(() => Run(settings, attack));
        Assert.AreEqual(1, e.Sender, e.Message);
        Assert.AreEqual(3L, e.Step);
        Assert.AreEqual(0, e.Fragment);
        StringAssert.StartsWith(e.Message, "Worker 1 sent a payload that was refused for fragment 0 at step 3: " + problem.Replace("{inf}", $"{float.PositiveInfinity}"));
    }

    [TestMethod]
    [DataRow("large", 4 + (1 << 20))]
    [DataRow("short", 3)]
    public void APeerPayloadOfAnotherLengthIsRefusedNamingTheSender(string attack, int declared)
    {
        var e = Assert.ThrowsExactly<PeerPayloadException>(() => Run(EngineHarness.GoldenSettings(0.5f, tau: 0), attack));
        Assert.AreEqual(1, e.Sender, e.Message);
        Assert.AreEqual(3L, e.Step);
        Assert.AreEqual(0, e.Fragment);
        StringAssert.Contains(e.Message, $"Worker 1 sent a payload that was refused for fragment 0 at step 3: it declared {declared:N0} bytes where every payload of this exchange has 4");
    }

    [TestMethod]
    public void UnderSkipContributionEveryWorkerLeavesOutThePeersNonFiniteContributionAndCountsIt()
    {
        var (replica, global, workers) = Run(Skipping(EngineHarness.GoldenSettings(0.5f, tau: 0)), "nan", offset: 1); // after the flag byte
        try
        {
            for (int t = 0; t <= 6; t++)
            {
                CollectionAssert.AreEqual(global[0][t], global[1][t], $"θ̂ identical on both workers after step {t}");
                Assert.IsTrue(global[0][t].All(float.IsFinite) && replica[1][t].All(float.IsFinite), $"θ̂ and worker 1 finite after step {t}");
            }
            // Worker 0's Δ alone is 6, as the honest average would be: θ̂ = (−11, −23) after step 6, torchft's values.
            CollectionAssert.AreEqual(new[] { -11f, -23f }, global[0][6]);
            Assert.AreEqual(1L, workers[0].Statistics.SkippedContributions);
            Assert.AreEqual(1L, workers[1].Statistics.SkippedContributions);
            CollectionAssert.AreEqual(replica[0][6], replica[1][6], "worker 1's own replica was fine: merged, not reset");
        }
        finally
        {
            foreach (var w in workers) w.Dispose();
        }
    }

    [TestMethod]
    [DataRow("huge3e38", 2.0, "averaged pseudo-gradient of fragment 0", DisplayName = "3e38 + 3e38 overflows the sum")]
    [DataRow("huge1e38", 4.0, "global parameters θ̂ of fragment 0 after the outer step", DisplayName = "θ̂ = 1 − 4·1e38 overflows")]
    public void AnAverageOrAThetaHatThatOverflowsStopsTrainingBlamingNoWorker(string attack, double outerLr, string quantity)
    {
        var settings = EngineHarness.GoldenSettings(0.5f, tau: 0, outerLr: outerLr);
        var e = Assert.ThrowsExactly<TrainingDivergedException>(() => Run(settings, attack, everyWorker: true));
        Assert.AreEqual(-1, e.Worker, e.Message);
        Assert.AreEqual(3L, e.Step);
        Assert.AreEqual(quantity, e.Quantity);
    }

    [TestMethod]
    public void UnderSkipContributionAnAverageThatOverflowsLeavesTheSyncOutOnEveryWorker()
    {
        var (_, global, workers) = Run(Skipping(EngineHarness.GoldenSettings(0.5f, tau: 0)), "huge3e38", offset: 1, everyWorker: true);
        try
        {
            Assert.AreEqual(1f, global[0][3][0], "θ̂ of fragment 0 is left as it was");
            CollectionAssert.AreEqual(global[0][6], global[1][6]);
            Assert.AreEqual(-23f, global[0][6][1], "fragment 1's sync at step 6 is untouched");
            Assert.AreEqual(2L, workers[0].Statistics.SkippedContributions, "both contributions left out");
            Assert.AreEqual(2L, workers[1].Statistics.SkippedContributions);
        }
        finally
        {
            foreach (var w in workers) w.Dispose();
        }
    }

    [TestMethod]
    public void ACheckpointNeverCapturesANonFiniteThetaHat()
    {
        using var worker = new DiLoCoWorker(0, new ConstantGradientReplica(2), InProcessCollective.CreateGroup(1)[0], EngineHarness.GoldenSettings(0.5f, tau: 0));
        using (no_grad())
        {
            using var nan = float.NaN.ToScalar();
            worker.OuterParameters[1].fill_(nan);
        }
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => worker.CaptureShared());
        StringAssert.Contains(e.Message, "global parameter 1 (θ̂) holds NaN or infinity");
    }
}
