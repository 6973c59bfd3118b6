using Microsoft.ML.DiLoCo.Training;

namespace Microsoft.ML.DiLoCo.Tests.Training;

/// <summary>torchft's regression fixtures (ALGORITHM.md, "Golden vectors"), driven through the real engine.</summary>
[TestClass]
public sealed class GoldenVectorTests
{
    [TestMethod]
    [DataRow(0f, 0)]
    [DataRow(0.5f, 0)]
    [DataRow(0f, 1)]
    [DataRow(0.5f, 1)]
    public void ReplicaWeightsFollowTorchftFixture(float alpha, int tau)
    {
        // The table's last column is after 15 inner steps; nothing is in flight then (launches at 14 apply at 15).
        var (replica, global, workers) = EngineHarness.Run(_ => new ConstantGradientReplica(2), 2, EngineHarness.GoldenSettings(alpha, tau), steps: 15);
        var (f0, f1) = GoldenVectors.Expected[(alpha, tau)];
        for (int rank = 0; rank < 2; rank++)
        {
            for (int k = 0; k < 16; k++)
            {
                Assert.AreEqual(f0[k], replica[rank][k][0], $"α={alpha}, τ={tau}, worker {rank}, fragment 0 after {k} steps");
                Assert.AreEqual(f1[k], replica[rank][k][1], $"α={alpha}, τ={tau}, worker {rank}, fragment 1 after {k} steps");
            }
            var g = GoldenVectors.ExpectedGlobal[(alpha, tau)];
            Assert.AreEqual(g.F0At3, global[rank][3][0], "θ̂ fragment 0 after the first sync");
            Assert.AreEqual(g.F0At9, global[rank][9][0], "θ̂ fragment 0 after the second sync");
            Assert.AreEqual(g.F1At6, global[rank][6][1], "θ̂ fragment 1 after the first sync");
            Assert.AreEqual(g.F1At12, global[rank][12][1], "θ̂ fragment 1 after the second sync");
            Assert.AreEqual(1f, global[rank][2][0], "θ̂ does not move before the apply step");
        }
        foreach (var w in workers) w.Dispose();
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(1)]
    public void AlphaOneIsPlainTraining(int tau)
    {
        var (replica, _, workers) = EngineHarness.Run(_ => new ConstantGradientReplica(2), 2, EngineHarness.GoldenSettings(1f, tau), steps: 16);
        for (int k = 0; k < 16; k++)
        {
            Assert.AreEqual(1 - 2 * k, replica[0][k][0], $"fragment 0 after {k} steps");
            Assert.AreEqual(1 - 2 * k, replica[1][k][1], $"fragment 1 after {k} steps");
        }
        Assert.AreEqual(-29f, replica[0][15][0]);
        foreach (var w in workers) w.Dispose();
    }

    [TestMethod]
    public void WorkedExampleAtStepNine()
    {
        // (α, τ) = (0.5, 1): sent at step 8 with local −16, Δ = −7 − (−16) = 9, θ̂ = −7 − 2·9 = −25; merge (−18 − 25)/2 = −21.5.
        var (replica, global, workers) = EngineHarness.Run(_ => new ConstantGradientReplica(2), 2, EngineHarness.GoldenSettings(0.5f, 1), steps: 9);
        Assert.AreEqual(-16f, replica[0][8][0]);
        Assert.AreEqual(-7f, global[0][8][0]);
        Assert.AreEqual(-25f, global[0][9][0]);
        Assert.AreEqual(-21.5f, replica[0][9][0]);
        foreach (var w in workers) w.Dispose();
    }
}
