using Microsoft.ML.DiLoCo.Data;
using Microsoft.ML.DiLoCo.Training;

namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>
/// Everything needed to continue a run exactly, taken at a quiescent step (no exchange in flight): the options
/// fingerprint, the seed, the step, θ̂ with the outer momentum and k (once: identical on every worker), and per worker
/// θ_m, the inner optimizer state, the error-feedback residuals, the sampler position and the losses so far.
/// Entries of the file: "manifest", "shared", "worker/0" … "worker/M−1". Under MPI the same entries are split between
/// rank 0's manifest and each rank's part (<see cref="RankCheckpointFiles"/>); read back, <see cref="Workers"/> holds this
/// rank's workers only and <see cref="MeanLosses"/> the mean over all of them.
/// Read back, its tensors are regions of the file(s) it came from (<see cref="TensorData"/>): dispose it once restored.
/// </summary>
internal sealed class TrainingCheckpoint : IDisposable
{
    public const int MaximumWorkers = CheckpointFile.MaximumEntries - 2;
    private const int MaximumTensors = 1 << 20;
    private const int MaximumFingerprintBytes = 1 << 20;

    public required string Fingerprint { get; init; }
    public required int Seed { get; init; }
    public required long Step { get; init; }
    public required long TrainingSteps { get; init; }
    /// <summary>θ̂, the outer state and k; null only in an MPI manifest's header (every rank's part holds them).</summary>
    public required SharedWorkerState? Shared { get; init; }
    public required WorkerCheckpoint[] Workers { get; init; }
    public required ValidationPoint[] Validation { get; init; }
    public long SkippedContributions { get; init; }

    /// <summary>M of the run that wrote it; <see cref="Workers"/> may hold fewer (under MPI: this rank's workers only).</summary>
    public int NumberOfWorkers { get => _numberOfWorkers ?? Workers.Length; init => _numberOfWorkers = value; }
    private readonly int? _numberOfWorkers;

    /// <summary>The files the tensors are read from (closed by <see cref="Dispose"/>).</summary>
    public IReadOnlyList<IDisposable> Sources { get; init; } = Array.Empty<IDisposable>();

    /// <summary>Under MPI: the mean loss over all M workers at each step so far (an elastic restart's report needs it).</summary>
    public float[]? MeanLosses { get; init; }

    /// <summary>The mean over every worker of the loss of step <paramref name="s"/> + 1 (0-based index).</summary>
    public float MeanLoss(int s) => MeanLosses?[s] ?? (float)Workers.Average(w => w.Losses[s]);

    /// <summary>The part of global worker <paramref name="worker"/>.</summary>
    /// <exception cref="InvalidDataException">This checkpoint (or this rank's share of it) does not hold that worker.</exception>
    public WorkerCheckpoint Worker(int worker) =>
        Array.Find(Workers, w => w.Worker == worker) ?? throw new InvalidDataException($"The checkpoint holds no state for worker {worker}.");

    /// <summary>Every tensor and array it holds (θ̂, outer and inner optimizer buffers, θ_m, residuals).</summary>
    public IEnumerable<TensorData> Tensors()
    {
        var shared = Shared is null ? Enumerable.Empty<TensorData?>()
            : Shared.Global.Concat(Shared.Outer.SelectMany(o => o.Buffers.SelectMany(b => b)));
        var workers = Workers.SelectMany(w => w.Replica.Parameters.Concat(w.Replica.Residuals)
            .Concat(w.Replica.Inner?.Buffers.SelectMany(b => b) ?? Enumerable.Empty<TensorData?>()));
        return shared.Concat(workers).OfType<TensorData>();
    }

    public void Dispose()
    {
        foreach (var source in Sources) source.Dispose();
    }

    public IReadOnlyList<CheckpointEntry> ToEntries()
    {
        var entries = new List<CheckpointEntry> { ManifestEntry(), SharedEntry() };
        foreach (var w in Workers) entries.Add(WorkerEntry(w));
        return entries;
    }

