using Microsoft.ML.DiLoCo.Training;
using Microsoft.ML.DiLoCo.Runs;
using Microsoft.ML.DiLoCo.Checkpointing;

namespace Microsoft.ML.DiLoCo.Tests.Checkpointing;

/// <summary>Compares checkpoints field by field, tensors bit for bit.</summary>
internal static class CheckpointAssert
{
    public static void SameShared(TrainingCheckpoint expected, TrainingCheckpoint actual)
    {
        Assert.AreEqual(expected.Fingerprint, actual.Fingerprint);
        Assert.AreEqual(expected.Seed, actual.Seed);
        Assert.AreEqual(expected.Step, actual.Step);
        Assert.AreEqual(expected.TrainingSteps, actual.TrainingSteps);
        Assert.AreEqual(expected.NumberOfWorkers, actual.NumberOfWorkers);
        Assert.AreEqual(expected.Validation.Length, actual.Validation.Length);
        for (int i = 0; i < expected.Validation.Length; i++) Assert.AreEqual(expected.Validation[i], actual.Validation[i]);
        Tensors(expected.Shared!.Global, actual.Shared!.Global, "θ̂");
        Assert.AreEqual(expected.Shared.Outer.Length, actual.Shared.Outer.Length);
        for (int p = 0; p < expected.Shared.Outer.Length; p++) Optimizer(expected.Shared.Outer[p], actual.Shared.Outer[p], $"outer state {p}");
        Assert.AreEqual(expected.Shared.Launches, actual.Shared.Launches);
    }

    public static void SameWorker(WorkerCheckpoint expected, WorkerCheckpoint actual)
    {
        string what = $"worker {expected.Worker}";
        Assert.AreEqual(expected.Worker, actual.Worker);
        Tensors(expected.Replica.Parameters, actual.Replica.Parameters, what + " θ_m");
        Optimizer(expected.Replica.Inner!, actual.Replica.Inner!, what + " inner state");
        Tensors(expected.Replica.Residuals, actual.Replica.Residuals, what + " residuals");
        Assert.AreEqual(expected.Sampler, actual.Sampler);
        CollectionAssert.AreEqual(expected.Losses, actual.Losses, what + " losses");
        Assert.AreEqual(expected.Tokens, actual.Tokens);
    }

    private static void Optimizer(OptimizerStateData expected, OptimizerStateData actual, string what)
    {
        Assert.AreEqual(expected.Kind, actual.Kind, what);
        CollectionAssert.AreEqual(expected.Steps, actual.Steps, what);
        Assert.AreEqual(expected.Buffers.Length, actual.Buffers.Length, what);
        for (int i = 0; i < expected.Buffers.Length; i++) Tensors(expected.Buffers[i], actual.Buffers[i], $"{what} buffer {i}");
    }

    private static void Tensors(TensorData?[] expected, TensorData?[] actual, string what)
    {
        Assert.AreEqual(expected.Length, actual.Length, what);
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] is null) { Assert.IsNull(actual[i], $"{what} {i}"); continue; }
            Assert.IsTrue(expected[i]!.BitwiseEquals(actual[i]!), $"{what} {i} differs");
        }
    }
}
