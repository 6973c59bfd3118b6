using DiLoCo.Configuration;
using Microsoft.ML.DiLoCo.Runs;
using Microsoft.ML.DiLoCo.Checkpointing;
using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Data;
using Microsoft.ML.DiLoCo.Model;
using Microsoft.ML.DiLoCo.Tests.Checkpointing;
using Microsoft.ML.DiLoCo.Tests.EndToEnd;
using Microsoft.ML.DiLoCo.Tests.Training;
using Microsoft.ML.DiLoCo.Tokenization;
using Microsoft.ML.DiLoCo.Training;
using Microsoft.ML.DiLoCo.Training.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Reliability;

/// <summary>OnWorkerFailure: a worker whose step throws is dropped (Continue) or stops the run naming it (Fail). docs/reliability.md.</summary>
[TestClass]
public sealed class WorkerFailureTests
{
    // ---- The in-process group shrinks -------------------------------------------------------------------------------------

    [TestMethod]
    public void ALeavingMemberIsAwaitedOnlyInTheRoundsItJoined()
    {
        var group = InProcessCollective.CreateGroup(3);
        byte[] P(int rank, int round) => new[] { (byte)(10 * rank + round) };

        var r0 = group[0].AllGatherAsync(P(0, 0));
        var r1 = group[1].AllGatherAsync(P(1, 0));
        var next0 = group[0].AllGatherAsync(P(0, 1));                       // round 1: waits for members 1 and 2
        ((InProcessCollective)group[1]).Leave();                            // member 1 joined round 0 only
        Assert.AreEqual(2, group[0].Size, "Size counts the remaining members");
        Assert.IsFalse(r0.IsCompleted, "round 0 still waits for member 2");
        var r2 = group[2].AllGatherAsync(P(2, 0));
        var next2 = group[2].AllGatherAsync(P(2, 1));
        foreach (var round0 in new[] { r0, r1, r2 })
            CollectionAssert.AreEqual(new byte[] { 0, 10, 20 }, round0.Result.Select(p => p.Span[0]).ToArray(), "member 1's payload counts in the round it joined");
        CollectionAssert.AreEqual(new byte[] { 1, 21 }, next0.Result.Select(p => p.Span[0]).ToArray(), "round 1 completes without member 1, in rank order");
        CollectionAssert.AreEqual(new byte[] { 1, 21 }, next2.Result.Select(p => p.Span[0]).ToArray());
        Assert.ThrowsExactly<InvalidOperationException>(() => group[1].AllGatherAsync(P(1, 1)), "a member that left takes no further part");
    }

    [TestMethod]
    public void LeavingCompletesARoundThatWaitedOnlyForTheLeavingMember()
    {
        var group = InProcessCollective.CreateGroup(2);
        var pending = group[0].AllGatherAsync(new byte[] { 7 });
        Assert.IsFalse(pending.IsCompleted);
        ((InProcessCollective)group[1]).Leave();
        Assert.IsTrue(pending.Wait(TimeSpan.FromSeconds(5)), "nobody deadlocks on a member that left");
        CollectionAssert.AreEqual(new byte[] { 7 }, pending.Result.Select(p => p.Span[0]).ToArray());
    }

    // ---- The engine: exact arithmetic on scalar weights -------------------------------------------------------------------

    /// <summary>Two scalar weights starting at 1 whose gradient is always <paramref name="gradient"/>; at step
    /// <paramref name="nanLossAtStep"/> the loss is NaN (under NonFiniteValuePolicy.Stop: a TrainingDivergedException).</summary>
    private sealed class ScaledGradientReplica(float gradient, long nanLossAtStep = -1) : IReplica
    {
        private long _step;

        public IReadOnlyList<Parameter> Parameters { get; } = new[] { new Parameter(ones(1), requires_grad: true), new Parameter(ones(1), requires_grad: true) };

        public long TokensPerStep => 1;

        public Tensor NextLoss()
        {
            var loss = (Parameters[0].sum() + Parameters[1].sum()) * gradient;
            return ++_step == nanLossAtStep ? loss * float.NaN : loss;
        }

        public void Dispose()
        {
            foreach (var p in Parameters) p.Dispose();
        }
    }

    // Gradients chosen so that leaving worker 1 out changes the average (6 with it, 7 without), and every value stays a
    // small integer or a dyadic fraction: FP32 arithmetic is then exact and a plain reference reproduces it bit for bit.
    private static readonly float[] Gradients = { 2, 4, 12 };

