using Microsoft.ML.DiLoCo.Training;
using Microsoft.ML.DiLoCo.Training.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Training;

/// <summary>
/// The library's own optimizers against TorchSharp's, single-threaded (where TorchSharp's are safe), on the same
/// parameters, gradients and learning-rate schedule for many steps: parameters and state must be bit-identical.
/// </summary>
[TestClass]
public sealed class OptimizerEquivalenceTests
{
    private const int Steps = 300;

    /// <summary>Matrices, vectors and a scalar-shaped parameter, like a transformer's (weight decay on matrices only).</summary>
    private static Parameter[] NewParameters(int seed)
    {
        using var generator = new Generator((ulong)seed);
        return new[] { new long[] { 16, 8 }, new long[] { 8 }, new long[] { 4, 4 }, new long[] { 1 } }
            .Select(shape => new Parameter(randn(shape, generator: generator), requires_grad: true)).ToArray();
    }

    /// <summary>Sets a fresh random gradient on each parameter: the same on both sides for a given step.</summary>
    private static void SetGradients(Parameter[] parameters, int step)
    {
        using var generator = new Generator((ulong)(1000 + step));
        using var _ = no_grad();
        foreach (var p in parameters)
        {
            using var g = randn(p.shape, generator: generator) * (step % 7 == 0 ? 10.0.ToScalar() : 0.3.ToScalar());
            if (p.grad is null) p.grad = g.clone();
            else p.grad.copy_(g);
        }
    }

    private static void AssertBitIdentical(Tensor expected, Tensor actual, string what)
    {
        var e = expected.detach().contiguous().data<float>().ToArray();
        var a = actual.detach().contiguous().data<float>().ToArray();
        CollectionAssert.AreEqual(e.Select(BitConverter.SingleToInt32Bits).ToArray(), a.Select(BitConverter.SingleToInt32Bits).ToArray(), what);
    }

    [TestMethod]
    public void AdamWIsBitIdenticalToTorchSharpsAdamWWithTwoGroupsAndASchedule()
    {
        var theirs = NewParameters(1);
        var ours = NewParameters(1);
        var schedule = new LearningRateSchedule(3e-3, 20, Steps, 3e-4);
        // TorchSharp: decay on matrices only, as the trainer did before it had its own optimizer.
        var decayed = theirs.Where(p => p.dim() >= 2).ToList();
        var plain = theirs.Where(p => p.dim() < 2).ToList();
        using var reference = optim.AdamW(new List<AdamW.ParamGroup>
        {
            new(decayed, new AdamW.Options { LearningRate = 3e-3, weight_decay = 0.1, beta1 = 0.9, beta2 = 0.95 }),
            new(plain, new AdamW.Options { LearningRate = 3e-3, weight_decay = 0, beta1 = 0.9, beta2 = 0.95 }),
        }, 3e-3, 0.9, 0.95, 1e-8, 0.1);
        using var mine = InnerOptimization.AdamW(schedule, 0.9, 0.95, 0.1, gradientClipNorm: 0).CreateOptimizer(ours);

        for (int t = 1; t <= Steps; t++)
        {
            double lr = schedule.At(t);
            foreach (var g in reference.ParamGroups) g.LearningRate = lr;
            mine.LearningRate = lr;
            SetGradients(theirs, t);
            SetGradients(ours, t);
            reference.step();
            mine.Step();
        }

        for (int i = 0; i < ours.Length; i++) AssertBitIdentical(theirs[i], ours[i], $"parameter {i}");
        // The state in the same order as TorchSharp's state_dict (group order), so checkpoints written before still mean the same.
        var states = reference.state_dict().State.Cast<AdamW.State>().ToArray();
        Assert.AreEqual(states.Length, mine.Parameters.Count);
        for (int i = 0; i < states.Length; i++)
        {
            Assert.AreEqual(states[i].step, mine.StepsOf(i));
            AssertBitIdentical(states[i].exp_avg, mine.BuffersOf(i)[0]!, $"exp_avg {i}");
            AssertBitIdentical(states[i].exp_avg_sq, mine.BuffersOf(i)[1]!, $"exp_avg_sq {i}");
        }
    }