    /// <summary>The "manifest" entry: fingerprint, seed, step, T, M, skipped count, validation points.</summary>
    public CheckpointEntry ManifestEntry() => new("manifest", m =>
    {
        m.Write(Fingerprint);
        m.Write(Seed);
        m.Write(Step);
        m.Write(TrainingSteps);
        m.Write(NumberOfWorkers);
        m.Write(SkippedContributions);
        m.Write(Validation.Length);
        foreach (var v in Validation) { m.Write(v.Step); m.Write(v.Loss); m.Write(v.Perplexity); m.Write(v.Tokens); }
    });

    /// <summary>The "shared" entry: θ̂, the outer state of every fragment, k.</summary>
    public CheckpointEntry SharedEntry()
    {
        var shared = Shared ?? throw new InvalidOperationException("This checkpoint holds no shared state to write.");
        return new(SharedEntryName, s =>
        {
            WriteTensors(s, shared.Global);
            s.Write(shared.Outer.Length);
            foreach (var o in shared.Outer) OptimizerStateFormat.Write(s, o);
            s.Write(shared.Launches);
        });
    }

    /// <summary>The "worker/&lt;r&gt;" entry of one worker.</summary>
    public static CheckpointEntry WorkerEntry(WorkerCheckpoint w) => new($"worker/{w.Worker}", p =>
    {
        WriteTensors(p, w.Replica.Parameters);
        p.Write(w.Replica.Inner is not null);
        if (w.Replica.Inner is { } inner) OptimizerStateFormat.Write(p, inner);
        p.Write(w.Replica.Residuals.Length);
        foreach (var r in w.Replica.Residuals)
        {
            p.Write(r is not null);
            if (r is not null) p.WriteFloatArray(r);
        }
        p.Write(w.Sampler is not null);
        if (w.Sampler is { } sp) { p.Write(sp.OrderEpoch); p.Write(sp.Index); p.Write(sp.WindowsServed); }
        p.Write(w.Losses);
        p.Write(w.Tokens);
    });

    public const string SharedEntryName = "shared";

    /// <summary>Parses verified entries; every inconsistency is an <see cref="InvalidDataException"/>.</summary>
    public static TrainingCheckpoint FromEntries(CheckpointEntries entries)
    {
        if (entries.Contains(RankCheckpointFiles.PartsEntry))
            throw new InvalidDataException("This checkpoint was written by an MPI job (Transport = Mpi): resume it under MPI.");
        if (!entries.Contains(SharedEntryName)) throw new InvalidDataException($"The checkpoint has no '{SharedEntryName}' entry.");
        var header = ReadHeader(entries, workers: null);
        int workers = header.NumberOfWorkers;
        if (entries.Count != 2 + workers)
            throw new InvalidDataException($"The checkpoint has {entries.Count} entries; a checkpoint of {workers} workers has {2 + workers}.");
        var all = new WorkerCheckpoint[workers];
        for (int r = 0; r < workers; r++) all[r] = ReadWorker(entries, r, header.Step);
        return new TrainingCheckpoint
        {
            Fingerprint = header.Fingerprint, Seed = header.Seed, Step = header.Step, TrainingSteps = header.TrainingSteps,
            Shared = header.Shared, Workers = all, Validation = header.Validation, SkippedContributions = header.SkippedContributions,
            Sources = new[] { entries },
        };
    }

