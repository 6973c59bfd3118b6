using Microsoft.ML.DiLoCo.Communication;

namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>
/// Checkpoints across MPI ranks (docs/reliability.md, "Checkpoints under MPI"). Writing: each rank writes its own workers'
/// part atomically, the ranks all-gather each part's name and SHA-256 (or the error that stopped it), rank 0 writes the
/// manifest last, and a second all-gather tells every rank it is on disk and which steps are kept. Resuming: rank 0 offers
/// its newest manifest that verifies (its bytes travel to every rank), each rank verifies and parses the parts holding its
/// workers, and an all-gather of the outcomes makes every rank take that checkpoint or every rank go on to the next older
/// one. Every decision is taken from all-gathered data that every rank sees identically, so the ranks never split.
/// </summary>
/// <remarks>
/// The folder is the same path on every rank. Each rank reads and writes only its own part files and rank 0 alone the
/// manifests, so a shared file system is not required for resuming with the same ranks and workers per rank; reading
/// another rank's part (the same M split differently) needs the folder shared.
/// </remarks>
internal sealed class RankCheckpoints
{
    private readonly ICollective _ranks;
    private readonly CheckpointStore _store;
    private readonly int _totalWorkers;

    /// <param name="store">The checkpoint folder.</param>
    /// <param name="ranks">The rank-level collective (member r = MPI rank r), not a worker's.</param>
    /// <param name="totalWorkers">M across every rank.</param>
    public RankCheckpoints(CheckpointStore store, ICollective ranks, int totalWorkers)
    {
        _store = store;
        _ranks = ranks;
        _totalWorkers = totalWorkers;
    }

    /// <summary>
    /// Writes this rank's part of <paramref name="local"/> (its workers; the shared state and validation points are rank 0's
    /// to write), agrees with every rank, and returns the manifest's path once rank 0 has written it. Every rank returns or
    /// throws together.
    /// </summary>
    /// <exception cref="IOException">Some rank could not write its part, or rank 0 its manifest (named): nothing new is valid.</exception>
    public string Save(TrainingCheckpoint local)
    {
        long step = local.Step;
        var (parts, losses) = GatherParts(step, WritePart(local));
        byte[] commit = _ranks.Rank == 0 ? WriteManifest(local, parts, losses) : Array.Empty<byte>();
        var c = PayloadReader.Of(Gather(commit)[0].ToArray(), "manifest status");
        if (!c.ReadBoolean("ok"))
            throw new IOException($"The checkpoint of step {step} was not written: rank 0 could not write its manifest: {c.ReadString("error", int.MaxValue)}");
        string manifest = c.ReadString("path", int.MaxValue);
        var keep = new long[c.ReadInt32("kept count", 0, int.MaxValue)];
        for (int i = 0; i < keep.Length; i++) keep[i] = c.ReadInt64("kept step");
        _store.DeletePartsExcept(_ranks.Rank, keep, step);
        return manifest;
    }

    /// <summary>This rank's part file; returns its status message for the others (name, checksum, its workers' losses; or the error).</summary>
    private byte[] WritePart(TrainingCheckpoint local)
    {
        var mine = PayloadWriter.InMemory();
        try
        {
            var (name, sha) = _store.SavePart(local.Step, _ranks.Rank, RankCheckpointFiles.PartEntries(local.Step, _ranks.Rank, local.Workers, local));
            mine.Write(true);
            mine.Write(name);
            mine.WriteBytes(sha);
            mine.Write(local.Workers.Length);
            foreach (var w in local.Workers) { mine.Write(w.Worker); mine.Write(w.Losses); }
        }
        catch (Exception e)
        {
            mine = PayloadWriter.InMemory();
            mine.Write(false);
            mine.Write(e.Message);
        }
        return mine.ToArray();
    }

