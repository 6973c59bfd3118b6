using Microsoft.ML.DiLoCo.Training;

namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>
/// The two kinds of file of an MPI checkpoint (same container as the in-process file, <see cref="CheckpointFile"/>):
/// each rank's part "checkpoint-&lt;step&gt;.rank-&lt;r&gt;.part" with entries "part" (step, rank, its first worker, its
/// worker count), "shared" (θ̂, the outer momentum and k: the in-process entry) and "worker/&lt;g&gt;" for each of its
/// workers (the in-process worker entry); and rank 0's manifest "checkpoint-&lt;step&gt;.dlc" with the in-process
/// "manifest" entry, "parts" (per rank: first worker, worker count, part file name, SHA-256 of the part file's bytes)
/// and "mean losses" (the mean over all M workers of each step's loss, what an elastic restart's report needs).
/// </summary>
/// <remarks>
/// Why θ̂ and the outer momentum are in every rank's part rather than once in rank 0's manifest (as files written before
/// streaming checkpoints have it, which still read): every rank needs them to resume, and a rank reads only its own
/// disk (the folder need not be shared), so with them in the manifest rank 0 had to send them to every rank in one
/// message; at 1B parameters that is 8 GB, beyond what one MPI message or one byte array holds. Every rank already
/// writes its own workers' θ_m and AdamW state, so the copy adds no wall time (rank 0 wrote the most before, and still
/// does). It does not make a rank's loss survivable: losing rank 0's folder loses its workers' state too, so
/// <see cref="RankCheckpoints.LoadAgreed"/> refuses to start afresh while any rank still holds parts.
/// </remarks>
internal static class RankCheckpointFiles
{
    public const string PartsEntry = "parts";
    public const string MeanLossesEntry = "mean losses";
    public const string PartEntry = "part";

    public static IReadOnlyList<CheckpointEntry> PartEntries(long step, int rank, IReadOnlyList<WorkerCheckpoint> workers, TrainingCheckpoint shared)
    {
        int first = workers[0].Worker, count = workers.Count;
        var entries = new List<CheckpointEntry>
        {
            new(PartEntry, header => { header.Write(step); header.Write(rank); header.Write(first); header.Write(count); }),
            shared.SharedEntry(),
        };
        entries.AddRange(workers.Select(TrainingCheckpoint.WorkerEntry));
        return entries;
    }

    /// <summary>The workers (and θ̂, the outer state and k, absent in parts written before streaming) of a verified part file, checked against what the manifest says it holds.</summary>
    public static (WorkerCheckpoint[] Workers, SharedWorkerState? Shared) ReadPart(CheckpointEntries entries, RankPart expected, long step)
    {
        if (!entries.Contains(PartEntry)) throw new InvalidDataException("The part file has no 'part' entry.");
        var header = entries.Open(PartEntry);
        long partStep = header.ReadInt64("step");
        int rank = header.ReadInt32("rank");
        int first = header.ReadInt32("first worker");
        int count = header.ReadInt32("worker count", 1, TrainingCheckpoint.MaximumWorkers);
        header.EnsureEnd();
        if (partStep != step || rank != expected.Rank || first != expected.FirstWorker || count != expected.Workers)
            throw new InvalidDataException($"The part file holds step {partStep}, rank {rank}, workers {first}..{first + count - 1}; " +
                                           $"the manifest expects step {step}, rank {expected.Rank}, workers {expected.FirstWorker}..{expected.FirstWorker + expected.Workers - 1}.");
        bool hasShared = entries.Contains(TrainingCheckpoint.SharedEntryName);
        int expectedEntries = 1 + (hasShared ? 1 : 0) + count;
        if (entries.Count != expectedEntries) throw new InvalidDataException($"The part file has {entries.Count} entries; a part of {count} workers has {expectedEntries}.");
        var shared = hasShared ? TrainingCheckpoint.ReadShared(entries, step) : null;
        return (Enumerable.Range(first, count).Select(g => TrainingCheckpoint.ReadWorker(entries, g, step)).ToArray(), shared);
    }

    /// <param name="header">Fingerprint, seed, step, T, M (<see cref="TrainingCheckpoint.NumberOfWorkers"/>), validation.</param>
    /// <param name="parts">Every rank's part, by rank.</param>
    /// <param name="meanLosses">The mean loss over all workers of each step so far.</param>
    public static IReadOnlyList<CheckpointEntry> ManifestEntries(TrainingCheckpoint header, IReadOnlyList<RankPart> parts, float[] meanLosses) => new[]
    {
        header.ManifestEntry(),
        new CheckpointEntry(PartsEntry, p =>
        {
            p.Write(parts.Count);
            foreach (var part in parts)
            {
                p.Write(part.Rank);
                p.Write(part.FirstWorker);
                p.Write(part.Workers);
                p.Write(part.File);
                p.WriteBytes(part.Sha256);
            }
        }),
        new CheckpointEntry(MeanLossesEntry, l => l.Write(meanLosses)),
    };

    /// <summary>
    /// The manifest's header (no workers: they are in the parts; <see cref="TrainingCheckpoint.Shared"/> only in a manifest
    /// written before streaming, null otherwise) and its parts, each checked for consistency.
    /// </summary>
    public static (TrainingCheckpoint Header, RankPart[] Parts) ReadManifest(CheckpointEntries entries)
    {
        if (!entries.Contains(PartsEntry))
            throw new InvalidDataException("This checkpoint was written in-process (Transport = InProcess): resume it in-process.");
        int expectedEntries = entries.Contains(TrainingCheckpoint.SharedEntryName) ? 4 : 3;
        if (entries.Count != expectedEntries) throw new InvalidDataException($"The manifest has {entries.Count} entries; an MPI manifest has {expectedEntries}.");
        if (!entries.Contains(MeanLossesEntry)) throw new InvalidDataException($"The manifest has no '{MeanLossesEntry}' entry.");
        var l = entries.Open(MeanLossesEntry);
        var meanLosses = l.ReadFloats("mean losses");
        l.EnsureEnd();
        var header = TrainingCheckpoint.ReadHeader(entries, workers: null, meanLosses);

        var p = entries.Open(PartsEntry);
        int ranks = p.ReadInt32("rank count", 1, header.NumberOfWorkers);
        var parts = new RankPart[ranks];
        int next = 0;
        for (int r = 0; r < ranks; r++)
        {
            int rank = p.ReadInt32("rank", r, r);
            int first = p.ReadInt32("first worker", next, next);
            int count = p.ReadInt32("worker count", 1, header.NumberOfWorkers - next);
            string file = p.ReadString("part file name", 256);
            if (file != CheckpointStore.PartNameOf(header.Step, rank)) throw p.Corrupt($"rank {rank}'s part is named '{file}', not {CheckpointStore.PartNameOf(header.Step, rank)}");
            var sha = p.ReadBytes("part checksum", 32);
            if (sha.Length != 32) throw p.Corrupt($"rank {rank}'s checksum has {sha.Length} bytes");
            parts[r] = new RankPart(rank, first, count, file, sha);
            next += count;
        }
        p.EnsureEnd();
        if (next != header.NumberOfWorkers) throw p.Corrupt($"the parts hold {next} workers of {header.NumberOfWorkers}");
        return (header, parts);
    }
}

/// <summary>One rank's part of an MPI checkpoint as its manifest names it: global workers FirstWorker … FirstWorker + Workers − 1.</summary>
internal sealed record RankPart(int Rank, int FirstWorker, int Workers, string File, byte[] Sha256);
