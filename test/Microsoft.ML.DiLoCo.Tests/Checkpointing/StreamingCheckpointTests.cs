using Microsoft.ML.DiLoCo.Runs;
using System.Runtime.InteropServices;
using Microsoft.ML.DiLoCo.Checkpointing;
using Microsoft.ML.DiLoCo.Data;
using Microsoft.ML.DiLoCo.Training;
using TorchSharp;

namespace Microsoft.ML.DiLoCo.Tests.Checkpointing;

/// <summary>
/// Entries far larger than the chunk limit (lowered to 1 MB here) are written and read in pieces of at most that limit,
/// with managed allocation bounded by a few chunks whatever the entry size, and come back bit for bit (the 2 GB+ run is
/// <see cref="LargeCheckpointTests"/>).
/// </summary>
[TestClass]
public sealed class StreamingCheckpointTests
{
    private const int Chunk = 1 << 20;
    private const int Values = 1_500_000; // 6 MB per tensor
    private int _savedChunk;

    [TestInitialize]
    public void LowerTheChunkLimit()
    {
        _savedChunk = CheckpointFile.ChunkBytes;
        CheckpointFile.ChunkBytes = Chunk;
    }

    private readonly string _folder = CheckpointRuns.NewDirectory();

    [TestCleanup]
    public void RestoreTheChunkLimit()
    {
        CheckpointFile.ChunkBytes = _savedChunk;
        Directory.Delete(_folder, recursive: true);
    }

    private static TensorData Random(int seed)
    {
        var random = new Random(seed);
        var values = new float[Values];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return new TensorData(new long[] { 500, 3000 }, values);
    }

    // One worker whose θ_m, AdamW moments and residual are 6 MB each: its entry is about 24 MB, 24 times the limit.
    private static TrainingCheckpoint Large()
    {
        var adam = new OptimizerStateData(OptimizerStateData.AdamWKind, new long[] { 7 }, new[] { new TensorData?[] { Random(2), Random(3), null } });
        var sgd = new OptimizerStateData(OptimizerStateData.SgdKind, new long[] { 0 }, new[] { new TensorData?[] { Random(4) } });
        var residual = new TensorData(new long[] { Values }, Random(5).Values);
        return new TrainingCheckpoint
        {
            Fingerprint = "large", Seed = 1, Step = 2, TrainingSteps = 4,
            Shared = new SharedWorkerState(new[] { Random(6) }, new[] { sgd }, 1),
            Workers = new[] { new WorkerCheckpoint(0, new ReplicaWorkerState(new[] { Random(1) }, adam, new TensorData?[] { residual }), new SamplerPosition(0, 2, 2), new[] { 5f, 4f }, 32) },
            Validation = Array.Empty<ValidationPoint>(),
        };
    }

    [TestMethod]
    public void EntriesLargerThanTheLimitAreStreamedInChunksInBoundedMemoryAndRoundTripBitIdentically()
    {
        var checkpoint = Large();
        string path = Path.Combine(_folder, "checkpoint-000000000002.dlc");

        long before = GC.GetAllocatedBytesForCurrentThread();
        using (var file = new RecordingStream(new FileStream(path, FileMode.CreateNew)))
        {
            CheckpointFile.Write(file, checkpoint.ToEntries());
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.IsTrue(file.LargestWrite <= Chunk, $"largest single write {file.LargestWrite} bytes");
            Assert.IsTrue(file.Length > 6L * Values * sizeof(float), $"the file holds every tensor ({file.Length} bytes)");
            Assert.IsTrue(allocated < Chunk / 4, $"writing {file.Length} bytes allocated {allocated} bytes");
        }

        var residual = new float[Values]; // the worker's own residual buffer, as in a restore
        before = GC.GetAllocatedBytesForCurrentThread();
        using var recording = new RecordingStream(new FileStream(path, FileMode.Open, FileAccess.Read));
        using var read = TrainingCheckpoint.FromEntries(CheckpointFile.Read(recording, path));
        Assert.IsTrue(read.Workers[0].Replica.Parameters[0].ElementCount == Values);
        using var parameter = torch.empty(500, 3000);                                    // CPU FP32: read straight into its memory
        using var moment = torch.empty(new long[] { 500, 3000 }, torch.ScalarType.Float64); // another type: through a one-chunk staging tensor
        read.Workers[0].Replica.Parameters[0].CopyInto(parameter, "θ_m");
        read.Workers[0].Replica.Inner!.Buffers[0][0]!.CopyInto(moment, "exp_avg");
        read.Workers[0].Replica.Residuals[0]!.CopyInto(residual, "residual");
        long readAllocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.IsTrue(recording.LargestRead <= Chunk, $"largest single read {recording.LargestRead} bytes");
        Assert.IsTrue(readAllocated < 2 * Chunk, $"verifying {recording.Length} bytes and restoring 3 tensors of 6 MB allocated {readAllocated} bytes");

        Assert.IsTrue(MemoryMarshal.AsBytes(checkpoint.Workers[0].Replica.Parameters[0].Values.AsSpan()).SequenceEqual(parameter.bytes), "θ_m bit for bit");
        var expectedMoment = checkpoint.Workers[0].Replica.Inner!.Buffers[0][0]!.Values;
        var actualMoment = MemoryMarshal.Cast<byte, double>(moment.bytes);
        for (int i = 0; i < Values; i++) if (actualMoment[i] != expectedMoment[i]) Assert.Fail($"exp_avg {i}: {actualMoment[i]} vs {expectedMoment[i]}");
        Assert.IsTrue(MemoryMarshal.AsBytes(checkpoint.Workers[0].Replica.Residuals[0]!.Values.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(residual.AsSpan())), "residual bit for bit");
        CheckpointAssert.SameShared(checkpoint, read);
        CheckpointAssert.SameWorker(checkpoint.Workers[0], read.Workers[0]);
    }

    [TestMethod]
    public void ADamagedLargeEntryIsRefusedAsBefore()
    {
        var checkpoint = Large();
        string path = Path.Combine(_folder, "checkpoint-000000000002.dlc");
        CheckpointFile.Write(path, checkpoint.ToEntries());
        using (var s = File.Open(path, FileMode.Open))
        {
            s.Position = s.Length / 2;
            int b = s.ReadByte();
            s.Position--;
            s.WriteByte((byte)(b ^ 0x04));
        }
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => CheckpointFile.Read(path)).Message, "fails its SHA-256 check");
        using (var s = File.Open(path, FileMode.Open)) s.SetLength(s.Length - Chunk - 3);
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => CheckpointFile.Read(path)).Message, "truncated");
    }

    /// <summary>Passes everything through and records the largest single read and write.</summary>
    private sealed class RecordingStream(Stream inner) : Stream
    {
        public int LargestRead { get; private set; }
        public int LargestWrite { get; private set; }
        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => inner.CanSeek;
        public override bool CanWrite => inner.CanWrite;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => inner.Position = value; }
        public override void Flush() => inner.Flush();
        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);
        public override void SetLength(long value) => inner.SetLength(value);

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            LargestRead = Math.Max(LargestRead, buffer.Length);
            return inner.Read(buffer);
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            LargestWrite = Math.Max(LargestWrite, buffer.Length);
            inner.Write(buffer);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