    /// <summary>Every rank's part (name, checksum, workers) and every worker's losses; throws on every rank when any part failed.</summary>
    private (RankPart[] Parts, float[][] Losses) GatherParts(long step, byte[] mine)
    {
        var gathered = Gather(mine);
        var parts = new RankPart[gathered.Length];
        var losses = new float[_totalWorkers][];
        for (int r = 0; r < gathered.Length; r++)
        {
            var p = PayloadReader.Of(gathered[r].ToArray(), "part status");
            if (!p.ReadBoolean("ok"))
                throw new IOException($"The checkpoint of step {step} was not written: rank {r} could not write its part: {p.ReadString("error", int.MaxValue)}");
            string name = p.ReadString("name", 256);
            var sha = p.ReadBytes("checksum", 32);
            int count = p.ReadInt32("workers", 1, _totalWorkers);
            int first = -1;
            for (int i = 0; i < count; i++)
            {
                int worker = p.ReadInt32("worker", 0, _totalWorkers - 1);
                if (i == 0) first = worker;
                losses[worker] = p.ReadFloats("losses");
            }
            parts[r] = new RankPart(r, first, count, name, sha);
        }
        return (parts, losses);
    }

    /// <summary>Rank 0: the manifest over every part; returns the commit message (its path and the steps kept, or the error).</summary>
    private byte[] WriteManifest(TrainingCheckpoint local, RankPart[] parts, float[][] losses)
    {
        long step = local.Step;
        var commit = PayloadWriter.InMemory();
        try
        {
            var mean = new float[step];
            for (int s = 0; s < step; s++) mean[s] = (float)losses.Average(w => w[s]); // as the in-process elastic restart averages
            var header = new TrainingCheckpoint
            {
                Fingerprint = local.Fingerprint, Seed = local.Seed, Step = step, TrainingSteps = local.TrainingSteps, NumberOfWorkers = _totalWorkers,
                Shared = local.Shared, Workers = Array.Empty<WorkerCheckpoint>(), Validation = local.Validation, SkippedContributions = local.SkippedContributions,
            };
            string path = _store.SaveEntries(step, RankCheckpointFiles.ManifestEntries(header, parts, mean));
            var kept = _store.Files().Select(f => f.Step).ToArray();
            commit.Write(true);
            commit.Write(path);
            commit.Write(kept.Length);
            foreach (long k in kept) commit.Write(k);
        }
        catch (Exception e)
        {
            commit = PayloadWriter.InMemory();
            commit.Write(false);
            commit.Write(e.Message);
        }
        return commit.ToArray();
    }

    /// <summary>
    /// The newest checkpoint of the folder that rank 0's manifest and every rank's parts verify, the same on every rank
    /// (its <see cref="TrainingCheckpoint.Workers"/> are this rank's; none on an elastic restart), or null on every rank
    /// when the folder holds none.
    /// </summary>
    /// <param name="firstWorker">Global index of this rank's first worker.</param>
    /// <param name="localWorkers">This rank's workers.</param>
    /// <param name="log">Rank 0's log (null elsewhere): refused checkpoints.</param>
    /// <exception cref="InvalidDataException">On every rank: the folder holds checkpoints but none is valid (each reason listed).</exception>
    public (TrainingCheckpoint Checkpoint, string Path)? LoadAgreed(int firstWorker, int localWorkers, Action<string>? log)
    {
        bool root = _ranks.Rank == 0;
        var files = root ? _store.Files().ToArray() : Array.Empty<(long Step, string Path)>();
        int next = 0;
        var refused = new List<string>();
        void Refuse(string path, string reason)
        {
            log?.Invoke($"Refused checkpoint {path}: {reason}");
            refused.Add($"{Path.GetFileName(path)}: {reason}");
        }

        while (true)
        {
            // 1. Rank 0 offers its newest manifest that reads and verifies (path and bytes), or says there is none.
            var o = PayloadReader.Of(Gather(root ? Offer(files, ref next, refused, Refuse) : Array.Empty<byte>())[0].ToArray(), "checkpoint offer");
            if (!o.ReadBoolean("offer"))
            {
                int count = o.ReadInt32("refused count", 0, int.MaxValue);
                if (count == 0)
                {
                    ThrowIfAnyRankHoldsParts();
                    return null;
                }
                throw new InvalidDataException($"CheckpointDirectory {_store.Directory} holds {count} checkpoints and none is valid on every rank " +
                                               $"({o.ReadString("reasons", int.MaxValue)}). Move them away to start afresh.");
            }
            string offered = o.ReadString("path", int.MaxValue);
            var manifest = o.ReadBytes("manifest", int.MaxValue);

            // 2. Every rank verifies and reads the parts that hold its workers; all learn every rank's outcome.
            var (mine, failures) = LoadEverywhere(manifest, firstWorker, localWorkers);
            if (failures.Count == 0)
            {
                if (refused.Count > 0) log?.Invoke($"Using the older checkpoint {offered}.");
                return (mine!, offered);
            }
            mine?.Dispose();
            if (root) Refuse(offered, string.Join("; ", failures));
        }
    }

