using Microsoft.ML.DiLoCo.Communication;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Byom;

/// <summary>Models that are not ours, with their own loops, trained through <see cref="StreamingDiLoCo"/>.</summary>
[TestClass]
public sealed class ByomTrainingTests
{
    private const int Vocabulary = 8;

    // Next-token data: token i+1 = (token i + stride) mod 8, stride 1 or 3 from the first token's parity; each worker its own draws.
    private static (Tensor Inputs, Tensor Targets) CountingBatch(Generator generator, int batch = 16, int length = 12)
    {
        var start = randint(0, Vocabulary, new long[] { batch, 1 }, generator: generator);
        var stride = start.remainder(2) * 2 + 1;
        var sequence = (start + stride * arange(length + 1).unsqueeze(0)).remainder(Vocabulary);
        return (sequence.narrow(1, 0, length), sequence.narrow(1, 1, length));
    }

    private static Tensor NextTokenLoss(TinyLstm model, Tensor inputs, Tensor targets) =>
        nn.functional.cross_entropy(model.forward(inputs).reshape(-1, Vocabulary), targets.reshape(-1));

    [TestMethod]
    public void LstmLossFallsWithTwoWorkersAndOuterParametersAreIdentical()
    {
        const int steps = 72;
        var firstLoss = new float[2];
        var lastLoss = new float[2];
        var outer = new float[2][];
        var heldOut = new float[2];
        StreamingDiLoCoReport? report = null;
        StreamingDiLoCo.RunInProcess(2, (rank, collective) =>
        {
            torch.manual_seed(100 + rank); // different θ0 on purpose: the constructor broadcasts worker 0's
            using var model = new TinyLstm(Vocabulary);
            using var optimizer = optim.Adam(model.parameters(), 0.02);
            using var diloco = new StreamingDiLoCo(model, optimizer, collective, new StreamingDiLoCoOptions
            {
                InnerSteps = 12, NumberOfFragments = 3, OverlapSteps = 1, MixingAlpha = 0.5f, WireFormat = WireFormat.Float4E3M0,
            });
            var generator = new Generator((ulong)(7 + rank));
            var losses = new List<float>();
            for (int t = 0; t < steps; t++)
            {
                using var scope = NewDisposeScope();
                var (inputs, targets) = CountingBatch(generator);
                optimizer.zero_grad();
                var loss = NextTokenLoss(model, inputs, targets);
                loss.backward();
                optimizer.step();
                diloco.Step();
                losses.Add(loss.item<float>());
            }
            diloco.Finish();
            firstLoss[rank] = losses.Take(4).Average();
            lastLoss[rank] = losses.Skip(steps - 8).Average();
            outer[rank] = diloco.ParameterNames.SelectMany(n => diloco.OuterParameters[n].data<float>().ToArray()).ToArray();

            // θ̂ is the model to keep: copy it into the user's module and score held-out batches.
            diloco.CopyOuterParametersTo(model);
            using (no_grad())
            using (NewDisposeScope())
            {
                var (inputs, targets) = CountingBatch(new Generator(999), batch: 64);
                heldOut[rank] = NextTokenLoss(model, inputs, targets).item<float>();
            }
            if (rank == 0) report = diloco.Report;
        });

        for (int rank = 0; rank < 2; rank++)
        {
            Assert.IsTrue(firstLoss[rank] > 1.8f, $"worker {rank} starts near ln 8 = 2.08, got {firstLoss[rank]}");
            Assert.IsTrue(lastLoss[rank] < 0.5f * firstLoss[rank], $"worker {rank}: inner loss {firstLoss[rank]} → {lastLoss[rank]}");
            Assert.IsTrue(heldOut[rank] < 0.6f * firstLoss[rank], $"worker {rank}: held-out loss of θ̂ {heldOut[rank]}");
        }
        CollectionAssert.AreEqual(outer[0], outer[1], "θ̂ is bit-identical on both workers");
        Assert.AreEqual(heldOut[0], heldOut[1]);
        Assert.IsNotNull(report);
        Assert.AreEqual(steps / 4 + 3, report.Syncs.Count, "H = 12, P = 3: a sync every 4 steps, and each fragment once more for the replicas' average");
        CollectionAssert.AreEqual(new[] { "embed", "lstm", "head" }, report.FragmentNames.ToArray());
        Assert.IsTrue(report.CommunicationReduction > 12 * 6, $"FP4 fragments send ≈ 8H× less than data-parallel, got {report.CommunicationReduction:F0}×");
    }