    private sealed record EngineRun(float[][][] Global, float[][][] Replica, IReadOnlyList<WorkerFailure> Failures, DiLoCoWorker[] Workers);

    /// <summary>M in-process workers under Continue; <paramref name="fault"/> makes (worker, step) throw; records θ̂ and θ_m after each step.</summary>
    private static EngineRun RunEngine(WorkerSettings settings, int steps, Func<int, long, Exception?>? fault,
        Func<int, IReplica>? replicaOf = null, WorkerFailurePolicy policy = WorkerFailurePolicy.Continue)
    {
        int m = Gradients.Length;
        var group = InProcessCollective.CreateGroup(m);
        var metered = group.Select(c => new MeteredCollective(c)).ToArray();
        var workers = Enumerable.Range(0, m).Select(r => new DiLoCoWorker(r, replicaOf?.Invoke(r) ?? new ScaledGradientReplica(Gradients[r]), metered[r], settings)).ToArray();
        var global = new float[m][][];
        var replica = new float[m][][];
        for (int r = 0; r < m; r++) { global[r] = new float[steps + 1][]; replica[r] = new float[steps + 1][]; }
        var live = new LiveWorkers(policy, m, leaveGroup: l => ((InProcessCollective)group[l]).Leave()) { InjectedFault = fault };
        WorkerThreads.Run(workers, steps, e => ((InProcessCollective)group[0]).Abort(e), (r, t) =>
        {
            global[r][t] = EngineHarness.Flatten(workers[r].OuterParameters);
            replica[r][t] = EngineHarness.Flatten(workers[r].ReplicaParameters);
        }, live: live);
        return new EngineRun(global, replica, live.Failures, workers);
    }

    /// <summary>
    /// The loop of ALGORITHM.md on scalars, in FP32 in the engine's order, where worker <paramref name="failed"/> stops before
    /// step <paramref name="failStep"/>: a launch averages the pseudo-gradients of the workers that took part in it (rank order,
    /// divided by their count), so a contribution sent before the failure still counts. Outer SGD lr 2 without momentum, inner SGD lr 1.
    /// </summary>
    private static (float[][] Global, float[][][] Replica) Reference(float alpha, int tau, int steps, int failed, long failStep)
    {
        const int P = 2, Dt = 3;
        int m = Gradients.Length;
        var g = new[] { 1f, 1f };
        var w = Enumerable.Range(0, m).Select(_ => new[] { 1f, 1f }).ToArray();
        var globalTrace = new float[steps + 1][];
        var replicaTrace = new float[steps + 1][][];
        bool Live(int r, long t) => r != failed || t < failStep;
        long k = 0;
        (int Fragment, long ApplyAt, float[] Deltas)? inflight = null;
        for (long t = 1; t <= steps; t++)
        {
            for (int r = 0; r < m; r++) if (Live(r, t)) { w[r][0] -= Gradients[r]; w[r][1] -= Gradients[r]; }
            if ((t + tau) % Dt == 0)
            {
                int p = (int)(k++ % P);
                inflight = (p, t + tau, Enumerable.Range(0, m).Where(r => Live(r, t)).Select(r => g[p] - w[r][p]).ToArray());
            }
            if (inflight is { } f && t == f.ApplyAt)
            {
                float mean = 0;
                foreach (float d in f.Deltas) mean += d;
                mean /= f.Deltas.Length;
                g[f.Fragment] -= 2 * mean;
                for (int r = 0; r < m; r++)
                    if (Live(r, t)) w[r][f.Fragment] = alpha == 0 ? g[f.Fragment] : w[r][f.Fragment] * alpha + g[f.Fragment] * (1 - alpha);
                inflight = null;
            }
            globalTrace[t] = (float[])g.Clone();
            replicaTrace[t] = w.Select(x => (float[])x.Clone()).ToArray();
        }
        return (globalTrace, replicaTrace);
    }

