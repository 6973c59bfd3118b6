using Microsoft.ML.DiLoCo.Training;
using Microsoft.ML.DiLoCo.Communication;
using TorchSharp;

namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>
/// Runs in-process workers, each on its own thread with one torch thread (two OpenMP pools fighting over
/// two cores collapse throughput; see ENVIRONMENT.md). If one worker fails, the group is aborted so that the
/// others, blocked in an exchange, fail fast instead of hanging; the first real error is rethrown — unless the
/// <see cref="LiveWorkers"/> policy is Continue, which drops a worker whose step throws and lets the others finish.
/// </summary>
internal static class WorkerThreads
{
    /// <param name="workers">The workers, by rank.</param>
    /// <param name="totalSteps">T.</param>
    /// <param name="abortGroup">Fails every pending and future exchange of the group.</param>
    /// <param name="afterStep">Called on the worker's thread after each step (rank, t); may throw to stop training.</param>
    /// <param name="cancellation">Checked before every step.</param>
    /// <param name="threadsPerWorker">libtorch intra-op threads of each worker thread.</param>
    /// <param name="firstStep">The first step to run (a resumed run continues after its checkpoint's step).</param>
    /// <param name="live">What a worker whose step throws does (null: Fail). Under Fail the run stops with a
    /// <see cref="WorkerFailedException"/> naming the worker, the step and the cause (a <see cref="TrainingDivergedException"/>
    /// as it is); under Continue the worker is dropped, its losses from that step on become NaN, and the others go on.</param>
    /// <exception cref="WorkerFailedException">A worker failed (Fail), or every worker failed (Continue).</exception>
    public static void Run(IReadOnlyList<DiLoCoWorker> workers, long totalSteps, Action<Exception> abortGroup,
        Action<int, long>? afterStep = null, CancellationToken cancellation = default, int threadsPerWorker = 1, long firstStep = 1,
        LiveWorkers? live = null)
    {
        live ??= new LiveWorkers(WorkerFailurePolicy.Fail, workers.Count, workers.Count == 0 ? 0 : workers[0].Rank, firstStep: firstStep);
        try
        {
            Run(workers.Count, rank => Train(workers[rank], rank, totalSteps, afterStep, cancellation, firstStep, live), abortGroup, threadsPerWorker);
        }
        catch (WorkerFailedException e)
        {
            throw live.WithCheckpointNote(e); // once every thread has stopped, no checkpoint is still being written
        }
        catch (Exception e) when (e is TrainingDivergedException or PeerPayloadException)
        {
            live.LogCheckpointNote(); // its message is its own: the checkpoint to resume from goes to the log
            throw;
        }
        live.ThrowIfNoneLeft();
    }

    private static void Train(DiLoCoWorker worker, int local, long totalSteps, Action<int, long>? afterStep, CancellationToken cancellation,
        long firstStep, LiveWorkers live)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        long t = firstStep;
        try
        {
            for (; t <= totalSteps; t++)
            {
                cancellation.ThrowIfCancellationRequested();
                if (!TryWork(() => { ThrowIfInjected(live, worker, t); worker.Step(t); })) return;
                live.Completed(local, t);
                if (afterStep is null) continue;
                var observed = System.Diagnostics.Stopwatch.GetTimestamp();
                afterStep(local, t);
                worker.Statistics.ObserverSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(observed).TotalSeconds;
            }
            t = totalSteps; // the last apply belongs to the last step
            TryWork(() => worker.Finish(totalSteps));
        }
        finally
        {
            worker.Statistics.WallSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
            live.Ended(local);
        }

        // False when the worker's own work threw and it was dropped (Continue); Fail throws from OnFailure.
        bool TryWork(Action work)
        {
            try
            {
                work();
                return true;
            }
            catch (Exception e) when (e is not OperationCanceledException && !IsAbortEcho(e))
            {
                live.OnFailure(local, t, e);
                MarkLossesLost(worker, t, totalSteps);
                return false;
            }
        }
    }

    private static void ThrowIfInjected(LiveWorkers live, DiLoCoWorker worker, long t)
    {
        if (live.InjectedFault?.Invoke(worker.Rank, t) is { } fault) throw fault;
    }

    /// <summary>A dropped worker's losses: NaN from the failed step <paramref name="t"/> to T (the report's defined value).</summary>
    private static void MarkLossesLost(DiLoCoWorker worker, long t, long totalSteps)
    {
        var losses = worker.Statistics.Losses;
        int kept = (int)Math.Min(losses.Count, t - 1);
        losses.RemoveRange(kept, losses.Count - kept);
        while (losses.Count < totalSteps) losses.Add(float.NaN);
    }

    /// <summary>
    /// Runs <paramref name="body"/>(rank) for every rank on its own thread and waits for all of them; the first
    /// failure aborts the group and is rethrown once every thread has stopped.
    /// </summary>
    /// <param name="count">Number of workers.</param>
    /// <param name="body">One worker's whole training, given its rank.</param>
    /// <param name="abortGroup">Fails every pending and future exchange of the group.</param>
    /// <param name="threadsPerWorker">libtorch intra-op threads of each worker thread.</param>
    public static void Run(int count, Action<int> body, Action<Exception> abortGroup, int threadsPerWorker = 1)
    {
        var errors = new Exception?[count];
        var threads = new Thread[count];
        for (int r = 0; r < count; r++)
        {
            int rank = r;
            threads[r] = new Thread(() =>
            {
                try
                {
                    torch.set_num_threads(threadsPerWorker);
                    body(rank);
                }
                catch (Exception e)
                {
                    errors[rank] = e;
                    // A worker's own failure already names the worker (by its global index) and the step.
                    abortGroup(e is WorkerFailedException or TrainingDivergedException or PeerPayloadException
                        ? e : new InvalidOperationException($"Worker {rank} failed: {e.Message}", e));
                }
            }, maxStackSize: 16 * 1024 * 1024) { IsBackground = true, Name = $"DiLoCo worker {r}" };
            threads[r].Start();
        }
        foreach (var thread in threads) thread.Join();

        // The worker that failed first is the cause; the others failed because the group was aborted.
        var cause = errors.FirstOrDefault(e => e is OperationCanceledException)
                    ?? errors.FirstOrDefault(e => e is not null && !IsAbortEcho(e))
                    ?? errors.FirstOrDefault(e => e is not null);
        if (cause is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(cause).Throw();
    }

    private static bool IsAbortEcho(Exception e) =>
        e is CollectiveAbortedException || e.InnerException is CollectiveAbortedException;
}
