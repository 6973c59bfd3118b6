namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>
/// This process's workers under <see cref="WorkerFailurePolicy"/>: which are still training, what failed, and which worker does
/// the lead's duties (evaluation of θ̂, progress, the θ̂ copy of the fitted model). The lead is worker 0 until it is dropped,
/// then the lowest-indexed live worker.
/// </summary>
/// <remarks>
/// The evaluation at step t is done by the lowest-indexed worker that completed step t. A worker that may take over waits,
/// at an evaluation step only, until every lower worker has completed that step or been dropped; this never deadlocks
/// because a worker that completed step t has made every exchange call of steps ≤ t, so no lower worker waits for it.
/// </remarks>
internal sealed class LiveWorkers
{
    private readonly object _gate = new();
    private readonly Action<int>? _leaveGroup;
    private readonly Action<string>? _log;
    private readonly long[] _completed;
    private readonly bool[] _dropped;
    private readonly bool[] _ended;
    private readonly List<(WorkerFailure Failure, Exception Error)> _failures = new();

    /// <param name="policy">What a failure does.</param>
    /// <param name="count">This process's workers.</param>
    /// <param name="firstWorker">Global index of this process's first worker.</param>
    /// <param name="leaveGroup">Takes a dropped worker (local index) out of its group (Continue only).</param>
    /// <param name="log">Where the drop is announced.</param>
    /// <param name="firstStep">The first step this run trains (resumed runs start after their checkpoint).</param>
    public LiveWorkers(WorkerFailurePolicy policy, int count, int firstWorker = 0, Action<int>? leaveGroup = null,
        Action<string>? log = null, long firstStep = 1)
    {
        if (policy == WorkerFailurePolicy.Continue && leaveGroup is null)
            throw new ArgumentException("OnWorkerFailure = Continue needs a group a worker can leave.", nameof(leaveGroup));
        Policy = policy;
        FirstWorker = firstWorker;
        _leaveGroup = leaveGroup;
        _log = log;
        _completed = Enumerable.Repeat(firstStep - 1, count).ToArray();
        _dropped = new bool[count];
        _ended = new bool[count];
    }

    public WorkerFailurePolicy Policy { get; }

    public int FirstWorker { get; }

    /// <summary>Test hook (Options.InjectedWorkerFault): given (global worker, step), an exception that worker's step throws, or null.</summary>
    public Func<int, long, Exception?>? InjectedFault { get; init; }

    /// <summary>Called once a worker is dropped, with its global index and failed step (checkpoints stop there).</summary>
    public Action<int, long>? Dropped { get; set; }

    /// <summary>Under Fail: a sentence naming the checkpoint to resume from, appended to the exception's message (null: none).</summary>
    public Func<string?>? CheckpointNote { get; set; }

    /// <summary>The workers dropped so far, in the order they failed.</summary>
    public IReadOnlyList<WorkerFailure> Failures
    {
        get { lock (_gate) return _failures.Select(f => f.Failure).ToArray(); }
    }

    /// <summary>The number of workers still training.</summary>
    public int Count
    {
        get { lock (_gate) return _dropped.Count(d => !d); }
    }

    /// <summary>The local index of the worker doing the lead's duties now: the lowest one not dropped (0 when all are).</summary>
    public int Lead
    {
        get { lock (_gate) return LeadLocked(); }
    }

    /// <summary>True when worker <paramref name="worker"/> (global index) was training at step <paramref name="step"/>.</summary>
    public bool WasLiveAt(int worker, long step)
    {
        lock (_gate) return _failures.All(f => f.Failure.Worker != worker || f.Failure.Step > step);
    }

    /// <summary>
    /// Whether worker <paramref name="local"/>, which has just completed step <paramref name="t"/>, does the lead's duties for it.
    /// With <paramref name="settle"/> (an evaluation step) the answer is exact: the lowest worker that completed t, waiting for the
    /// lower workers if needed; otherwise it is the current lead (progress reports may then skip or repeat a step around a drop).
    /// </summary>
    public bool Leads(int local, long t, bool settle)
    {
        lock (_gate)
        {
            if (Policy == WorkerFailurePolicy.Fail || !settle) return local == LeadLocked();
            while (true)
            {
                bool undecided = false;
                for (int j = 0; j < local; j++)
                {
                    if (_completed[j] >= t) return false;  // a lower worker completed step t: it leads there
                    if (_dropped[j]) continue;
                    if (_ended[j]) return false;           // stopped for another reason: the run is ending
                    undecided = true;
                }
                if (!undecided) return true;
                Monitor.Wait(_gate);
            }
        }
    }

    /// <summary>Worker <paramref name="local"/> completed step <paramref name="t"/>.</summary>
    public void Completed(int local, long t)
    {
        if (Policy == WorkerFailurePolicy.Fail) return;
        lock (_gate)
        {
            _completed[local] = t;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Worker <paramref name="local"/>'s thread has stopped, whatever the reason.</summary>
    public void Ended(int local)
    {
        lock (_gate)
        {
            _ended[local] = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>
    /// Worker <paramref name="local"/>'s step <paramref name="t"/> threw <paramref name="error"/>. Fail: throws the exception that
    /// stops training. Continue: drops the worker (it leaves its group, the failure is recorded and logged) and returns.
    /// </summary>
    public void OnFailure(int local, long t, Exception error)
    {
        int worker = FirstWorker + local;
        if (Policy == WorkerFailurePolicy.Fail)
        {
            // TrainingDivergedException already names worker, step and quantity, and is NonFiniteValuePolicy.Stop's documented type;
            // PeerPayloadException names the peer that sent the bad payload: wrapping either would blame this worker instead.
            if (error is TrainingDivergedException or Communication.PeerPayloadException)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
            throw new WorkerFailedException(worker, t, error);
        }

        var failure = new WorkerFailure(worker, t, error.GetType().FullName ?? error.GetType().Name, error.Message);
        int live;
        lock (_gate)
        {
            _dropped[local] = true;
            _failures.Add((failure, error));
            live = _dropped.Count(d => !d);
            Monitor.PulseAll(_gate);
        }
        Dropped?.Invoke(worker, t); // before leaving: a barrier the departure completes must already see the drop
        _leaveGroup!(local);
        _log?.Invoke(live > 0
            ? $"Worker {worker} failed at step {t} ({error.GetType().Name}: {error.Message}); it is dropped and training continues with {live} worker{(live == 1 ? "" : "s")} (OnWorkerFailure = Continue)."
            : $"Worker {worker} failed at step {t} ({error.GetType().Name}: {error.Message}); no worker is left.");
    }

    /// <summary>After the threads: throws when every worker was dropped (Continue), naming each failure.</summary>
    public void ThrowIfNoneLeft()
    {
        lock (_gate)
        {
            if (_dropped.Any(d => !d)) return;
            throw new WorkerFailedException(_failures.Select(f => f.Failure).ToArray(), _failures[0].Error);
        }
    }

    /// <summary>Under Fail, once every thread has stopped: the worker's exception with the checkpoint note added to its message.</summary>
    public Exception WithCheckpointNote(WorkerFailedException e)
    {
        string? note = CheckpointNote?.Invoke();
        return note is null ? e : new WorkerFailedException(e.Worker, e.Step, e.InnerException!, note);
    }

    /// <summary>Logs the checkpoint note (for a failure whose exception is thrown unchanged).</summary>
    public void LogCheckpointNote()
    {
        if (CheckpointNote?.Invoke() is { } note) _log?.Invoke(note);
    }

    private int LeadLocked()
    {
        for (int l = 0; l < _dropped.Length; l++) if (!_dropped[l]) return l;
        return 0;
    }
}