    [TestMethod]
    [DataRow(0f, 0, 5L, DisplayName = "α = 0, τ = 0, worker 1 fails at step 5")]
    [DataRow(0.5f, 1, 6L, DisplayName = "α = 0.5, τ = 1, worker 1 fails at step 6, with its step-5 pseudo-gradient in flight")]
    [DataRow(0.5f, 1, 4L, DisplayName = "α = 0.5, τ = 1, worker 1 fails at step 4, right after an apply")]
    public void ContinueDropsTheWorkerAndTheSyncsAverageTheLiveWorkersExactly(float alpha, int tau, long failStep)
    {
        const int Steps = 12;
        var settings = EngineHarness.GoldenSettings(alpha, tau) with { Inner = new InnerOptimization(ps => new SgdOptimizer(ps, 1.0)) };
        var run = RunEngine(settings, Steps, (r, t) => r == 1 && t == failStep ? new InvalidOperationException("injected fault") : null);
        try
        {
            var (expected, expectedReplica) = Reference(alpha, tau, Steps, failed: 1, failStep);
            var (unharmed, _) = Reference(alpha, tau, Steps, failed: 1, long.MaxValue);
            CollectionAssert.AreNotEqual(unharmed[Steps], expected[Steps], "the reference itself must tell the failure apart");

            Assert.AreEqual(1, run.Failures.Count);
            Assert.AreEqual(new WorkerFailure(1, failStep, "System.InvalidOperationException", "injected fault"), run.Failures[0]);
            foreach (int r in new[] { 0, 2 })
                for (int t = 1; t <= Steps; t++)
                {
                    CheckpointRuns.AssertBitIdentical(expected[t], run.Global[r][t], $"θ̂ of worker {r} after step {t}");
                    CheckpointRuns.AssertBitIdentical(expectedReplica[t][r], run.Replica[r][t], $"θ_{r} after step {t}");
                }
            for (int t = 1; t < failStep; t++) CheckpointRuns.AssertBitIdentical(expected[t], run.Global[1][t], $"θ̂ of worker 1 before its failure, step {t}");
            Assert.IsNull(run.Global[1][failStep], "the dropped worker reports no step after its failure");
            Assert.IsTrue(run.Workers[1].Statistics.Losses.Skip((int)failStep - 1).All(float.IsNaN), "its losses from the failed step on are NaN");
            Assert.AreEqual(Steps, run.Workers[1].Statistics.Losses.Count);
        }
        finally
        {
            foreach (var w in run.Workers) w.Dispose();
        }
    }

    [TestMethod]
    public void DataParallelAveragesTheGradientsOfTheLiveWorkersOnlyEvenWhenTheFailureIsADivergence()
    {
        // Worker 1's loss is NaN at step 4 under NonFiniteValuePolicy.Stop: its TrainingDivergedException drops it before it sends.
        // Mean gradient: (2 + 4 + 12)/3 = 6 for steps 1–3, (2 + 12)/2 = 7 from step 4: the weights are 1 − 3·6 − 5·7 = −52 after 8 steps.
        var settings = new WorkerSettings(TrainingAlgorithm.DataParallel, new SyncSchedule(1, 1, 0), FragmentPlan.Explicit(2, new[] { 0, 1 }), 0f,
            WireCodecs.Create(WireFormat.Float32), ErrorFeedback: false, new InnerOptimization(ps => new SgdOptimizer(ps, 1.0)), OuterOptimization.Nesterov(0.7, 0.9));
        var run = RunEngine(settings, 8, fault: null, replicaOf: r => new ScaledGradientReplica(Gradients[r], nanLossAtStep: r == 1 ? 4 : -1));
        try
        {
            Assert.AreEqual(1, run.Failures.Count);
            Assert.AreEqual(1, run.Failures[0].Worker);
            Assert.AreEqual(4L, run.Failures[0].Step);
            Assert.AreEqual(typeof(TrainingDivergedException).FullName, run.Failures[0].ExceptionType);
            for (int t = 1; t <= 8; t++)
            {
                float expected = 1 - 6 * Math.Min(t, 3) - 7 * Math.Max(0, t - 3);
                foreach (int r in new[] { 0, 2 })
                    CollectionAssert.AreEqual(new[] { expected, expected }, run.Global[r][t], $"worker {r} after step {t}");
            }
        }
        finally
        {
            foreach (var w in run.Workers) w.Dispose();
        }
    }