    [DataTestMethod]
    [DataRow(0.9, true)]
    [DataRow(0.5, false)]
    [DataRow(0.0, false)]
    public void SgdIsBitIdenticalToTorchSharpsSgd(double momentum, bool nesterov)
    {
        var theirs = NewParameters(2);
        var ours = NewParameters(2);
        using var reference = optim.SGD(theirs, 0.7, momentum, dampening: 0, weight_decay: 0, nesterov: nesterov);
        using var mine = new SgdOptimizer(ours, 0.7, momentum, nesterov);
        for (int t = 1; t <= Steps; t++)
        {
            SetGradients(theirs, t);
            SetGradients(ours, t);
            reference.step();
            mine.Step();
        }
        for (int i = 0; i < ours.Length; i++) AssertBitIdentical(theirs[i], ours[i], $"parameter {i}");
        var states = reference.state_dict().State.Cast<SGD.State>().ToArray();
        for (int i = 0; i < states.Length; i++)
        {
            if (momentum == 0) Assert.IsNull(mine.BuffersOf(i)[0]);
            else AssertBitIdentical(states[i].momentum_buffer, mine.BuffersOf(i)[0]!, $"momentum {i}");
        }
    }

    [TestMethod]
    public void ScalarSafeOptimizerIsADropInForTorchSharpsAdamWithASchedulerAndAClosure()
    {
        var theirs = NewParameters(5);
        var ours = NewParameters(5);
        using var reference = optim.Adam(theirs, 1e-2);
        using optim.Optimizer mine = ScalarSafeOptimizer.Adam(ours, 1e-2);
        CollectionAssert.AreEqual(ours, mine.parameters().ToArray(), "StreamingDiLoCo checks ownership through parameters()");
        for (int t = 1; t <= 100; t++)
        {
            double lr = 1e-2 * (1 - t / 200.0); // as a learning-rate scheduler would, through ParamGroups
            foreach (var g in reference.ParamGroups) g.LearningRate = lr;
            foreach (var g in mine.ParamGroups) g.LearningRate = lr;
            reference.zero_grad();
            mine.zero_grad();
            SetGradients(theirs, t);
            SetGradients(ours, t);
            reference.step();
            float before = ours[0].sum().item<float>();
            using var loss = mine.step(() => ours[0].sum());
            Assert.AreEqual(before, loss.item<float>(), "the closure's loss, computed before the update");
        }
        for (int i = 0; i < ours.Length; i++) AssertBitIdentical(theirs[i], ours[i], $"parameter {i}");
    }

    [TestMethod]
    public void OuterNesterovIsTorchsFormula()
    {
        // v ← μv + Δ̄; θ̂ ← θ̂ − η(Δ̄ + μv); the first step moves θ̂ by (1 + μ)·η·Δ̄ (ALGORITHM.md).
        var theta = new Parameter(tensor(new[] { 1.0f }), requires_grad: true);
        using var outer = OuterOptimization.Nesterov(0.5, 0.9).CreateOptimizer(new[] { theta });
        theta.grad = tensor(new[] { 2.0f });
        outer.Step();
        Assert.AreEqual(1.0f - 0.5f * (2.0f + 0.9f * 2.0f), theta.item<float>(), 1e-6f);
        outer.Step(); // v = 0.9·2 + 2 = 3.8; θ̂ −= 0.5·(2 + 0.9·3.8)
        Assert.AreEqual(1.0f - 0.5f * 3.8f - 0.5f * (2.0f + 0.9f * 3.8f), theta.item<float>(), 1e-5f);
    }

    [TestMethod]
    public void StateRoundTripsAndResetsLikeAFreshOptimizer()
    {
        var a = NewParameters(3);
        var b = NewParameters(3);
        using var first = new AdamWOptimizer(a, 1e-2, weightDecay: 0.1);
        using var second = new AdamWOptimizer(b, 1e-2, weightDecay: 0.1);
        for (int t = 1; t <= 5; t++) { SetGradients(a, t); first.Step(); }
        using (no_grad()) for (int i = 0; i < a.Length; i++) b[i].copy_(a[i]);
        for (int i = 0; i < a.Length; i++) second.SetState(i, first.StepsOf(i), first.BuffersOf(i));
        for (int t = 6; t <= 10; t++) { SetGradients(a, t); SetGradients(b, t); first.Step(); second.Step(); }
        for (int i = 0; i < a.Length; i++) AssertBitIdentical(a[i], b[i], $"parameter {i} after restore");

        second.Reset();
        Assert.AreEqual(0, second.StepsOf(0));
        Assert.AreEqual(0f, second.BuffersOf(0)[0]!.abs().max().item<float>());
    }

    [TestMethod]
    public void BadHyperparametersAreRejectedWithTheirNames()
    {
        var p = NewParameters(4);
        Assert.AreEqual("learningRate", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SgdOptimizer(p, double.NaN)).ParamName);
        Assert.AreEqual("beta1", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new AdamWOptimizer(p, 1e-3, beta1: 1.0)).ParamName);
        Assert.AreEqual("nesterov", Assert.ThrowsExactly<ArgumentException>(() => new SgdOptimizer(p, 0.1, 0, nesterov: true)).ParamName);
    }
}
