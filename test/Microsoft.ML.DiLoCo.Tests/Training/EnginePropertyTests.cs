using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Training;
using Microsoft.ML.DiLoCo.Training.Optimizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Training;

/// <summary>ALGORITHM.md's properties, checked on the real engine with small replicas.</summary>
[TestClass]
public sealed class EnginePropertyTests
{
    private static int[] Rows(int seed) => Enumerable.Range(0, 256).OrderBy(i => new Random(seed * 7919 + i).Next()).ToArray();

    private static WorkerSettings Settings(TrainingAlgorithm algorithm, int h, int p, int tau, float alpha, WireFormat format,
        double outerLr = 0.7, double outerMomentum = 0.9, bool adam = true, int parameters = 2, bool errorFeedback = false) => new(
        algorithm,
        new SyncSchedule(h, p, tau),
        p == 1 ? FragmentPlan.Explicit(parameters, Enumerable.Range(0, parameters).ToArray())
               : FragmentPlan.Explicit(parameters, Enumerable.Range(0, parameters).Select(i => new[] { i }).ToArray()),
        alpha,
        WireCodecs.Create(format),
        errorFeedback,
        adam ? new InnerOptimization(ps => new AdamWOptimizer(ps, 0.05, 0.9, 0.95, 1e-8, 0.0))
             : new InnerOptimization(ps => new SgdOptimizer(ps, 0.05)),
        OuterOptimization.Nesterov(outerLr, outerMomentum));