    [TestMethod]
    public void WhenEveryWorkerFailsTheRunThrowsNamingEachOfThem()
    {
        var settings = EngineHarness.GoldenSettings(0.5f, tau: 1) with { Inner = new InnerOptimization(ps => new SgdOptimizer(ps, 1.0)) };
        var e = Assert.ThrowsExactly<WorkerFailedException>(() => RunEngine(settings, 12, (r, t) => t == 2 + 3 * r ? new OutOfMemoryException($"fault {r}") : null));
        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, e.Failures.Select(f => f.Worker).ToArray());
        CollectionAssert.AreEqual(new[] { 2L, 5L, 8L }, e.Failures.Select(f => f.Step).ToArray());
        StringAssert.Contains(e.Message, "Every worker failed");
        StringAssert.Contains(e.Message, "worker 2 at step 8 (System.OutOfMemoryException: fault 2)");
        Assert.IsInstanceOfType<OutOfMemoryException>(e.InnerException);
    }

    [TestMethod]
    public void FailStopsEveryWorkerWithAnExceptionNamingTheWorkerTheStepAndTheCause()
    {
        var settings = EngineHarness.GoldenSettings(0.5f, tau: 1) with { Inner = new InnerOptimization(ps => new SgdOptimizer(ps, 1.0)) };
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var cause = new OutOfMemoryException("injected fault");
        var e = Assert.ThrowsExactly<WorkerFailedException>(() => RunEngine(settings, 30, (r, t) => r == 2 && t == 7 ? cause : null, policy: WorkerFailurePolicy.Fail));
        Assert.AreEqual(2, e.Worker);
        Assert.AreEqual(7L, e.Step);
        Assert.AreSame(cause, e.InnerException, "the worker's exception is kept");
        StringAssert.StartsWith(e.Message, "Worker 2 failed at step 7: OutOfMemoryException: injected fault");
        Assert.IsTrue(watch.Elapsed < TimeSpan.FromSeconds(20), "the other workers must not hang");
    }

    // ---- Whole transformer runs -------------------------------------------------------------------------------------------

    private static readonly TinyText Text = new();

    /// <summary>Training and validation windows of tiny synthetic text (byte tokenizer).</summary>
    private sealed class TinyText
    {
        public readonly PackedWindows Train = Windows(SyntheticText.Documents(30, 8, seed: 5));
        public readonly PackedWindows Validation = Windows(SyntheticText.Documents(6, 8, seed: 6));

        private static PackedWindows Windows(IEnumerable<SyntheticText.TextRow> documents) =>
            new(TokenStream.Build(documents.Select(d => d.Text), LanguageModelTokenizer.Create(TokenizerKind.Bytes)), 16);
    }

    /// <summary>M = 3, H = 8, P = 2 (Δt = 4: launches after steps 3, 7, 11, …, applied one step later), τ = 1, FP4, T = 32.</summary>
    private static StreamingDiLoCoTrainer.Options Options(WorkerFailurePolicy policy, Func<int, long, Exception?>? fault) => new()
    {
        Model = new TransformerOptions { ContextLength = 16, EmbeddingSize = 16, NumberOfLayers = 2, NumberOfHeads = 2 },
        NumberOfWorkers = 3,
        InnerSteps = 8,
        NumberOfFragments = 2,
        OverlapSteps = 1,
        MixingAlpha = 0.5f,
        WireFormat = WireFormat.Float4E3M0,
        InnerLearningRate = 3e-3f,
        WarmupSteps = 4,
        BatchSize = 4,
        TrainingSteps = 32,
        EvaluationInterval = 8,
        Seed = 11,
        OnWorkerFailure = policy,
        InjectedWorkerFault = fault,
    };

    private static (float[] Global, TrainingReport Report, List<string> Log) Train(StreamingDiLoCoTrainer.Options o, bool validate = false)
    {
        var log = new List<string>();
        var (model, report) = LanguageModelTrainingRun.Train(StreamingDiLoCoTrainer.Plan(o), new RunInputs(257, Text.Train, validate ? Text.Validation : null, o.Seed ?? 0),
            new RunHooks(message => { lock (log) log.Add(message); }, Cancellation: o.CancellationToken, InjectedWorkerFault: o.InjectedWorkerFault));
        using (model)
            return (model.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray(), report, log);
    }

    private static Func<int, long, Exception?> FaultAt(int worker, long step) =>
        (r, t) => r == worker && t == step ? new InvalidOperationException($"injected fault in worker {r}") : null;

    [TestMethod]
    public void ContinueFinishesWithTwoWorkersReportsTheFailureAndLearns()
    {
        // Worker 1 fails at step 8: its pseudo-gradient launched after step 7 is in flight and still counts in the apply at step 8.
        var (global, report, log) = Train(Options(WorkerFailurePolicy.Continue, FaultAt(1, 8)));

        Assert.AreEqual(1, report.WorkerFailures.Count);
        Assert.AreEqual(new WorkerFailure(1, 8, "System.InvalidOperationException", "injected fault in worker 1"), report.WorkerFailures[0]);
        Assert.IsTrue(log.Any(l => l.Contains("Worker 1 failed at step 8") && l.Contains("continues with 2 workers")), string.Join("\n", log));
        Assert.IsTrue(global.All(float.IsFinite), "θ̂ finite");

        // Every sync worker 0 applied: 3 contributions while worker 1 took part in the launch, 2 afterwards (received = the others' payloads).
        var syncs = report.Syncs;
        Assert.AreEqual(8 + 2, syncs.Count, "32 steps / Δt = 4, then each of the P = 2 fragments once more for the replicas' average (the default FinalModel)");
        var codec = WireCodecs.Create(WireFormat.Float4E3M0);
        foreach (var s in syncs)
        {
            long payload = codec.EncodedLength((int)report.FragmentSizes[s.Fragment]);
            Assert.AreEqual((s.LaunchStep < 8 ? 2 : 1) * payload, s.BytesReceived, $"sync launched at {s.LaunchStep}: contributions");
        }

        var lost = report.InnerLossPerWorker[1];
        Assert.IsTrue(lost.Take(7).All(float.IsFinite) && lost.Skip(7).All(float.IsNaN), "worker 1's losses: finite up to step 7, NaN from step 8");
        Assert.IsTrue(report.MeanInnerLoss.All(float.IsFinite), "the mean averages the live workers only");
        Assert.AreEqual((report.InnerLossPerWorker[0][20] + report.InnerLossPerWorker[2][20]) / 2, report.MeanInnerLoss[20], 1e-6);
        Assert.IsTrue(report.MeanInnerLoss.TakeLast(4).Average() < report.MeanInnerLoss.Take(4).Average() - 0.5,
            $"the model learns: {report.MeanInnerLoss.Take(4).Average():F3} → {report.MeanInnerLoss.TakeLast(4).Average():F3}");

        // Which contributions count depends only on the step of the failure, never on thread timing.
        var again = Train(Options(WorkerFailurePolicy.Continue, FaultAt(1, 8)));
        CheckpointRuns.AssertBitIdentical(global, again.Global, "θ̂ of two identical runs with the same failure");
    }

    [TestMethod]
    public void WhenWorkerZeroFailsAnotherWorkerEvaluatesAndTheModelIsTheLiveWorkersGlobalParameters()
    {
        var (global, report, log) = Train(Options(WorkerFailurePolicy.Continue, FaultAt(0, 13)), validate: true);

        Assert.AreEqual(0, report.WorkerFailures.Single().Worker);
        CollectionAssert.AreEqual(new long[] { 0, 8, 16, 24, 32 }, report.Validation.Select(v => v.Step).ToArray(), "no evaluation is lost");
        Assert.IsTrue(report.Validation.All(v => double.IsFinite(v.Loss)));
        Assert.IsTrue(report.Validation[^1].Loss < report.Validation[0].Loss - 0.5, "θ̂ keeps learning after worker 0 is dropped");
        Assert.IsTrue(global.All(float.IsFinite));
        Assert.AreEqual(8 + 2, report.Syncs.Count, "the report's syncs come from a live worker (2 of them for the replicas' average)");
        Assert.AreEqual(report.NumberOfWorkers - 1, report.Replicas!.Replicas, "the replica mean leaves the dropped worker out");
        Assert.IsTrue(double.IsFinite(report.Replicas.Replica0Loss) && double.IsFinite(report.Replicas.ReplicaMeanLoss));
        Assert.IsTrue(log.Any(l => l.Contains("Worker 0 failed at step 13")), string.Join("\n", log));

        // Evaluations are made by the lowest worker that completed the step: the same points every run.
        var again = Train(Options(WorkerFailurePolicy.Continue, FaultAt(0, 13)), validate: true);
        CollectionAssert.AreEqual(report.Validation.Select(v => v.Loss).ToArray(), again.Report.Validation.Select(v => v.Loss).ToArray());
        CheckpointRuns.AssertBitIdentical(global, again.Global, "θ̂");
    }

    [TestMethod]
    public void DataParallelWithContinueFinishesWithTheLiveWorkers()
    {
        var o = Options(WorkerFailurePolicy.Continue, FaultAt(2, 5));
        o.Algorithm = TrainingAlgorithm.DataParallel;
        var (global, report, _) = Train(o);
        Assert.AreEqual(new WorkerFailure(2, 5, "System.InvalidOperationException", "injected fault in worker 2"), report.WorkerFailures.Single());
        Assert.IsTrue(global.All(float.IsFinite));
        Assert.IsTrue(report.MeanInnerLoss.All(float.IsFinite));
        Assert.IsTrue(report.MeanInnerLoss.TakeLast(4).Average() < report.MeanInnerLoss.Take(4).Average() - 0.5, "the model learns");
        // Gradients (FP32, every step): 2 others before step 5, 1 other from step 5 on.
        var cost = report.Workers[0];
        long gradient = 4L * report.ParameterCount;
        Assert.AreEqual(4 * 2 * gradient + 28 * gradient, cost.BytesReceived, "worker 0 received 2 gradients for steps 1–4, 1 for steps 5–32");
    }

    [TestMethod]
    public void FailWithACheckpointFolderNamesTheNewestCheckpointAndTheNextFitResumesFromIt()
    {
        string dir = CheckpointRuns.NewDirectory();
        var o = Options(WorkerFailurePolicy.Fail, FaultAt(1, 10));
        o.CheckpointDirectory = dir;
        o.CheckpointInterval = 4;
        var e = Assert.ThrowsExactly<WorkerFailedException>(() => Train(o));
        Assert.AreEqual(1, e.Worker);
        Assert.AreEqual(10L, e.Step);
        Assert.IsInstanceOfType<InvalidOperationException>(e.InnerException);
        Assert.AreEqual("injected fault in worker 1", e.InnerException!.Message);
        StringAssert.StartsWith(e.Message, "Worker 1 failed at step 10: InvalidOperationException: injected fault in worker 1");
        StringAssert.Contains(e.Message, Path.Combine(dir, "checkpoint-000000000008.dlc"), "the newest checkpoint before the failure");

        // Resume (OnWorkerFailure may change on resume): continues from step 8 and equals the run that never failed, bit for bit.
        var resume = Options(WorkerFailurePolicy.Continue, fault: null);
        resume.CheckpointDirectory = dir;
        resume.CheckpointInterval = 4;
        var (global, report, log) = Train(resume);
        Assert.IsTrue(log.Any(l => l.StartsWith("Resuming from ") && l.Contains("at step 8 of 32")), string.Join("\n", log));
        Assert.AreEqual(0, report.WorkerFailures.Count);
        var straight = Train(Options(WorkerFailurePolicy.Fail, fault: null));
        CheckpointRuns.AssertBitIdentical(straight.Global, global, "θ̂ of the resumed run");
    }

    [TestMethod]
    public void ContinueIsRefusedUnderMpiAndAnUnknownPolicyIsRefused()
    {
        var o = Options(WorkerFailurePolicy.Continue, null);
        o.Transport = Transport.Mpi;
        var e = Assert.ThrowsExactly<ArgumentException>(() => o.Validate());
        Assert.AreEqual(nameof(StreamingDiLoCoTrainer.Options.OnWorkerFailure), e.ParamName);
        var unknown = Options((WorkerFailurePolicy)7, null);
        Assert.AreEqual(nameof(StreamingDiLoCoTrainer.Options.OnWorkerFailure),
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => unknown.Validate()).ParamName);
    }

    [TestMethod]
    public void TheConfigFieldOnWorkerFailureMapsToTheOption()
    {
        string Config(string value) => $$"""
            { "version": 1, "scenario": "LanguageModeling", "data": { "source": "sotu" }, "trainer": { "onWorkerFailure": {{value}} } }
            """;
        Assert.AreEqual(WorkerFailurePolicy.Continue, TrainingConfig.Parse(Config("\"continue\""), Path.GetTempPath()).Trainer.OnWorkerFailure);
        Assert.AreEqual(WorkerFailurePolicy.Fail, TrainingConfig.Parse(Config("\"fail\""), Path.GetTempPath()).Trainer.OnWorkerFailure);
        var e = Assert.ThrowsExactly<TrainingConfigException>(() => TrainingConfig.Parse(Config("\"retry\""), Path.GetTempPath()));
        StringAssert.Contains(e.Message, "onWorkerFailure");
    }
}
