using Microsoft.ML.DiLoCo.Checkpointing;
using Microsoft.ML.DiLoCo.Communication;

namespace Microsoft.ML.DiLoCo.Tests.Checkpointing;

/// <summary>
/// The MPI checkpoint protocol (<see cref="RankCheckpoints"/>) without mpirun: each "rank" is a thread with its own
/// member of an in-process group and its own folder, as ranks on node-local disks.
/// </summary>
internal static class RankFolders
{
    /// <summary>Runs <paramref name="body"/> once per rank on its own thread; each result or exception, by rank.</summary>
    public static (T? Result, Exception? Error)[] OnRanks<T>(int ranks, Func<int, ICollective, T> body)
    {
        var group = InProcessCollective.CreateGroup(ranks);
        var tasks = Enumerable.Range(0, ranks).Select(r => Task.Run(() => body(r, group[r]))).ToArray();
        Assert.IsTrue(Task.WhenAll(tasks).ContinueWith(_ => { }).Wait(TimeSpan.FromSeconds(60)), "the ranks finished together");
        foreach (var member in group) member.Dispose();
        return tasks.Select(t => t.IsFaulted ? (default(T), t.Exception!.InnerException) : (t.Result, (Exception?)null)).ToArray();
    }

    /// <summary>Writes the sample checkpoint as 2 ranks of 1 worker, rank r into <paramref name="folders"/>[r].</summary>
    public static void Save(TrainingCheckpoint sample, string[] folders)
    {
        var saved = OnRanks(2, (r, ranks) => new RankCheckpoints(new CheckpointStore(folders[r], 2), ranks, 2).Save(new TrainingCheckpoint
        {
            Fingerprint = sample.Fingerprint, Seed = sample.Seed, Step = sample.Step, TrainingSteps = sample.TrainingSteps,
            Shared = sample.Shared, Workers = new[] { sample.Workers[r] }, Validation = sample.Validation,
        }));
        foreach (var (_, error) in saved) Assert.IsNull(error, error?.ToString());
    }

    /// <summary>Every rank resumes (rank r: worker r of M = 2) from its own folder.</summary>
    public static (TrainingCheckpoint? Checkpoint, Exception? Error)[] Load(string[] folders, List<string>? log = null) =>
        OnRanks(2, (r, ranks) => new RankCheckpoints(new CheckpointStore(folders[r], 2), ranks, 2)
            .LoadAgreed(firstWorker: r, localWorkers: 1, r == 0 ? m => { lock (log ?? new List<string>()) log?.Add(m); } : null)?.Checkpoint);

    /// <summary>Each rank's result is the sample's θ̂, outer state and k, and its own worker (rank r: worker r), bit for bit.</summary>
    public static void AssertEachRankHoldsTheSample(TrainingCheckpoint sample, (TrainingCheckpoint? Checkpoint, Exception? Error)[] loaded)
    {
        for (int r = 0; r < loaded.Length; r++)
        {
            var (checkpoint, error) = loaded[r];
            Assert.IsNull(error, error?.ToString());
            using (checkpoint)
            {
                CheckpointAssert.SameShared(sample, checkpoint!);
                CheckpointAssert.SameWorker(sample.Workers[r], checkpoint!.Workers.Single());
            }
        }
    }
}