    /// <summary>
    /// The "manifest" and (when present) "shared" entries alone, as a checkpoint whose <see cref="Workers"/> is
    /// <paramref name="workers"/> (empty when null) and whose <see cref="NumberOfWorkers"/> is the manifest's M.
    /// </summary>
    public static TrainingCheckpoint ReadHeader(CheckpointEntries entries, WorkerCheckpoint[]? workers, float[]? meanLosses = null)
    {
        var m = entries.Open("manifest");
        string fingerprint = m.ReadString("fingerprint", MaximumFingerprintBytes);
        int seed = m.ReadInt32("seed");
        long step = m.ReadInt64("step", 0, long.MaxValue);
        long trainingSteps = m.ReadInt64("training steps", 1, long.MaxValue);
        if (step > trainingSteps) throw m.Corrupt($"step {step} is beyond the {trainingSteps} training steps");
        int count = m.ReadInt32("number of workers", 1, MaximumWorkers);
        long skipped = m.ReadInt64("skipped contributions", 0, long.MaxValue);
        int points = m.ReadInt32("validation point count", 0, (int)Math.Min(int.MaxValue, m.Remaining / 32));
        var validation = new ValidationPoint[points];
        for (int i = 0; i < points; i++)
            validation[i] = new ValidationPoint(m.ReadInt64("validation step", 0, step), m.ReadDouble("validation loss"), m.ReadDouble("perplexity"), m.ReadInt64("validation tokens", 0, long.MaxValue));
        m.EnsureEnd();
        var shared = entries.Contains(SharedEntryName) ? ReadShared(entries, step) : null;
        if (meanLosses is not null && meanLosses.Length != step)
            throw new InvalidDataException($"The checkpoint holds {meanLosses.Length} mean losses for {step} steps.");

        return new TrainingCheckpoint
        {
            Fingerprint = fingerprint, Seed = seed, Step = step, TrainingSteps = trainingSteps, NumberOfWorkers = count,
            Shared = shared, Workers = workers ?? Array.Empty<WorkerCheckpoint>(),
            Validation = validation, SkippedContributions = skipped, MeanLosses = meanLosses,
        };
    }

    /// <summary>The "shared" entry of a checkpoint at <paramref name="step"/>.</summary>
    public static SharedWorkerState ReadShared(CheckpointEntries entries, long step)
    {
        var s = entries.Open(SharedEntryName);
        var global = ReadTensors(s, "global parameter");
        int fragments = s.ReadInt32("fragment count", 0, (int)Math.Min(MaximumTensors, s.Remaining / 11)); // a state takes at least 11 bytes
        var outer = new OptimizerStateData[fragments];
        for (int p = 0; p < fragments; p++) outer[p] = OptimizerStateFormat.Read(s, $"outer state of fragment {p}");
        long launches = s.ReadInt64("launch count", 0, step);
        s.EnsureEnd();
        return new SharedWorkerState(global, outer, launches);
    }

    /// <summary>The "worker/&lt;r&gt;" entry of a checkpoint at <paramref name="step"/>.</summary>
    public static WorkerCheckpoint ReadWorker(CheckpointEntries entries, int r, long step)
    {
        var p = entries.Open($"worker/{r}");
        var parameters = ReadTensors(p, "replica parameter");
        var inner = p.ReadBoolean("inner state presence") ? OptimizerStateFormat.Read(p, "inner state") : null;
        int residualCount = p.ReadInt32("residual count", 0, (int)Math.Min(MaximumTensors, p.Remaining));
        var residuals = new TensorData?[residualCount];
        for (int i = 0; i < residualCount; i++) residuals[i] = p.ReadBoolean("residual presence") ? p.ReadFloatArray("residual") : null;
        SamplerPosition? sampler = p.ReadBoolean("sampler presence")
            ? new SamplerPosition(p.ReadInt32("sampler epoch", 0, int.MaxValue), p.ReadInt32("sampler index", 0, int.MaxValue), p.ReadInt64("windows served", 0, long.MaxValue))
            : null;
        var losses = p.ReadFloats("losses");
        if (losses.Length != step) throw p.Corrupt($"it holds {losses.Length} losses for {step} steps");
        long tokens = p.ReadInt64("tokens", 0, long.MaxValue);
        p.EnsureEnd();
        return new WorkerCheckpoint(r, new ReplicaWorkerState(parameters, inner, residuals), sampler, losses, tokens);
    }

    private static void WriteTensors(PayloadWriter w, TensorData[] tensors)
    {
        w.Write(tensors.Length);
        foreach (var t in tensors) w.Write(t);
    }

    private static TensorData[] ReadTensors(PayloadReader r, string what)
    {
        int count = r.ReadInt32(what + " count", 0, (int)Math.Min(MaximumTensors, r.Remaining / 8)); // a tensor takes at least 8 bytes
        var tensors = new TensorData[count];
        for (int i = 0; i < count; i++) tensors[i] = r.ReadTensor($"{what} {i}");
        return tensors;
    }
}

/// <summary>One worker's part of a checkpoint.</summary>
internal sealed record WorkerCheckpoint(int Worker, ReplicaWorkerState Replica, SamplerPosition? Sampler, float[] Losses, long Tokens);
