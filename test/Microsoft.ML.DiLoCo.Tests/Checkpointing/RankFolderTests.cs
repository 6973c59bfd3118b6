using Microsoft.ML.DiLoCo.Checkpointing;

namespace Microsoft.ML.DiLoCo.Tests.Checkpointing;

/// <summary>
/// MPI checkpoints on node-local disks (each rank its own folder), without mpirun: every rank resumes θ̂ from its own
/// part, and a set with rank 0's files gone is refused on every rank instead of training starting again from θ0.
/// </summary>
[TestClass]
public sealed class RankFolderTests
{
    private static string[] SavedOnTwoDisks()
    {
        var folders = new[] { CheckpointRuns.NewDirectory(), CheckpointRuns.NewDirectory() };
        RankFolders.Save(CheckpointReaderFuzzTests.Sample(), folders);
        CollectionAssert.AreEquivalent(new[] { "checkpoint-000000000004.dlc", "checkpoint-000000000004.rank-0.part" }, Directory.GetFiles(folders[0]).Select(Path.GetFileName).ToArray());
        CollectionAssert.AreEquivalent(new[] { "checkpoint-000000000004.rank-1.part" }, Directory.GetFiles(folders[1]).Select(Path.GetFileName).ToArray());
        return folders;
    }

    [TestMethod]
    public void EachRankResumesθ̂AndItsWorkerFromItsOwnDisk()
    {
        var sample = CheckpointReaderFuzzTests.Sample();
        var folders = SavedOnTwoDisks();
        var manifest = CheckpointFile.Read(Path.Combine(folders[0], "checkpoint-000000000004.dlc"));
        using (manifest) Assert.IsFalse(manifest.Contains(TrainingCheckpoint.SharedEntryName), "θ̂ is not in the manifest: it never travels between ranks");

        RankFolders.AssertEachRankHoldsTheSample(sample, RankFolders.Load(folders));
    }

    [TestMethod]
    public void Rank0sFilesGoneWhileRank1HoldsItsPartIsRefusedOnEveryRank()
    {
        var folders = SavedOnTwoDisks();
        foreach (var file in Directory.GetFiles(folders[0])) File.Delete(file); // rank 0's disk was replaced

        var loaded = RankFolders.Load(folders);
        for (int r = 0; r < 2; r++)
        {
            var e = loaded[r].Error as InvalidDataException;
            Assert.IsNotNull(e, $"rank {r} must refuse, not start from θ0: {loaded[r].Error}");
            StringAssert.Contains(e.Message, "holds no checkpoint manifest on rank 0, but rank 1 holds its parts of step 4");
            StringAssert.Contains(e.Message, "move every rank's parts away to start afresh");
        }
        Assert.AreEqual(1, Directory.GetFiles(folders[1]).Length, "rank 1's part is left where it is");
    }

    [TestMethod]
    public void Rank1sPartGoneIsRefusedOnEveryRankNamingIt()
    {
        var folders = SavedOnTwoDisks();
        File.Delete(Path.Combine(folders[1], "checkpoint-000000000004.rank-1.part"));
        var log = new List<string>();
        var loaded = RankFolders.Load(folders, log);
        for (int r = 0; r < 2; r++)
        {
            var e = loaded[r].Error as InvalidDataException;
            Assert.IsNotNull(e, $"rank {r}: {loaded[r].Error}");
            StringAssert.Contains(e.Message, "none is valid on every rank");
            StringAssert.Contains(e.Message, "rank 1:");
        }
    }

    [TestMethod]
    public void NoFilesOnAnyRankStartsAfresh()
    {
        var folders = new[] { CheckpointRuns.NewDirectory(), CheckpointRuns.NewDirectory() };
        foreach (var (checkpoint, error) in RankFolders.Load(folders))
        {
            Assert.IsNull(error, error?.ToString());
            Assert.IsNull(checkpoint);
        }
    }
}