    [TestMethod]
    public void ScheduleSendsAndAppliesOnTheStaggeredSteps()
    {
        var schedule = new SyncSchedule(innerSteps: 12, numberOfFragments: 4, overlapSteps: 1);
        var launches = Enumerable.Range(1, 12).Where(t => schedule.IsLaunchStep(t)).ToArray();
        CollectionAssert.AreEqual(new[] { 2, 5, 8, 11 }, launches);
        CollectionAssert.AreEqual(new[] { 3L, 6, 9, 12 }, launches.Select(t => schedule.ApplyStepOf(t)).ToArray());
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 3 }, Enumerable.Range(1, 4).Select(k => schedule.FragmentOfLaunch(k)).ToArray());

        // The engine follows the same schedule, on every worker, in the same order.
        var (_, _, workers) = EngineHarness.Run(_ => new ConstantGradientReplica(4), 2,
            EngineHarness.GoldenSettings(0.5f, tau: 1, innerSteps: 12, fragments: 4), steps: 12);
        foreach (var w in workers)
        {
            CollectionAssert.AreEqual(new long[] { 2, 5, 8, 11 }, w.Statistics.Syncs.Select(s => s.LaunchStep).ToArray());
            CollectionAssert.AreEqual(new long[] { 3, 6, 9, 12 }, w.Statistics.Syncs.Select(s => s.ApplyStep).ToArray());
            CollectionAssert.AreEqual(new[] { 0, 1, 2, 3 }, w.Statistics.Syncs.Select(s => s.Fragment).ToArray());
            w.Dispose();
        }
    }

    [TestMethod]
    public void InvalidScheduleOptionsAreRejectedWithTheirNames()
    {
        var e1 = Assert.ThrowsExactly<ArgumentException>(() => new SyncSchedule(10, 4, 0));
        StringAssert.Contains(e1.Message, "InnerSteps");
        var e2 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SyncSchedule(12, 4, 3));
        Assert.AreEqual("OverlapSteps", e2.ParamName);
        var e3 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SyncSchedule(12, 0, 0));
        Assert.AreEqual("NumberOfFragments", e3.ParamName);
    }

    [TestMethod]
    public void OneFragmentNoOverlapAlphaZeroIsVanillaDiLoCo()
    {
        // Hand-computed: two workers, weights 1, gradient 2, SGD lr 1, H = 6: local −11, Δ = 12, θ̂ = 1 − 2·12 = −23.
        var (replica, global, workers) = EngineHarness.Run(_ => new ConstantGradientReplica(2), 2,
            EngineHarness.GoldenSettings(0f, 0, innerSteps: 6, fragments: 1) with { Plan = FragmentPlan.Explicit(2, new[] { 0, 1 }) }, steps: 12);
        Assert.AreEqual(-9f, replica[0][5][0]);
        Assert.AreEqual(-23f, global[0][6][0]);
        Assert.AreEqual(-23f, replica[0][6][1]);
        Assert.AreEqual(-23f - 2 * 12f, global[0][12][1]); // second round: Δ = 12 again
        foreach (var w in workers) w.Dispose();

        // Against a reference DiLoCo loop written independently (SGD inner, Nesterov outer, M = 2, different data).
        const int h = 5, rounds = 4, m = 2;
        var settings = Settings(TrainingAlgorithm.DiLoCo, h, 1, 0, 0f, WireFormat.Float32, adam: false);
        var (_, engineGlobal, engineWorkers) = EngineHarness.Run(r => new LinearRegressionReplica(3, Rows(r), 8), m, settings, steps: h * rounds);
        var refs = Enumerable.Range(0, m).Select(r => new LinearRegressionReplica(3, Rows(r), 8)).ToArray();
        var theta = EngineHarness.Flatten(refs[0].Parameters);
        var v = new float[theta.Length];
        for (int round = 0; round < rounds; round++)
        {
            var mean = new float[theta.Length];
            foreach (var rep in refs)
            {
                using var sgd = optim.SGD(rep.Parameters, 0.05);
                for (int s = 0; s < h; s++) { sgd.zero_grad(); rep.NextLoss().backward(); sgd.step(); }
                var local = EngineHarness.Flatten(rep.Parameters);
                for (int i = 0; i < theta.Length; i++) mean[i] += (theta[i] - local[i]) / m;
            }
            for (int i = 0; i < theta.Length; i++)
            {
                v[i] = 0.9f * v[i] + mean[i];
                theta[i] -= 0.7f * (mean[i] + 0.9f * v[i]);
            }
            foreach (var rep in refs)
                using (no_grad()) { int o = 0; foreach (var p in rep.Parameters) { int n = (int)p.numel(); p.copy_(tensor(theta[o..(o + n)]).reshape(p.shape)); o += n; } }
        }
        var final = engineGlobal[0][h * rounds];
        for (int i = 0; i < theta.Length; i++) Assert.AreEqual(theta[i], final[i], 1e-4, $"θ̂[{i}]");
        foreach (var w in engineWorkers) w.Dispose();
    }

    [TestMethod]
    public void OneWorkerWithUnitOuterStepIsPlainTraining()
    {
        var settings = Settings(TrainingAlgorithm.StreamingDiLoCo, 4, 2, 0, 0f, WireFormat.Float32, outerLr: 1, outerMomentum: 0);
        var (replica, _, workers) = EngineHarness.Run(_ => new LinearRegressionReplica(5, Rows(0), 8), 1, settings, steps: 24);
        using var plain = new LinearRegressionReplica(5, Rows(0), 8);
        using var adam = optim.AdamW(plain.Parameters, 0.05, 0.9, 0.95, 1e-8, 0.0);
        for (int t = 1; t <= 24; t++)
        {
            adam.zero_grad(); plain.NextLoss().backward(); adam.step();
            var expected = EngineHarness.Flatten(plain.Parameters);
            for (int i = 0; i < expected.Length; i++) Assert.AreEqual(expected[i], replica[0][t][i], 1e-5, $"step {t}, weight {i}");
        }
        foreach (var w in workers) w.Dispose();
    }

    [TestMethod]
    public void IdenticalWorkersOnIdenticalDataEqualOneWorker()
    {
        var settings = Settings(TrainingAlgorithm.StreamingDiLoCo, 6, 2, 1, 0.5f, WireFormat.Float4E3M0);
        var (_, one, w1) = EngineHarness.Run(_ => new LinearRegressionReplica(9, Rows(1), 8), 1, settings, steps: 18);
        var (_, two, w2) = EngineHarness.Run(_ => new LinearRegressionReplica(9, Rows(1), 8), 2, settings, steps: 18);
        for (int t = 0; t <= 18; t++)
            CollectionAssert.AreEqual(one[0][t], two[1][t], $"θ̂ after step {t}: M = 2 identical workers must equal M = 1 bit for bit");
        Assert.AreNotEqual(one[0][0][0], one[0][18][0], "the model must have moved");
        foreach (var w in w1.Concat(w2)) w.Dispose();
    }

    [TestMethod]
    public void GlobalParametersAreBitIdenticalOnEveryWorker()
    {
        var settings = Settings(TrainingAlgorithm.StreamingDiLoCo, 6, 2, 1, 0.5f, WireFormat.Float4E3M0, errorFeedback: true);
        var (replica, global, workers) = EngineHarness.Run(r => new LinearRegressionReplica(2, Rows(r + 10), 8), 3, settings, steps: 30);
        for (int t = 0; t <= 30; t++)
        {
            CollectionAssert.AreEqual(global[0][t], global[1][t], $"θ̂ of workers 0 and 1 after step {t}");
            CollectionAssert.AreEqual(global[0][t], global[2][t], $"θ̂ of workers 0 and 2 after step {t}");
        }
        CollectionAssert.AreNotEqual(replica[0][29], replica[1][29], "replicas on different data differ between syncs");
        foreach (var w in workers) w.Dispose();
    }

    [TestMethod]
    public void OuterStepMovesTheGlobalModelTowardTheReplicas()
    {
        // Sign check: with η = 1, μ = 0 one sync sets θ̂ to the mean of the replicas (global − local, not the reverse),
        // and the global model's loss falls with training.
        var settings = Settings(TrainingAlgorithm.DiLoCo, 5, 1, 0, 0f, WireFormat.Float32, outerLr: 1, outerMomentum: 0, adam: false);
        var (_, global, workers) = EngineHarness.Run(r => new LinearRegressionReplica(4, Rows(r), 8), 2, settings, steps: 5);
        var mean = new float[5];
        for (int r = 0; r < 2; r++)
        {
            using var rep = new LinearRegressionReplica(4, Rows(r), 8);
            using var sgd = optim.SGD(rep.Parameters, 0.05);
            for (int s = 0; s < 5; s++) { sgd.zero_grad(); rep.NextLoss().backward(); sgd.step(); }
            var w = EngineHarness.Flatten(rep.Parameters);
            for (int i = 0; i < 5; i++) mean[i] += w[i] / 2;
        }
        for (int i = 0; i < 5; i++)
        {
            Assert.AreEqual(mean[i], global[0][5][i], 1e-6, $"θ̂[{i}] must become the replicas' mean");
            Assert.AreNotEqual(global[0][0][i], global[0][5][i], $"θ̂[{i}] must move");
        }
        foreach (var w in workers) w.Dispose();

        var (_, g, ws) = EngineHarness.Run(r => new LinearRegressionReplica(4, Rows(r), 8), 2,
            Settings(TrainingAlgorithm.StreamingDiLoCo, 10, 2, 1, 0.5f, WireFormat.Float4E3M0), steps: 100);
        using var probe = new LinearRegressionReplica(4, Rows(99), 256);
        double LossAt(float[] weights)
        {
            using (no_grad()) { probe.Parameters[0].copy_(tensor(weights[..4]).reshape(4, 1)); probe.Parameters[1].copy_(tensor(weights[4..5])); }
            using (no_grad()) return probe.NextLoss().item<float>();
        }
        Assert.IsTrue(LossAt(g[0][100]) < 0.1 * LossAt(g[0][0]), $"θ̂ loss {LossAt(g[0][100])} should be far below the initial {LossAt(g[0][0])}");
        foreach (var w in ws) w.Dispose();
    }
}