    /// <summary>Rank 0's offer: the next manifest from <paramref name="next"/> on that reads and verifies, or the refusals so far.</summary>
    private byte[] Offer((long Step, string Path)[] files, ref int next, List<string> refused, Action<string, string> refuse)
    {
        byte[]? bytes = null;
        string? path = null;
        while (bytes is null && next < files.Length)
        {
            path = files[next++].Path;
            try
            {
                var candidate = File.ReadAllBytes(path); // small: θ̂ is in the parts (in a manifest written before streaming, under 2 GB)
                using (var entries = CheckpointFile.Read(new MemoryStream(candidate, writable: false), path))
                {
                    _store.Signer?.Verify(path, entries.FileSha256);
                    RankCheckpointFiles.ReadManifest(entries);
                }
                bytes = candidate;
            }
            catch (Exception e) { refuse(path, e.Message); }
        }
        var offer = PayloadWriter.InMemory();
        offer.Write(bytes is not null);
        if (bytes is not null) { offer.Write(path!); offer.WriteBytes(bytes); }
        else { offer.Write(refused.Count); offer.Write(string.Join("; ", refused)); }
        return offer.ToArray();
    }

    /// <summary>Every rank loads its workers from the offered manifest's parts; returns its checkpoint (or null) and every rank's failures.</summary>
    private (TrainingCheckpoint? Mine, List<string> Failures) LoadEverywhere(byte[] manifest, int firstWorker, int localWorkers)
    {
        TrainingCheckpoint? mine = null;
        var status = PayloadWriter.InMemory();
        try
        {
            mine = Load(manifest, firstWorker, localWorkers);
            status.Write(true);
        }
        catch (Exception e)
        {
            status.Write(false);
            status.Write(e.Message);
        }
        var outcomes = Gather(status.ToArray());
        var failures = new List<string>();
        for (int r = 0; r < outcomes.Length; r++)
        {
            var s = PayloadReader.Of(outcomes[r].ToArray(), "checkpoint status");
            if (!s.ReadBoolean("ok")) failures.Add($"rank {r}: {s.ReadString("error", int.MaxValue)}");
        }
        return (mine, failures);
    }

    /// <summary>
    /// Rank 0 holds no manifest: every rank says which parts of its own it holds, and if any does, every rank throws. Parts
    /// without a manifest mean rank 0's folder was lost (or is another folder): starting afresh would silently throw away
    /// the run, and resuming is impossible (rank 0's workers' state went with its folder), so the user decides.
    /// </summary>
    private void ThrowIfAnyRankHoldsParts()
    {
        var mine = PayloadWriter.InMemory();
        var steps = _store.PartFiles(_ranks.Rank).Select(f => f.Step).Take(100).ToArray();
        mine.Write(steps.Length);
        foreach (long step in steps) mine.Write(step);
        var held = new List<string>();
        var gathered = Gather(mine.ToArray());
        for (int r = 0; r < gathered.Length; r++)
        {
            var p = PayloadReader.Of(gathered[r].ToArray(), "held parts");
            var stepsOfRank = new long[p.ReadInt32("part count", 0, 100)];
            for (int i = 0; i < stepsOfRank.Length; i++) stepsOfRank[i] = p.ReadInt64("part step", 0, long.MaxValue);
            if (stepsOfRank.Length > 0) held.Add($"rank {r} holds its parts of step{(stepsOfRank.Length > 1 ? "s" : "")} {string.Join(", ", stepsOfRank.Order())}");
        }
        if (held.Count > 0)
            throw new InvalidDataException($"CheckpointDirectory {_store.Directory} holds no checkpoint manifest on rank 0, but {string.Join("; ", held)}: " +
                                           "rank 0's folder was lost or is not the folder the checkpoints were written to. Training does not start again from " +
                                           "the initial weights over them: restore rank 0's checkpoint-<step>.dlc files, or move every rank's parts away to start afresh.");
    }

