using Microsoft.ML.DiLoCo.Checkpointing;
using Microsoft.ML.DiLoCo.Tests.Configuration;

namespace Microsoft.ML.DiLoCo.Tests.Checkpointing;

/// <summary>
/// Files written before checkpoints were streamed still read, and a file of another format version is refused naming
/// the file and the version. The fixtures under Fixtures/ were written by the code of main at 8d45d5b (entries built
/// in memory) from <see cref="CheckpointReaderFuzzTests.Sample"/>: in-process (one file) and MPI (rank 0's manifest
/// holding θ̂, and the two ranks' parts without it).
/// </summary>
[TestClass]
public sealed class CheckpointFormatTests
{
    private static string Fixture(string kind) => Path.Combine(TrainingConfigTests.RepositoryRoot(), "test", "Microsoft.ML.DiLoCo.Tests", "Checkpointing", "Fixtures", kind);

    [TestMethod]
    public void AnInProcessCheckpointWrittenBeforeStreamingReadsBitIdenticallyAndIsWrittenTheSameWayNow()
    {
        var sample = CheckpointReaderFuzzTests.Sample();
        var (read, path) = new CheckpointStore(Fixture("inprocess"), 2).LoadNewest(null)!.Value;
        using (read)
        {
            CheckpointAssert.SameShared(sample, read);
            for (int w = 0; w < 2; w++) CheckpointAssert.SameWorker(sample.Workers[w], read.Workers[w]);
        }
        CollectionAssert.AreEqual(File.ReadAllBytes(path), CheckpointReaderFuzzTests.Container(sample.ToEntries()), "the streaming writer writes format version 1 byte for byte");
    }

    [TestMethod]
    public void AnMpiCheckpointWrittenBeforeStreamingResumesWithθ̂FromRank0sManifest()
    {
        var sample = CheckpointReaderFuzzTests.Sample();
        string folder = Fixture("mpi");
        RankFolders.AssertEachRankHoldsTheSample(sample, RankFolders.Load(new[] { folder, folder }));
    }

    [TestMethod]
    public void AnotherFormatVersionIsRefusedNamingTheFileAndTheVersion()
    {
        string dir = CheckpointRuns.NewDirectory();
        string path = Path.Combine(dir, "checkpoint-000000000004.dlc");
        var bytes = File.ReadAllBytes(Path.Combine(Fixture("inprocess"), "checkpoint-000000000004.dlc"));
        bytes[8] = 2; // the int32 after the 8-byte magic
        File.WriteAllBytes(path, bytes);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => new CheckpointStore(dir, 2).LoadNewest(null));
        StringAssert.Contains(e.Message, path);
        StringAssert.Contains(e.Message, "format version 2; this library reads version 1");
    }
}
