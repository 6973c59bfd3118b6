using Microsoft.ML.DiLoCo.Checkpointing;

namespace Microsoft.ML.DiLoCo.Tests.Checkpointing;

/// <summary>The MPI checkpoint's files without MPI: manifest and part round trips, and hostile manifests.</summary>
[TestClass]
public sealed class RankCheckpointFilesTests
{
    private static readonly int Iterations = Fuzzing.FuzzIterations.Or(1000);

    private static RankPart[] Parts(long step) => new[]
    {
        new RankPart(0, 0, 1, CheckpointStore.PartNameOf(step, 0), Enumerable.Repeat((byte)1, 32).ToArray()),
        new RankPart(1, 1, 1, CheckpointStore.PartNameOf(step, 1), Enumerable.Repeat((byte)2, 32).ToArray()),
    };

    private static CheckpointEntries Entries(IReadOnlyList<CheckpointEntry> entries) =>
        CheckpointFile.Read(new MemoryStream(CheckpointReaderFuzzTests.Container(entries), writable: false));

    private static IReadOnlyList<CheckpointEntry> Manifest(TrainingCheckpoint sample, RankPart[] parts) =>
        RankCheckpointFiles.ManifestEntries(sample, parts, new[] { 5.5f, 5.1f, 4.9f, 4.2f });

    [TestMethod]
    public void ManifestAndPartRoundTrip()
    {
        var sample = CheckpointReaderFuzzTests.Sample();
        var (header, parts) = RankCheckpointFiles.ReadManifest(Entries(Manifest(sample, Parts(4))));
        Assert.AreEqual(2, header.NumberOfWorkers, "M comes from the manifest, not from the (absent) workers");
        Assert.AreEqual(0, header.Workers.Length);
        Assert.AreEqual(4.9f, header.MeanLoss(2));
        Assert.IsNull(header.Shared, "θ̂ and the outer momentum are in every rank's part, not in the manifest");
        CollectionAssert.AreEqual(Parts(4)[1].Sha256, parts[1].Sha256);
        Assert.AreEqual("checkpoint-000000000004.rank-1.part", parts[1].File);

        var part = Entries(RankCheckpointFiles.PartEntries(4, 1, new[] { sample.Workers[1] }, sample));
        var (workers, shared) = RankCheckpointFiles.ReadPart(part, parts[1], 4);
        Assert.AreEqual(1, workers.Single().Worker);
        Assert.IsTrue(shared!.Global[1].BitwiseEquals(sample.Shared!.Global[1]), "each part holds θ̂");
        Assert.IsTrue(shared.Outer[1].Buffers[0][0]!.BitwiseEquals(sample.Shared.Outer[1].Buffers[0][0]!), "and the outer momentum");
        Assert.AreEqual(sample.Shared.Launches, shared.Launches);
        CollectionAssert.AreEqual(sample.Workers[1].Losses, workers[0].Losses);
        Assert.ThrowsExactly<InvalidDataException>(() => RankCheckpointFiles.ReadPart(part, parts[0], 4), "rank 1's part offered as rank 0's");
    }

    [TestMethod]
    public void AManifestCannotNameAFileOutsideItsPattern()
    {
        var sample = CheckpointReaderFuzzTests.Sample();
        var parts = Parts(4);
        parts[1] = parts[1] with { File = "../../etc/passwd" };
        var e = Assert.ThrowsExactly<InvalidDataException>(() => RankCheckpointFiles.ReadManifest(Entries(Manifest(sample, parts))));
        StringAssert.Contains(e.Message, "checkpoint-000000000004.rank-1.part");
    }

    [TestMethod]
    public void InProcessAndMpiReadersRefuseEachOthersFiles()
    {
        var sample = CheckpointReaderFuzzTests.Sample();
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => RankCheckpointFiles.ReadManifest(Entries(sample.ToEntries()))).Message, "in-process");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => TrainingCheckpoint.FromEntries(Entries(Manifest(sample, Parts(4))))).Message, "Transport = Mpi");
    }

    [TestMethod]
    public void MutatedManifestEntriesFailOnlyWithInvalidDataException()
    {
        var sample = CheckpointReaderFuzzTests.Sample();
        var original = Manifest(sample, Parts(4)).Select(e => (e.Name, Bytes: e.ToBytes())).ToArray();
        var random = new Random(17);
        for (int i = 0; i < Iterations; i++)
        {
            var entries = original.Select(e => (e.Name, Bytes: (byte[])e.Bytes.Clone())).ToList();
            int which = random.Next(entries.Count);
            var bytes = entries[which].Bytes;
            switch (random.Next(3))
            {
                case 0: for (int k = random.Next(1, 4); k > 0; k--) bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes = bytes[..random.Next(bytes.Length)]; break;
                default:
                    int at = random.Next(Math.Max(1, bytes.Length - 3));
                    BitConverter.TryWriteBytes(bytes.AsSpan(at), random.Next(3) switch { 0 => int.MaxValue, 1 => -1, _ => random.Next(1000) });
                    break;
            }
            entries[which] = (entries[which].Name, bytes);
            try
            {
                RankCheckpointFiles.ReadManifest(Entries(entries.Select(e => CheckpointEntry.FromBytes(e.Name, e.Bytes)).ToArray()));
            }
            catch (InvalidDataException)
            {
            }
            catch (Exception e)
            {
                Assert.Fail($"iteration {i}, entry '{entries[which].Name}': {e.GetType().Name}: {e.Message}");
            }
        }
    }
}
