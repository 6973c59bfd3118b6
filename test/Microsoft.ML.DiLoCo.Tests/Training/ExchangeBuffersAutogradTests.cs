using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Tests.EndToEnd;
using Microsoft.ML.DiLoCo.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Training;

/// <summary>
/// The exchange buffers never take part in autograd. θ̂ and the replica are parameters (requires_grad), so a pseudo-gradient
/// formed with autograd on chained every sync's copy and subtraction onto the staging tensor: the graph grew without end
/// and held native memory (8 MB per inner step at H = 8 on the benchmark model; a study process reached 15 GB after four 3,200-step runs and the
/// FP32 H = 8 run reached the machine's 24 GB).
/// </summary>
[TestClass]
public sealed class ExchangeBuffersAutogradTests
{
    [TestMethod]
    public void TheMeanWrittenIntoTheOuterGradientsCarriesNoAutogradHistory()
    {
        using var scope = NewDisposeScope();
        var global = new[] { new TorchSharp.Modules.Parameter(full(3, 2, 4.0f.ToScalar()), requires_grad: true) };
        var local = new[] { new TorchSharp.Modules.Parameter(ones(3, 2), requires_grad: true) };
        using var buffers = new FragmentBuffers(new[] { 0 }, local, WireCodecs.Create(WireFormat.Float32), errorFeedback: false);

        buffers.ReadDifference(global, local);
        buffers.Encode();
        buffers.AverageInRankOrder(new[] { new PeerPayload(0, buffers.Payload.ToArray()) }, step: 1, fragment: 0, skipRefused: false);
        buffers.WriteAsGradients(global);

        CollectionAssert.AreEqual(Enumerable.Repeat(3.0f, 6).ToArray(), buffers.Values);
        Assert.IsFalse(global[0].grad!.requires_grad, "the outer gradient Δ̄ must be plain data, not a node of a graph through the staging buffer");
    }

    [TestMethod]
    public void ALongRunOfManySyncsKeepsItsMemoryFlat()
    {
        // The study's model (0.84M parameters) and schedule (H = 8, P = 4: a sync every 2 steps), short windows and batches.
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticText.Documents(60, 20, seed: 1));
        long afterWarmUp = 0, atEnd = 0;
        var options = new StreamingDiLoCoTrainer.Options
        {
            Model = new TransformerOptions { ContextLength = 32, EmbeddingSize = 128, NumberOfLayers = 4, NumberOfHeads = 4 },
            NumberOfWorkers = 2, InnerSteps = 8, NumberOfFragments = 4, OverlapSteps = 1, WireFormat = WireFormat.Float4E3M0,
            BatchSize = 4, TrainingSteps = 340, WarmupSteps = 10, Seed = 7,
            Progress = new SynchronousProgress(update =>
            {
                if (update.Step == 140) afterWarmUp = WorkingSet(); // the allocator settles in the first ~150 steps (flat from there to 1,540 after the fix)
                if (update.Step == 340) atEnd = WorkingSet();
            }),
        };
        ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train);

        long grown = atEnd - afterWarmUp;
        Console.WriteLine($"working set grew {grown / 1e6:F1} MB over 200 steps (400 fragment syncs over both workers)");
        Assert.IsTrue(grown < 60_000_000, $"200 steps at H = 8 grew the working set by {grown / 1e6:F0} MB");
    }

    private static long WorkingSet()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return process.WorkingSet64;
    }
}
