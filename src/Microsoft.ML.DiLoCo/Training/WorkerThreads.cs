using Microsoft.ML.DiLoCo.Communication;
using TorchSharp;

namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// Runs in-process workers, each on its own thread with one torch thread (two OpenMP pools fighting over
/// two cores collapse throughput; see ENVIRONMENT.md). If one worker fails, the group is aborted so that the
/// others, blocked in an exchange, fail fast instead of hanging; the first real error is rethrown.
/// </summary>
internal static class WorkerThreads
{
    /// <param name="workers">The workers, by rank.</param>
    /// <param name="totalSteps">T.</param>
    /// <param name="abortGroup">Fails every pending and future exchange of the group.</param>
    /// <param name="afterStep">Called on the worker's thread after each step (rank, t); may throw to stop training.</param>
    /// <param name="cancellation">Checked before every step.</param>
    /// <param name="threadsPerWorker">libtorch intra-op threads of each worker thread.</param>
    public static void Run(IReadOnlyList<DiLoCoWorker> workers, long totalSteps, Action<Exception> abortGroup,
        Action<int, long>? afterStep = null, CancellationToken cancellation = default, int threadsPerWorker = 1)
    {
        Run(workers.Count, rank =>
        {
            var worker = workers[rank];
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                for (long t = 1; t <= totalSteps; t++)
                {
                    cancellation.ThrowIfCancellationRequested();
                    worker.Step(t);
                    if (afterStep is null) continue;
                    var observed = System.Diagnostics.Stopwatch.GetTimestamp();
                    afterStep(rank, t);
                    worker.Statistics.ObserverSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(observed).TotalSeconds;
                }
                worker.Finish();
            }
            finally
            {
                worker.Statistics.WallSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
            }
        }, abortGroup, threadsPerWorker);
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
                    abortGroup(new InvalidOperationException($"Worker {rank} failed: {e.Message}", e));
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
