using Microsoft.ML.DiLoCo.Runs;
using System.Buffers.Binary;
using Microsoft.ML.DiLoCo.Checkpointing;
using Microsoft.ML.DiLoCo.Data;
using Microsoft.ML.DiLoCo.Training;

namespace Microsoft.ML.DiLoCo.Tests.Checkpointing;

/// <summary>
/// Mutates a valid checkpoint thousands of times (fixed seed) and reads each: it must parse or throw InvalidDataException,
/// never anything else, never hang, never allocate far beyond its own size. "Resealed" mutations recompute the entry
/// checksums so that the payload parsers, not just the SHA-256 check, see the hostile bytes.
/// </summary>
[TestClass]
public sealed class CheckpointReaderFuzzTests
{
    private static readonly int Iterations = Fuzzing.FuzzIterations.Or(3000);

    internal static TrainingCheckpoint Sample()
    {
        var random = new Random(3);
        TensorData Tensor(params long[] shape)
        {
            var values = new float[shape.Aggregate(1L, (a, b) => a * b)];
            for (int i = 0; i < values.Length; i++) values[i] = (float)random.NextDouble();
            return new TensorData(shape, values);
        }
        var adam = new OptimizerStateData(OptimizerStateData.AdamWKind, new long[] { 4, 4 }, new[]
        {
            new TensorData?[] { Tensor(3, 2), Tensor(3, 2), null },
            new TensorData?[] { Tensor(2), Tensor(2), null },
        });
        var sgd = new OptimizerStateData(OptimizerStateData.SgdKind, new long[] { 0 }, new[] { new TensorData?[] { Tensor(3, 2) } });
        WorkerCheckpoint Worker(int r) => new(r, new ReplicaWorkerState(new[] { Tensor(3, 2), Tensor(2) }, adam, new TensorData?[] { new TensorData(new long[] { 6 }, new float[6]), null }),
            new SamplerPosition(1, 3, 17), new float[] { 5.5f, 5.1f, 4.9f, 4.2f }, 64);
        return new TrainingCheckpoint
        {
            Fingerprint = "Algorithm = StreamingDiLoCo\nInnerSteps = 4", Seed = 7, Step = 4, TrainingSteps = 8,
            Shared = new SharedWorkerState(new[] { Tensor(3, 2), Tensor(2) }, new[] { sgd, sgd }, 2),
            Workers = new[] { Worker(0), Worker(1) },
            Validation = new[] { new ValidationPoint(0, 5.5, Math.Exp(5.5), 100) },
        };
    }

    internal static byte[] Container(IReadOnlyList<CheckpointEntry> entries)
    {
        using var stream = new MemoryStream();
        CheckpointFile.Write(stream, entries);
        return stream.ToArray();
    }

    private static void ReadMustFailCleanly(byte[] bytes, string what)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            using var checkpoint = TrainingCheckpoint.FromEntries(CheckpointFile.Read(new MemoryStream(bytes, writable: false)));
            foreach (var tensor in checkpoint.Tensors()) _ = tensor.Values; // what a restore reads
        }
        catch (InvalidDataException)
        {
        }
        catch (Exception e)
        {
            Assert.Fail($"{what}: {e.GetType().Name}: {e.Message}");
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.IsTrue(allocated < 64L * bytes.Length + (1 << 20), $"{what}: {allocated} bytes allocated to read {bytes.Length}");
    }

    [TestMethod]
    public void TheSampleRoundTrips()
    {
        var sample = Sample();
        var read = TrainingCheckpoint.FromEntries(CheckpointFile.Read(new MemoryStream(Container(sample.ToEntries()))));
        Assert.AreEqual(sample.Fingerprint, read.Fingerprint);
        Assert.AreEqual(2, read.NumberOfWorkers);
        Assert.IsTrue(read.Shared.Global[0].BitwiseEquals(sample.Shared.Global[0]));
        Assert.AreEqual(new SamplerPosition(1, 3, 17), read.Workers[1].Sampler);
        Assert.IsNull(read.Workers[0].Replica.Residuals[1]);
        CollectionAssert.AreEqual(sample.Workers[1].Losses, read.Workers[1].Losses);
    }

    [TestMethod]
    public void MutatedContainersFailOnlyWithInvalidDataException()
    {
        var valid = Container(Sample().ToEntries());
        var random = new Random(20250101);
        for (int i = 0; i < Iterations; i++)
        {
            var bytes = Mutate(valid, random, out string how);
            ReadMustFailCleanly(bytes, $"iteration {i} ({how})");
        }
    }

    [TestMethod]
    public void MutatedPayloadsWithValidChecksumsFailOnlyWithInvalidDataException()
    {
        var entries = Sample().ToEntries().Select(e => (e.Name, Bytes: e.ToBytes())).ToArray();
        var random = new Random(424242);
        for (int i = 0; i < Iterations; i++)
        {
            int which = random.Next(entries.Length);
            var mutated = entries.Select((e, j) => CheckpointEntry.FromBytes(e.Name, j == which ? Mutate(e.Bytes, random, out _) : e.Bytes)).ToArray();
            ReadMustFailCleanly(Container(mutated), $"iteration {i} (entry {entries[which].Name})");
        }
    }

    [TestMethod]
    public void TruncationAtEveryLengthIsRefused()
    {
        var valid = Container(Sample().ToEntries());
        for (int length = 0; length < valid.Length; length++)
        {
            var e = Assert.ThrowsExactly<InvalidDataException>(() => CheckpointFile.Read(new MemoryStream(valid, 0, length)), $"length {length}");
            Assert.IsFalse(string.IsNullOrWhiteSpace(e.Message));
        }
    }

    // Bit flips, truncation, huge or negative length fields, inserted and deleted bytes.
    internal static byte[] Mutate(byte[] source, Random random, out string how)
    {
        var bytes = (byte[])source.Clone();
        switch (random.Next(6))
        {
            case 0:
                int flips = 1 + random.Next(4);
                for (int f = 0; f < flips && bytes.Length > 0; f++) bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                how = $"{flips} bit flips";
                return bytes;
            case 1:
                how = "truncated";
                return bytes[..random.Next(bytes.Length)];
            case 2 when bytes.Length >= 4:
                int at = random.Next(bytes.Length - 3);
                int value = random.Next(4) switch { 0 => int.MaxValue, 1 => -1, 2 => int.MinValue, _ => random.Next() };
                BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), value);
                how = $"int32 {value} at {at}";
                return bytes;
            case 3 when bytes.Length >= 8:
                int at8 = random.Next(bytes.Length - 7);
                long big = random.Next(3) switch { 0 => long.MaxValue, 1 => -1, _ => 1L << 40 };
                BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(at8), big);
                how = $"int64 {big} at {at8}";
                return bytes;
            case 4:
                int insertAt = random.Next(bytes.Length + 1);
                how = $"byte inserted at {insertAt}";
                return bytes[..insertAt].Append((byte)random.Next(256)).Concat(bytes[insertAt..]).ToArray();
            default:
                if (bytes.Length == 0) { how = "empty"; return bytes; }
                int removeAt = random.Next(bytes.Length);
                how = $"byte removed at {removeAt}";
                return bytes[..removeAt].Concat(bytes[(removeAt + 1)..]).ToArray();
        }
    }
}
