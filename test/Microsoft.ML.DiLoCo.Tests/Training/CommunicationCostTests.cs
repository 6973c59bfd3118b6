using Microsoft.ML.DiLoCo.Runs;
using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Training;
using TorchSharp;

namespace Microsoft.ML.DiLoCo.Tests.Training;

/// <summary>Bytes on the wire equal their formulas (ALGORITHM.md, "Properties": FP32 ≈ H× less than data-parallel, FP4 ≈ 8H×).</summary>
[TestClass]
public sealed class CommunicationCostTests
{
    private const int Parameters = 4, Size = 256, H = 12, P = 4, Steps = 24, M = 2;

    private static (long Sent, long Received, long Largest, int Syncs) Run(TrainingAlgorithm algorithm, WireFormat format)
    {
        var settings = EngineHarness.GoldenSettings(0.5f, tau: 1, innerSteps: H, fragments: P) with { Algorithm = algorithm, Codec = WireCodecs.Create(format) };
        var group = InProcessCollective.CreateGroup(M);
        var metered = group.Select(c => new MeteredCollective(c)).ToArray();
        var workers = Enumerable.Range(0, M).Select(r => new DiLoCoWorker(r, new ConstantGradientReplica(Parameters, Size), metered[r], settings)).ToArray();
        WorkerThreads.Run(workers, Steps, e => ((InProcessCollective)group[0]).Abort(e));
        var result = (metered[0].BytesSent, metered[0].BytesReceived, metered[0].LargestMessageBytes, workers[0].Statistics.Syncs.Count);
        if (algorithm != TrainingAlgorithm.DataParallel)
            Assert.AreEqual(metered[0].BytesSent, workers[0].Statistics.Syncs.Sum(s => s.BytesSent), "per-sync bytes add up to the meter");
        foreach (var w in workers) w.Dispose();
        return result;
    }

    [TestMethod]
    public void BytesMatchTheirFormulas()
    {
        const long n = Parameters * Size;
        var dp = Run(TrainingAlgorithm.DataParallel, WireFormat.Float32);
        Assert.AreEqual(Steps * (M - 1) * 4 * n, dp.Sent, "data-parallel: every FP32 gradient, every step, to each other worker");
        Assert.AreEqual(dp.Sent, dp.Received);
        Assert.AreEqual(4 * n, dp.Largest);

        var fp32 = Run(TrainingAlgorithm.StreamingDiLoCo, WireFormat.Float32);
        Assert.AreEqual(Steps / (H / P), fp32.Syncs, "one fragment every H/P steps");
        Assert.AreEqual((Steps / H) * (M - 1) * 4 * n, fp32.Sent, "each parameter once per H steps");
        Assert.AreEqual(4 * Size, fp32.Largest, "largest message = one fragment");
        Assert.AreEqual(H, dp.Sent / fp32.Sent, "FP32 Streaming DiLoCo sends H× less than data-parallel");

        var fp4 = Run(TrainingAlgorithm.StreamingDiLoCo, WireFormat.Float4E3M0);
        long perFragment = WireCodecs.Create(WireFormat.Float4E3M0).EncodedLength(Size);
        Assert.AreEqual((Steps / H) * P * (M - 1) * perFragment, fp4.Sent);
        double ratio = (double)dp.Sent / fp4.Sent;
        Assert.IsTrue(ratio > 0.9 * 8 * H && ratio <= 8 * H, $"FP4 should send about 8H = {8 * H}× less than data-parallel; got {ratio:F1}×");
    }

    [TestMethod]
    public void NonFiniteLossStopsEveryWorkerWithTheStepAndWorker()
    {
        var settings = EngineHarness.GoldenSettings(0.5f, tau: 1, innerSteps: 6, fragments: 2);
        var group = InProcessCollective.CreateGroup(3);
        var workers = Enumerable.Range(0, 3).Select(r => new DiLoCoWorker(r,
            r == 1 ? new PoisonedReplica(failAtCall: 4) : new ConstantGradientReplica(2), group[r], settings)).ToArray();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.ThrowsExactly<TrainingDivergedException>(() => WorkerThreads.Run(workers, 30, ex => ((InProcessCollective)group[0]).Abort(ex)));
        Assert.AreEqual(1, e.Worker);
        Assert.AreEqual(4, e.Step);
        StringAssert.Contains(e.Message, "step 4");
        Assert.IsTrue(watch.Elapsed < TimeSpan.FromSeconds(20), "the other workers must not hang");
        foreach (var w in workers) w.Dispose();
    }

    /// <summary>A replica whose loss turns NaN on its n-th call.</summary>
    private sealed class PoisonedReplica(int failAtCall) : IReplica
    {
        private readonly ConstantGradientReplica _inner = new(2);
        private int _calls;
        public IReadOnlyList<TorchSharp.Modules.Parameter> Parameters => _inner.Parameters;
        public long TokensPerStep => 1;
        public torch.Tensor NextLoss() => ++_calls == failAtCall ? _inner.NextLoss() * float.NaN : _inner.NextLoss();
        public void Dispose() => _inner.Dispose();
    }
}
