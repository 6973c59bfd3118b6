using Microsoft.ML.DiLoCo.Checkpointing;
using System.Runtime.CompilerServices;
using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Training;

namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>
/// The checkpoints of one run: resume before the loop, a checkpoint every CheckpointInterval steps, and on
/// cancellation a checkpoint at the first quiescent step every worker can still reach, then OperationCanceledException.
/// Under MPI the file work and the stop step are agreed across ranks (<see cref="RankCheckpoints"/>, <see cref="AfterStepAcrossRanks"/>).
/// </summary>
/// <remarks>
/// Quiescent: after step s no exchange is in flight exactly when s mod Δt &lt; Δt − τ (a sync launched at s' is applied
/// at s' + τ and launches happen at s' ≡ −τ mod Δt). Multiples of Δt = H/P are quiescent (their apply just happened),
/// hence the CheckpointInterval rule. Each worker captures its own part on its own thread right after its step; the
/// last one to arrive writes the file, so no worker waits for a periodic checkpoint.
/// </remarks>
internal sealed class RunCheckpoints
{
    private readonly CheckpointStore _store;
    private readonly int _trainingSteps;
    private readonly CancellationToken _cancellation;
    private readonly IReadOnlyList<DiLoCoWorker> _workers;
    private readonly SyncSchedule? _schedule; // null: data-parallel, every step is quiescent
    private readonly string _fingerprint;
    private readonly int _seed;
    private readonly int _firstWorker;
    private readonly List<ValidationPoint> _points;
    private readonly Action<string>? _log;
    private readonly int _interval;
    private readonly object _gate = new();
    private readonly Dictionary<long, Pending> _pending = new();
    private readonly long[] _completed;
    private long _stopAt = -1;
    private string? _lastWritten;
    private long _droppedAt = long.MaxValue; // the first step with a worker dropped (OnWorkerFailure = Continue): no checkpoint from there
    private string? _dropped;
    // Under MPI: the rank-level protocols, the stop votes in flight by step, and how many local workers reached a vote step.
    private readonly RankCheckpoints? _ranks;
    private readonly Dictionary<long, Task<ReadOnlyMemory<byte>[]>> _votes = new();
    private readonly Dictionary<long, int> _voteArrivals = new();

    /// <summary>
    /// This process's workers (global indices from <paramref name="firstWorker"/>); under MPI <paramref name="ranks"/> is the
    /// rank-level collective (the file work and the stop step are agreed across ranks) and <paramref name="totalWorkers"/> is M.
    /// </summary>
    public RunCheckpoints(RunPlan plan, CancellationToken cancellation, IReadOnlyList<DiLoCoWorker> workers, SyncSchedule? schedule,
        string fingerprint, int seed, int firstWorker, List<ValidationPoint> points, Action<string>? log, ICollective? ranks = null, int totalWorkers = 0)
    {
        var settings = plan.Checkpoints ?? throw new ArgumentException("The plan writes no checkpoints.", nameof(plan));
        _store = Store(plan)!;
        _trainingSteps = plan.TrainingSteps;
        _cancellation = cancellation;
        _workers = workers;
        _schedule = schedule;
        _fingerprint = fingerprint;
        _seed = seed;
        _firstWorker = firstWorker;
        _points = points;
        _log = log;
        _interval = settings.Interval;
        _completed = new long[workers.Count];
        if (ranks is not null) _ranks = new RankCheckpoints(_store, ranks, totalWorkers);
    }

    private const string AgreedStopKey = "Microsoft.ML.DiLoCo.AgreedStop";

