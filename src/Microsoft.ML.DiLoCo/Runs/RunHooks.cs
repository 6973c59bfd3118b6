namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>
/// Where a run reports and how it is stopped: not part of the plan (they change nothing it computes and are not compared
/// between ranks or checkpoints).
/// </summary>
/// <param name="Log">Rank 0's messages.</param>
/// <param name="Progress">A snapshot after every step of the lead worker (rank 0 only).</param>
/// <param name="Cancellation">Stops training between two steps (with checkpoints: at the next checkpoint).</param>
/// <param name="InjectedWorkerFault">Test hook: given (global worker, step), an exception that worker's step throws, or null.</param>
internal sealed record RunHooks(Action<string>? Log = null, Action<TrainingProgress>? Progress = null, CancellationToken Cancellation = default,
    Func<int, long, Exception?>? InjectedWorkerFault = null);