    /// <summary>
    /// Parses the offered manifest and reads this rank's workers from the parts holding them, and θ̂, the outer state and k
    /// from the first of them (or from the manifest, written before streaming). Elastic restart: no worker is read, θ̂ comes
    /// from this rank's own part (rank 0's when the job has more ranks than the checkpoint).
    /// </summary>
    private TrainingCheckpoint Load(byte[] manifestBytes, int firstWorker, int localWorkers)
    {
        var manifest = CheckpointFile.Read(new MemoryStream(manifestBytes, writable: false), "the offered manifest", ownsStream: true);
        var (header, parts) = RankCheckpointFiles.ReadManifest(manifest);
        var sources = new List<IDisposable> { manifest };
        try
        {
            bool elastic = header.NumberOfWorkers != _totalWorkers; // every worker starts from θ̂ (RunCheckpoints.Resume)
            var shared = header.Shared;
            var workers = new List<WorkerCheckpoint>();
            var needed = elastic
                ? (header.Shared is null ? new[] { parts.FirstOrDefault(p => p.Rank == _ranks.Rank) ?? parts[0] } : Array.Empty<RankPart>())
                : parts.Where(p => p.FirstWorker < firstWorker + localWorkers && firstWorker < p.FirstWorker + p.Workers).ToArray();
            foreach (var part in needed)
            {
                string path = Path.Combine(_store.Directory, part.File);
                var mismatch = new InvalidDataException($"the part {part.File} does not match the SHA-256 its manifest gives (damaged, or left from another checkpoint)");
                CheckpointEntries entries;
                try { entries = CheckpointFile.Read(path); } // one pass: every entry's SHA-256 and the file's
                catch (InvalidDataException) when (!CheckpointFile.Sha256Of(path).AsSpan().SequenceEqual(part.Sha256)) { throw mismatch; }
                sources.Add(entries);
                if (!entries.FileSha256.AsSpan().SequenceEqual(part.Sha256)) throw mismatch;
                _store.Signer?.Verify(path, entries.FileSha256);
                var (partWorkers, partShared) = RankCheckpointFiles.ReadPart(entries, part, header.Step);
                shared ??= partShared;
                if (!elastic) workers.AddRange(partWorkers.Where(w => w.Worker >= firstWorker && w.Worker < firstWorker + localWorkers));
            }
            if (shared is null) throw new InvalidDataException("neither the manifest nor the parts read hold θ̂ and the outer momentum");
            return new TrainingCheckpoint
            {
                Fingerprint = header.Fingerprint, Seed = header.Seed, Step = header.Step, TrainingSteps = header.TrainingSteps, NumberOfWorkers = header.NumberOfWorkers,
                Shared = shared, Workers = workers.ToArray(), Validation = header.Validation, SkippedContributions = header.SkippedContributions,
                MeanLosses = header.MeanLosses, Sources = sources,
            };
        }
        catch
        {
            foreach (var source in sources) source.Dispose();
            throw;
        }
    }

    /// <summary>Starts the all-gather of this rank's stop vote (one byte: 1 = this rank's token is cancelled).</summary>
    public Task<ReadOnlyMemory<byte>[]> VoteAsync(bool cancelled) => _ranks.AllGatherAsync(new[] { (byte)(cancelled ? 1 : 0) });

    /// <summary>True when any rank voted to stop.</summary>
    public static bool AnyRankCancelled(ReadOnlyMemory<byte>[] votes) => votes.Any(v => v.Length > 0 && v.Span[0] != 0);

    private ReadOnlyMemory<byte>[] Gather(byte[] payload) => _ranks.AllGatherAsync(payload).GetAwaiter().GetResult();
}