    [TestMethod]
    public void CustomFragmentsAreHonoured()
    {
        // Fragment 0 = input + output, fragment 1 = hidden; H = 4, τ = 0, α = 0: fragment 0 syncs at step 2, fragment 1 at 4.
        var options = new StreamingDiLoCoOptions
        {
            InnerSteps = 4, OverlapSteps = 0, MixingAlpha = 0, WireFormat = WireFormat.Float32,
            Fragments = new[] { new[] { "input", "output.weight", "output.bias" }, new[] { "hidden" } },
        };
        var afterStep2 = new Dictionary<string, float[]>[2];
        IReadOnlyList<IReadOnlyList<string>>? fragments = null;
        StreamingDiLoCo.RunInProcess(2, (rank, collective) =>
        {
            torch.manual_seed(5);
            using var model = new SmallMlp();
            using var optimizer = optim.SGD(model.parameters(), 0.05);
            using var diloco = new StreamingDiLoCo(model, optimizer, collective, options);
            var generator = new Generator((ulong)(50 + rank));
            for (int t = 1; t <= 2; t++)
            {
                using var scope = NewDisposeScope();
                var x = randn(new long[] { 16, 8 }, generator: generator);
                optimizer.zero_grad();
                nn.functional.mse_loss(model.forward(x), x.sum(1, keepdim: true)).backward();
                optimizer.step();
                diloco.Step();
            }
            afterStep2[rank] = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.data<float>().ToArray());
            if (rank == 0) fragments = diloco.Fragments;
            diloco.Finish();
        });

        Assert.IsNotNull(fragments);
        CollectionAssert.AreEqual(new[] { "input.weight", "input.bias", "output.weight", "output.bias" }, fragments[0].ToArray());
        CollectionAssert.AreEqual(new[] { "hidden.weight", "hidden.bias" }, fragments[1].ToArray());
        foreach (var name in new[] { "input.weight", "input.bias", "output.weight", "output.bias" })
            CollectionAssert.AreEqual(afterStep2[0][name], afterStep2[1][name], $"{name} was synchronised at step 2 (α = 0: both equal θ̂)");
        foreach (var name in new[] { "hidden.weight", "hidden.bias" })
            CollectionAssert.AreNotEqual(afterStep2[0][name], afterStep2[1][name], $"{name} is in fragment 1, not synchronised before step 4");
    }

    [TestMethod]
    public void DefaultFragmentsStrideOverTopLevelChildren()
    {
        var collective = InProcessCollective.CreateGroup(1)[0];
        using var model = new SmallMlp();
        using var optimizer = optim.SGD(model.parameters(), 0.1);
        using (var two = new StreamingDiLoCo(model, optimizer, collective, new StreamingDiLoCoOptions { NumberOfFragments = 2, InnerSteps = 4 }))
        {
            CollectionAssert.AreEqual(new[] { "input.weight", "input.bias", "output.weight", "output.bias" }, two.Fragments[0].ToArray());
            CollectionAssert.AreEqual(new[] { "hidden.weight", "hidden.bias" }, two.Fragments[1].ToArray());
        }
        using (var three = new StreamingDiLoCo(model, optimizer, collective, new StreamingDiLoCoOptions { NumberOfFragments = 3, InnerSteps = 6 }))
            CollectionAssert.AreEqual(new[] { "output.weight", "output.bias" }, three.Fragments[2].ToArray());
        collective.Dispose();
    }

    [TestMethod]
    public void DataParallelKeepsReplicasIdenticalAndSendsEveryGradient()
    {
        const int steps = 6;
        var final = new float[2][];
        StreamingDiLoCoReport? report = null;
        StreamingDiLoCo.RunInProcess(2, (rank, collective) =>
        {
            torch.manual_seed(rank);
            using var model = new SmallMlp();
            using var optimizer = optim.Adam(model.parameters(), 0.01);
            using var diloco = new StreamingDiLoCo(model, optimizer, collective, new StreamingDiLoCoOptions { Algorithm = TrainingAlgorithm.DataParallel });
            var generator = new Generator((ulong)(20 + rank));
            for (int t = 1; t <= steps; t++)
            {
                using var scope = NewDisposeScope();
                var x = randn(new long[] { 8, 8 }, generator: generator);
                optimizer.zero_grad();
                nn.functional.mse_loss(model.forward(x), x.sum(1, keepdim: true)).backward();
                diloco.AverageGradients();
                optimizer.step();
                diloco.Step();
            }
            diloco.Finish();
            final[rank] = model.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray();
            if (rank == 0) report = diloco.Report;
        });
        CollectionAssert.AreEqual(final[0], final[1], "averaged gradients and one Adam step everywhere: identical replicas");
        Assert.IsNotNull(report);
        Assert.AreEqual(report.DataParallelBytesSent, report.BytesSent);
        Assert.AreEqual(0, report.Syncs.Count);
    }

    [TestMethod]
    public void DataParallelStepWithoutAveragingIsRefused()
    {
        var collective = InProcessCollective.CreateGroup(1)[0];
        using var model = new SmallMlp();
        using var optimizer = optim.SGD(model.parameters(), 0.1);
        using var diloco = new StreamingDiLoCo(model, optimizer, collective, new StreamingDiLoCoOptions { Algorithm = TrainingAlgorithm.DataParallel });
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => diloco.Step());
        StringAssert.Contains(e.Message, "AverageGradients");
        collective.Dispose();
    }
}