    /// <summary>
    /// True for the OperationCanceledException (or a wrapper of it) that every rank throws at the agreed stop step: the
    /// ranks stop together with nothing in flight, so it must not abort the MPI job as a failure would.
    /// </summary>
    public static bool IsAgreedStop(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is OperationCanceledException && e.Data.Contains(AgreedStopKey)) return true;
        return false;
    }

    /// <summary>Test hook: called with each checkpoint's path once it is on disk.</summary>
    internal Action<string>? Written { get; set; }

    /// <summary>The path of the newest checkpoint this run wrote, or null.</summary>
    public string? LastWritten
    {
        get { lock (_gate) return _lastWritten; }
    }

    /// <summary>
    /// Worker <paramref name="worker"/> was dropped at step <paramref name="step"/> (OnWorkerFailure = Continue). A checkpoint holds every
    /// worker, so none is written for that step or later; those of earlier steps still complete (the dropped worker's part of them
    /// was captured before it failed).
    /// </summary>
    public void WorkerDropped(int worker, long step)
    {
        lock (_gate)
        {
            if (step >= _droppedAt) return;
            _droppedAt = step;
            _dropped = $"worker {worker} was dropped at step {step}";
            foreach (long s in _pending.Keys.Where(s => s >= step).ToArray()) _pending.Remove(s);
        }
        _log?.Invoke($"No checkpoint is written from step {step} on: worker {worker} was dropped and a checkpoint holds every worker. " +
                     $"The newest checkpoint is {LastWritten ?? "(none)"}.");
    }

    /// <summary>The newest valid checkpoint of <c>CheckpointDirectory</c>, or null (no folder, no checkpoint, or checkpoints off).</summary>
    /// <remarks>Under MPI null: the ranks choose together (<see cref="LoadAgreed"/>).</remarks>
    public static (TrainingCheckpoint Checkpoint, string Path)? LoadNewest(RunPlan plan, Action<string>? log) =>
        plan.Process.Transport == Transport.Mpi ? null : Store(plan)?.LoadNewest(log);

    // The plan's checkpoint folder, signed when exchanges are encrypted; null without checkpoints.
    private static CheckpointStore? Store(RunPlan plan) => plan.Checkpoints is not { } c ? null
        : new CheckpointStore(c.Directory, c.Keep, CheckpointSignature.For(plan.Process.ExchangeSecurity == ExchangeSecurity.Encrypted, plan.Process.ExchangeKeyFile));

    /// <summary>Under MPI: the checkpoint every rank resumes from (this rank's workers in it), or null on every rank; every rank must call it.</summary>
    /// <param name="ranks">The rank-level collective.</param>
    /// <param name="firstWorker">Global index of this rank's first worker.</param>
    /// <param name="localWorkers">This rank's workers.</param>
    /// <param name="totalWorkers">M across every rank.</param>
    /// <param name="plan">The run plan (its checkpoint settings).</param>
    /// <param name="log">Rank 0's log (null elsewhere).</param>
    /// <exception cref="InvalidDataException">On every rank: the folder holds checkpoints but none is valid everywhere.</exception>
    public static (TrainingCheckpoint Checkpoint, string Path)? LoadAgreed(RunPlan plan, ICollective ranks, int firstWorker, int localWorkers,
        int totalWorkers, Action<string>? log) =>
        Store(plan) is not { } store ? null : new RankCheckpoints(store, ranks, totalWorkers).LoadAgreed(firstWorker, localWorkers, log);

    /// <summary>The seed of the run: a resumed run keeps the checkpoint's (an explicit different Seed is refused).</summary>
    public static int SeedOf(RunPlan plan, int seed, TrainingCheckpoint? resume)
    {
        if (resume is null) return seed;
        if (plan.Seed is { } explicitSeed && explicitSeed != resume.Seed)
            throw new ArgumentException($"Seed = {explicitSeed} but the checkpoint in CheckpointDirectory was trained with Seed = {resume.Seed}: " +
                                        "resume with the same seed (or leave Seed null), or use another CheckpointDirectory.", "Seed");
        return resume.Seed;
    }

    /// <summary>Restores every worker from the checkpoint and returns its step (training continues at step + 1).</summary>
    /// <exception cref="ArgumentException">The checkpoint was written with other options (named).</exception>
    public long Resume(TrainingCheckpoint checkpoint, string path, int totalWorkers)
    {
        var differences = OptionsFingerprint.Differences(checkpoint.Fingerprint, _fingerprint);
        if (differences.Count > 0)
            throw new ArgumentException($"The checkpoint {path} was written with other options or data; resume with the same ones " +
                                        $"(only NumberOfWorkers may change) or use another CheckpointDirectory. Differences: {string.Join("; ", differences.Take(10))}.",
                "CheckpointDirectory");
        bool elastic = checkpoint.NumberOfWorkers != totalWorkers;
        var shared = checkpoint.Shared ?? throw new InvalidDataException($"The checkpoint {path} holds no θ̂ and outer momentum.");
        for (int l = 0; l < _workers.Count; l++)
        {
            var worker = _workers[l];
            worker.RestoreShared(shared);
            worker.Statistics.SkippedContributions = checkpoint.SkippedContributions;
            if (elastic)
            {
                worker.ResetReplicaToGlobal(); // θ_m ← θ̂, fresh AdamW state, zero residuals; the sampler starts its new shard afresh
                for (int s = 0; s < checkpoint.Step; s++) worker.Statistics.Losses.Add(checkpoint.MeanLoss(s));
                continue;
            }
            var part = checkpoint.Worker(_firstWorker + l);
            worker.RestoreReplica(part.Replica);
            if (worker.Replica is TransformerReplica replica)
            {
                if (part.Sampler is not { } position) throw new InvalidDataException($"The checkpoint holds no sampler position for worker {part.Worker}.");
                replica.Sampler.Restore(position);
            }
            worker.Statistics.Losses.AddRange(part.Losses);
            worker.Statistics.Tokens = part.Tokens;
        }
        _points.AddRange(checkpoint.Validation);
        Array.Fill(_completed, checkpoint.Step);
        _log?.Invoke(elastic
            ? $"Elastic restart from {path} at step {checkpoint.Step}: the checkpoint has {checkpoint.NumberOfWorkers} workers, this run {totalWorkers}; " +
              "θ̂, the outer momentum and the fragment counter are kept, every worker starts from θ̂ with fresh AdamW state and a new data shard."
            : $"Resuming from {path} at step {checkpoint.Step} of {checkpoint.TrainingSteps}.");
        return checkpoint.Step;
    }

    /// <summary>The after-step callback: <paramref name="observe"/> first (evaluation, progress), then this class's hook.</summary>
    public Action<int, long> Around(Action<int, long> observe, IReadOnlyList<ICollective> collectives) => (local, t) =>
    {
        observe(local, t);
        AfterStep(local, t, collectives[local]);
    };

    /// <summary>True when no exchange is in flight after step <paramref name="s"/>: s mod Δt &lt; Δt − τ.</summary>
    public bool IsQuiescent(long s) => _schedule is null || _schedule.IsQuiescentAfter(s);

    private void AfterStep(int local, long t, ICollective collective)
    {
        if (_ranks is not null)
        {
            AfterStepAcrossRanks(local, t);
            return;
        }
        bool stopHere;
        lock (_gate)
        {
            _completed[local] = t;
            if (_stopAt < 0 && _cancellation.IsCancellationRequested)
            {
                // No worker has started a step beyond max(completed) + 1; the first quiescent step from there is reachable by all.
                long s = _completed.Max() + 1;
                while (!IsQuiescent(s)) s++;
                _stopAt = s < _trainingSteps ? s : long.MaxValue; // within τ of the end: just finish
                if (_stopAt != long.MaxValue) _log?.Invoke($"Cancellation requested: stopping after step {_stopAt} (the first step with no exchange in flight).");
            }
            stopHere = t == _stopAt;
        }
        if (!stopHere && t % _interval != 0) return;

        bool written;
        lock (_gate) written = t < _droppedAt;
        if (written) Deposit(local, t);
        if (!stopHere) return;
        collective.AllGatherAsync(ReadOnlyMemory<byte>.Empty).GetAwaiter().GetResult(); // every part is in, the file is written
        string where, dropped;
        lock (_gate) { where = _lastWritten ?? "(none)"; dropped = _dropped ?? ""; written = t < _droppedAt; }
        throw new OperationCanceledException(
            (written
                ? $"Training was cancelled after step {t} of {_trainingSteps}; the checkpoint {where} holds it. "
                : $"Training was cancelled after step {t} of {_trainingSteps}; no checkpoint was written since {dropped}: the newest is {where}. ") +
            "Fit again with the same options and CheckpointDirectory to resume.", _cancellation);
    }

    /// <summary>
    /// Under MPI: the stop step must be the same on every rank and no rank may have passed it. Every Δt steps (every step
    /// data-parallel) each rank starts an all-gather of one byte, "my token is cancelled" (issued by its last local worker to
    /// get there, in the same order relative to the exchanges on every rank), and reads the result Δt steps later: by then it
    /// has completed on every rank (the exchange applied at that step was issued after it). If any rank voted to stop, every
    /// rank stops at that step, which is quiescent and not yet passed by anyone, writes the checkpoint and throws.
    /// </summary>
    private void AfterStepAcrossRanks(int local, long t)
    {
        long period = _schedule?.Interval ?? 1;
        bool stopHere = false;
        if (t % period == 0)
        {
            Task<ReadOnlyMemory<byte>[]>? earlier;
            lock (_gate) _votes.TryGetValue(t - period, out earlier);
            if (earlier is not null && RankCheckpoints.AnyRankCancelled(earlier.GetAwaiter().GetResult()))
            {
                stopHere = true;
                if (local == 0) _log?.Invoke($"Cancellation requested: every rank stops after step {t} (the first step with no exchange in flight that all ranks agreed on).");
            }
            else if (t + period < _trainingSteps) // a vote read at T or later would change nothing: the run just finishes
            {
                bool last;
                lock (_gate)
                {
                    _voteArrivals[t] = _voteArrivals.GetValueOrDefault(t) + 1;
                    last = _voteArrivals[t] == _workers.Count;
                    if (last) _voteArrivals.Remove(t);
                }
                if (last)
                {
                    var vote = _ranks!.VoteAsync(_cancellation.IsCancellationRequested);
                    lock (_gate) { _votes[t] = vote; _votes.Remove(t - period); } // every local worker has read the earlier vote
                }
            }
        }
        if (!stopHere && t % _interval != 0) return;

        var written = Deposit(local, t);
        if (!stopHere) return;
        string where = written.GetAwaiter().GetResult(); // the last local worker writes it, with every rank
        var stop = new OperationCanceledException(
            $"Training was cancelled after step {t} of {_trainingSteps}; the checkpoint {where} holds it. " +
            "Fit again with the same options and CheckpointDirectory to resume.", _cancellation);
        stop.Data[AgreedStopKey] = true;
        throw stop;
    }

    /// <summary>Adds this worker's part of step <paramref name="t"/>; the last local worker writes the checkpoint. The task ends with its path.</summary>
    private Task<string> Deposit(int local, long t)
    {
        var complete = Add(local, t, out var waiting);
        if (complete is null) return waiting!;
        string path;
        try
        {
            path = Write(complete, t);
        }
        catch (Exception e)
        {
            complete.Written.TrySetException(e);
            throw;
        }
        lock (_gate) _lastWritten = path;
        _log?.Invoke($"step {t}: checkpoint {path}");
        Written?.Invoke(path);
        complete.Written.TrySetResult(path);
        return complete.Written.Task;
    }

    /// <summary>Captures worker <paramref name="local"/>'s part of step <paramref name="t"/>; returns the checkpoint when it was the last part, else null and the task to wait for.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // its locals hold the capture: not in the writer's frame (Write)
    private Pending? Add(int local, long t, out Task<string>? waiting)
    {
        var worker = _workers[local];
        var part = new WorkerCheckpoint(_firstWorker + local, worker.CaptureReplica(),
            (worker.Replica as TransformerReplica)?.Sampler.Position, worker.Statistics.Losses.ToArray(), worker.Statistics.Tokens);
        SharedWorkerState? shared = local == 0 ? worker.CaptureShared() : null;
        var points = local == 0 ? _points.ToArray() : null; // worker 0's thread evaluates and owns the list
        lock (_gate)
        {
            if (!_pending.TryGetValue(t, out var pending)) _pending[t] = pending = new Pending(_workers.Count);
            pending.Parts[local] = part;
            if (shared is not null) { pending.Shared = shared; pending.Points = points; pending.Skipped = worker.Statistics.SkippedContributions; }
            waiting = pending.Written.Task;
            if (++pending.Count < _workers.Count) return null;
            _pending.Remove(t);
            return pending;
        }
    }

    /// <summary>Writes the deposited parts, then lets their captured state go at once (see below).</summary>
    private string Write(Pending complete, long t)
    {
        var (path, capturedBytes) = Save(complete, t);
        Array.Clear(complete.Parts);
        complete.Shared = null;
        // The capture is one FP32 copy of every worker's state, in large arrays that the GC would otherwise keep until
        // memory runs short: measured at 50M parameters, the next checkpoint's copy came on top of this one (3.3 GB of
        // managed memory instead of 2.1). Handing it back now keeps a large run at its live state plus one copy. (The
        // capture is referenced only from the pending parts and from Save's frame, both gone here.)
        if (capturedBytes >= LargeCaptureBytes)
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);
        return path;
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // as Add
    private (string Path, long CapturedBytes) Save(Pending complete, long t)
    {
        var checkpoint = new TrainingCheckpoint
        {
            Fingerprint = _fingerprint, Seed = _seed, Step = t, TrainingSteps = _trainingSteps,
            Shared = complete.Shared!, Workers = complete.Parts.ToArray(), Validation = complete.Points!, SkippedContributions = complete.Skipped,
        };
        long capturedBytes = checkpoint.Tensors().Sum(tensor => tensor.ElementCount * sizeof(float));
        return (_ranks is null ? _store.Save(checkpoint) : _ranks.Save(checkpoint), capturedBytes);
    }

    private const long LargeCaptureBytes = 256L << 20;

    private sealed class Pending(int workers)
    {
        public readonly WorkerCheckpoint[] Parts = new WorkerCheckpoint[workers];
        public SharedWorkerState? Shared;
        public ValidationPoint[]? Points;
        public long Skipped;
        public int Count;
        public readonly TaskCompletionSource<string> Written = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
