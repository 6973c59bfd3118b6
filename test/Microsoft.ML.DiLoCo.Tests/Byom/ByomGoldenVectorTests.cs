using TorchSharp;

namespace Microsoft.ML.DiLoCo.Tests.Byom;

/// <summary>
/// torchft's regression fixtures (ALGORITHM.md, "Golden vectors") through the public <see cref="StreamingDiLoCo"/> API:
/// a user module with two scalar weights, the user's SGD (lr 1) and loop, each weight its own fragment.
/// The expected tables are those of Training/GoldenVectorTests.cs.
/// </summary>
[TestClass]
public sealed class ByomGoldenVectorTests
{
    private static readonly Dictionary<(float, int), (float[] F0, float[] F1)> Expected = new()
    {
        [(0f, 0)] = (new float[] { 1, -1, -3, -11, -13, -15, -17, -19, -21, -35, -37, -39, -41, -43, -45, -59 },
                     new float[] { 1, -1, -3, -5, -7, -9, -23, -25, -27, -29, -31, -33, -47, -49, -51, -53 }),
        [(0.5f, 0)] = (new float[] { 1, -1, -3, -8, -10, -12, -14, -16, -18, -24.5f, -26.5f, -28.5f, -30.5f, -32.5f, -34.5f, -40.25f },
                       new float[] { 1, -1, -3, -5, -7, -9, -17, -19, -21, -23, -25, -27, -32, -34, -36, -38 }),
        [(0f, 1)] = (new float[] { 1, -1, -3, -7, -9, -11, -13, -15, -17, -27, -29, -31, -33, -35, -37, -47 },
                     new float[] { 1, -1, -3, -5, -7, -9, -19, -21, -23, -25, -27, -29, -39, -41, -43, -45 }),
        [(0.5f, 1)] = (new float[] { 1, -1, -3, -6, -8, -10, -12, -14, -16, -21.5f, -23.5f, -25.5f, -27.5f, -29.5f, -31.5f, -35.75f },
                       new float[] { 1, -1, -3, -5, -7, -9, -15, -17, -19, -21, -23, -25, -29, -31, -33, -35 }),
    };

    // θ̂ after the listed step: fragment 0 at steps 3 and 9, fragment 1 at 6 and 12.
    private static readonly Dictionary<(float, int), (float F0At3, float F0At9, float F1At6, float F1At12)> ExpectedGlobal = new()
    {
        [(0f, 0)] = (-11, -35, -23, -47),
        [(0.5f, 0)] = (-11, -29, -23, -35),
        [(0f, 1)] = (-7, -27, -19, -39),
        [(0.5f, 1)] = (-7, -25, -19, -31),
    };

    internal static StreamingDiLoCoOptions GoldenOptions(float alpha, int tau) => new()
    {
        InnerSteps = 6,
        Fragments = new[] { new[] { "a" }, new[] { "b" } },
        OverlapSteps = tau,
        MixingAlpha = alpha,
        WireFormat = WireFormat.Float32,
        OuterLearningRate = 2,
        OuterMomentum = 0,
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
        var (f0, f1) = Expected[(alpha, tau)];
        var g = ExpectedGlobal[(alpha, tau)];
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
