using Microsoft.ML.DiLoCo.Tests.Training;
using TorchSharp;

namespace Microsoft.ML.DiLoCo.Tests.Byom;

/// <summary>
/// torchft's regression fixtures (ALGORITHM.md, "Golden vectors") through the public <see cref="StreamingDiLoCo"/> API:
/// a user module with two scalar weights, the user's SGD (lr 1) and loop, each weight its own fragment.
/// The expected tables are <see cref="GoldenVectors"/>, shared with the engine's tests.
/// </summary>
[TestClass]
public sealed class ByomGoldenVectorTests
{
    internal static StreamingDiLoCoOptions GoldenOptions(float alpha, int tau) => new()
    {
        InnerSteps = 6,
        Fragments = new[] { new[] { "a" }, new[] { "b" } },
        OverlapSteps = tau,
        MixingAlpha = alpha,
        WireFormat = WireFormat.Float32,
        OuterLearningRate = 2,
        OuterMomentum = 0,
        FinalModel = FinalModel.OuterParameters, // ALGORITHM.md's vectors are θ̂ as the last outer steps leave it (the default averages the replicas)
    };

    /// <summary>replica[rank][k] and global[rank][k] = (a, b) after k steps, k = 0..steps (the last after Finish).</summary>
    internal static (float[][][] Replica, float[][][] Global) Run(StreamingDiLoCoOptions options, int steps)
    {
        var replica = new float[2][][];
        var global = new float[2][][];
        StreamingDiLoCo.RunInProcess(2, (rank, collective) =>
        {
            using var model = new TwoScalars();
            using var optimizer = torch.optim.SGD(model.parameters(), 1.0);
            using var diloco = new StreamingDiLoCo(model, optimizer, collective, options);
            var r = replica[rank] = new float[steps + 1][];
            var g = global[rank] = new float[steps + 1][];
            Record(0);
            for (int t = 1; t <= steps; t++)
            {
                optimizer.zero_grad();
                model.Loss().backward();
                diloco.AverageGradients();
                optimizer.step();
                diloco.Step();
                if (t == steps) diloco.Finish();
                Record(t);
            }

            void Record(int k)
            {
                r[k] = new[] { model.A, model.B };
                g[k] = new[] { diloco.OuterParameters["a"].item<float>(), diloco.OuterParameters["b"].item<float>() };
            }
        });
        return (replica, global);
    }

    [TestMethod]
    [DataRow(0f, 0)]
    [DataRow(0.5f, 0)]
    [DataRow(0f, 1)]
    [DataRow(0.5f, 1)]
    public void ReplicaAndOuterWeightsFollowTorchftFixture(float alpha, int tau)
    {
        var (replica, global) = Run(GoldenOptions(alpha, tau), steps: 15);
        var (f0, f1) = GoldenVectors.Expected[(alpha, tau)];
        var g = GoldenVectors.ExpectedGlobal[(alpha, tau)];
        for (int rank = 0; rank < 2; rank++)
        {
            for (int k = 0; k < 16; k++)
            {
                Assert.AreEqual(f0[k], replica[rank][k][0], $"α={alpha}, τ={tau}, worker {rank}, fragment 0 after {k} steps");
                Assert.AreEqual(f1[k], replica[rank][k][1], $"α={alpha}, τ={tau}, worker {rank}, fragment 1 after {k} steps");
            }
            Assert.AreEqual(1f, global[rank][2][0], "θ̂ does not move before the apply step");
            Assert.AreEqual(g.F0At3, global[rank][3][0], "θ̂ fragment 0 after the first sync");
            Assert.AreEqual(g.F0At9, global[rank][9][0], "θ̂ fragment 0 after the second sync");
            Assert.AreEqual(g.F1At6, global[rank][6][1], "θ̂ fragment 1 after the first sync");
            Assert.AreEqual(g.F1At12, global[rank][12][1], "θ̂ fragment 1 after the second sync");
        }
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(1)]
    public void AlphaOneIsPlainTraining(int tau)
    {
        var (replica, _) = Run(GoldenOptions(1f, tau), steps: 15);
        for (int k = 0; k < 16; k++)
        {
            Assert.AreEqual(1 - 2 * k, replica[0][k][0], $"fragment 0 after {k} steps");
            Assert.AreEqual(1 - 2 * k, replica[1][k][1], $"fragment 1 after {k} steps");
        }
        Assert.AreEqual(-29f, replica[0][15][0]);
    }

    [TestMethod]
    public void WorkedExampleAtStepNine()
    {
        // (α, τ) = (0.5, 1): sent at step 8 with local −16, Δ = −7 − (−16) = 9, θ̂ = −7 − 2·9 = −25; merge (−18 − 25)/2 = −21.5.
        var (replica, global) = Run(GoldenOptions(0.5f, 1), steps: 9);
        Assert.AreEqual(-16f, replica[0][8][0]);
        Assert.AreEqual(-7f, global[0][8][0]);
        Assert.AreEqual(-25f, global[0][9][0]);
        Assert.AreEqual(-21.5f, replica[0][9][0]);
    }

    [TestMethod]
    public void ReportCountsTheSyncsAndBytesOfTheFixture()
    {
        StreamingDiLoCoReport? report = null;
        StreamingDiLoCo.RunInProcess(2, (rank, collective) =>
        {
            using var model = new TwoScalars();
            using var optimizer = torch.optim.SGD(model.parameters(), 1.0);
            using var diloco = new StreamingDiLoCo(model, optimizer, collective, GoldenOptions(0.5f, 1));
            for (int t = 1; t <= 12; t++)
            {
                optimizer.zero_grad();
                model.Loss().backward();
                optimizer.step();
                diloco.Step();
            }
            diloco.Finish();
            if (rank == 0) report = diloco.Report;
        });
        Assert.IsNotNull(report);
        // Δt = 3, τ = 1: launches at 2, 5, 8, 11 → applied at 3, 6, 9, 12, fragments 0, 1, 0, 1.
        CollectionAssert.AreEqual(new long[] { 2, 5, 8, 11 }, report.Syncs.Select(s => s.LaunchStep).ToArray());
        CollectionAssert.AreEqual(new long[] { 3, 6, 9, 12 }, report.Syncs.Select(s => s.ApplyStep).ToArray());
        CollectionAssert.AreEqual(new[] { 0, 1, 0, 1 }, report.Syncs.Select(s => s.Fragment).ToArray());
        // One FP32 value per sync to the one other worker; the agreement at construction is not counted.
        Assert.AreEqual(4 * 4L, report.BytesSent);
        Assert.AreEqual(4 * 4L, report.BytesReceived);
        Assert.AreEqual(12L, report.Steps);
        Assert.AreEqual(12 * 4L * 2, report.DataParallelBytesSent);
        CollectionAssert.AreEqual(new[] { "a", "b" }, report.FragmentNames.ToArray());
    }
}
