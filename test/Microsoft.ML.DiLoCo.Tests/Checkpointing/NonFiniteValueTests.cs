using Microsoft.ML.DiLoCo.Tests.Training;
using Microsoft.ML.DiLoCo.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Checkpointing;

[TestClass]
public sealed class NonFiniteValueTests
{
    /// <summary>torchft's fixture (gradient 2 everywhere) whose parameter 0 is set to NaN after the forward pass of one step:
    /// that step's loss is finite, the replica is not, and the next pseudo-gradient of fragment 0 is NaN.</summary>
    private sealed class PoisonedReplica(long poisonAtStep) : IReplica
    {
        private long _step;

        public IReadOnlyList<Parameter> Parameters { get; } = new[] { new Parameter(ones(1), requires_grad: true), new Parameter(ones(1), requires_grad: true) };

        public long TokensPerStep => 1;

        public Tensor NextLoss()
        {
            var loss = Parameters.Select(p => p.sum()).Aggregate((a, b) => a + b) * 2;
            if (++_step == poisonAtStep)
                using (no_grad()) Parameters[0].fill_(float.NaN);
            return loss;
        }

        public void Dispose()
        {
            foreach (var p in Parameters) p.Dispose();
        }
    }

    private static IReplica ReplicaOf(int rank) => rank == 1 ? new PoisonedReplica(poisonAtStep: 3) : new ConstantGradientReplica(2);

    [TestMethod]
    public void StopNamesTheWorkerTheStepAndThePseudoGradient()
    {
        var settings = EngineHarness.GoldenSettings(0.5f, tau: 0);
        var e = Assert.ThrowsExactly<TrainingDivergedException>(() => EngineHarness.Run(ReplicaOf, 2, settings, steps: 12));
        Assert.AreEqual(1, e.Worker);
        Assert.AreEqual(3, e.Step, "fragment 0 is launched after step 3 (H/P = 3, τ = 0)");
        StringAssert.StartsWith(e.Quantity, "pseudo-gradient (fragment 0)");
    }

    [TestMethod]
    public void SkipContributionLeavesTheWorkerOutKeepsTheGlobalParametersFiniteAndIdenticalAndCountsIt()
    {
        var settings = EngineHarness.GoldenSettings(0.5f, tau: 0) with { NonFinite = NonFiniteValuePolicy.SkipContribution };
        var (replica, global, workers) = EngineHarness.Run(ReplicaOf, 2, settings, steps: 12);
        try
        {
            for (int t = 0; t <= 12; t++)
            {
                CollectionAssert.AreEqual(global[0][t], global[1][t], $"θ̂ identical on both workers after step {t}");
                Assert.IsTrue(global[0][t].All(float.IsFinite), $"θ̂ finite after step {t}");
            }
            // Step 3: Δ̄ is worker 0's Δ alone = 1 − (1 − 3·2) = 6; θ̂[0] = 1 − 2·6 = −11; the poisoned worker restarts from θ̂.
            Assert.AreEqual(-11f, global[0][3][0]);
            CollectionAssert.AreEqual(global[1][3], replica[1][3], "worker 1 restarts from θ̂ (every parameter)");
            Assert.IsTrue(replica[1][12].All(float.IsFinite));
            Assert.AreEqual(1L, workers[0].Statistics.SkippedContributions);
            Assert.AreEqual(1L, workers[1].Statistics.SkippedContributions);
        }
        finally
        {
            foreach (var w in workers) w.Dispose();
        }
    }

    [TestMethod]
    public void SkipContributionSkipsTheInnerStepOfANonFiniteLossAndRecordsIt()
    {
        // Poisoned at step 2: step 3's loss is NaN (skipped, recorded as NaN), then fragment 0's launch after step 3 is skipped.
        var settings = EngineHarness.GoldenSettings(0f, tau: 0) with { NonFinite = NonFiniteValuePolicy.SkipContribution };
        var (_, global, workers) = EngineHarness.Run(r => r == 1 ? new PoisonedReplica(2) : new ConstantGradientReplica(2), 2, settings, steps: 6);
        try
        {
            Assert.IsTrue(float.IsNaN(workers[1].Statistics.Losses[2]), "step 3's loss is recorded as NaN");
            Assert.IsTrue(workers[1].Statistics.Losses.Skip(3).All(float.IsFinite), "after the reset the losses are finite again");
            Assert.IsTrue(global[0][6].All(float.IsFinite));
            Assert.AreEqual(1L, workers[0].Statistics.SkippedContributions);
        }
        finally
        {
            foreach (var w in workers) w.Dispose();
        }
    }
}
