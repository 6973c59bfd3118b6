namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>
/// The two kinds of file of an MPI checkpoint (same container as the in-process file, <see cref="CheckpointFile"/>):
/// each rank's part "checkpoint-&lt;step&gt;.rank-&lt;r&gt;.part" with entries "part" (step, rank, its first worker, its
/// worker count) and "worker/&lt;g&gt;" for each of its workers (the in-process worker entry); and rank 0's manifest
/// "checkpoint-&lt;step&gt;.dlc" with the in-process "manifest" and "shared" entries, "parts" (per rank: first worker,
/// worker count, part file name, SHA-256 of the part file's bytes) and "mean losses" (the mean over all M workers of each
/// step's loss, what an elastic restart's report needs).
/// </summary>
internal static class RankCheckpointFiles
{
    public const string PartsEntry = "parts";
    public const string MeanLossesEntry = "mean losses";
    public const string PartEntry = "part";

    public static IReadOnlyList<KeyValuePair<string, byte[]>> PartEntries(long step, int rank, IReadOnlyList<WorkerCheckpoint> workers)
    {
        var header = new PayloadWriter();
        header.Write(step);
        header.Write(rank);
        header.Write(workers[0].Worker);
        header.Write(workers.Count);
        var entries = new List<KeyValuePair<string, byte[]>> { new(PartEntry, header.ToArray()) };
        entries.AddRange(workers.Select(TrainingCheckpoint.WorkerEntry));
        return entries;
    }

    /// <summary>The workers of a verified part file, checked against what the manifest says it holds.</summary>
    public static WorkerCheckpoint[] ReadPart(IReadOnlyDictionary<string, byte[]> entries, RankPart expected, long step)
    {
        var header = new PayloadReader(entries.TryGetValue(PartEntry, out var bytes) ? bytes : throw new InvalidDataException("The part file has no 'part' entry."), PartEntry);
        long partStep = header.ReadInt64("step");
        int rank = header.ReadInt32("rank");
        int first = header.ReadInt32("first worker");
        int count = header.ReadInt32("worker count", 1, TrainingCheckpoint.MaximumWorkers);
        header.EnsureEnd();
        if (partStep != step || rank != expected.Rank || first != expected.FirstWorker || count != expected.Workers)
            throw new InvalidDataException($"The part file holds step {partStep}, rank {rank}, workers {first}..{first + count - 1}; " +
                                           $"the manifest expects step {step}, rank {expected.Rank}, workers {expected.FirstWorker}..{expected.FirstWorker + expected.Workers - 1}.");
        if (entries.Count != 1 + count) throw new InvalidDataException($"The part file has {entries.Count} entries; a part of {count} workers has {1 + count}.");
        return Enumerable.Range(first, count).Select(g => TrainingCheckpoint.ReadWorker(entries, g, step)).ToArray();
    }

    /// <param name="header">Fingerprint, seed, step, T, M (<see cref="TrainingCheckpoint.NumberOfWorkers"/>), shared state, validation.</param>
    /// <param name="parts">Every rank's part, by rank.</param>
    /// <param name="meanLosses">The mean loss over all workers of each step so far.</param>
    public static IReadOnlyList<KeyValuePair<string, byte[]>> ManifestEntries(TrainingCheckpoint header, IReadOnlyList<RankPart> parts, float[] meanLosses)
    {
        var p = new PayloadWriter();
        p.Write(parts.Count);
        foreach (var part in parts)
        {
            p.Write(part.Rank);
            p.Write(part.FirstWorker);
            p.Write(part.Workers);
            p.Write(part.File);
            p.WriteBytes(part.Sha256);
        }
        var l = new PayloadWriter();
        l.Write(meanLosses);
        return new List<KeyValuePair<string, byte[]>> { header.ManifestEntry(), header.SharedEntry(), new(PartsEntry, p.ToArray()), new(MeanLossesEntry, l.ToArray()) };
    }

    /// <summary>The manifest's header (no workers: they are in the parts) and its parts, each checked for consistency.</summary>
    public static (TrainingCheckpoint Header, RankPart[] Parts) ReadManifest(IReadOnlyDictionary<string, byte[]> entries)
    {
        if (!entries.TryGetValue(PartsEntry, out var partsBytes))
            throw new InvalidDataException("This checkpoint was written in-process (Transport = InProcess): resume it in-process.");
        if (entries.Count != 4) throw new InvalidDataException($"The manifest has {entries.Count} entries; an MPI manifest has 4.");
        var l = new PayloadReader(entries.TryGetValue(MeanLossesEntry, out var lossBytes) ? lossBytes : throw new InvalidDataException($"The manifest has no '{MeanLossesEntry}' entry."), MeanLossesEntry);
        var meanLosses = l.ReadFloats("mean losses");
        l.EnsureEnd();
        var header = TrainingCheckpoint.ReadHeader(entries, workers: null, meanLosses);

        var p = new PayloadReader(partsBytes, PartsEntry);
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
