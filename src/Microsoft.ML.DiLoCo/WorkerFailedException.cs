namespace Microsoft.ML.DiLoCo;

/// <summary>
/// A worker's step threw and training stopped (<see cref="WorkerFailurePolicy.Fail"/>), or every worker failed
/// (<see cref="WorkerFailurePolicy.Continue"/>). The message names the worker(s), the step(s) and the cause; the first failed
/// worker's exception is the inner exception.
/// </summary>
public sealed class WorkerFailedException : InvalidOperationException
{
    /// <summary>One worker failed at one step.</summary>
    /// <param name="worker">The worker (replica) index.</param>
    /// <param name="step">The inner step (1-based) whose work threw.</param>
    /// <param name="cause">What the worker's step threw.</param>
    /// <param name="note">A sentence appended to the message (e.g. which checkpoint to resume from), or null.</param>
    internal WorkerFailedException(int worker, long step, Exception cause, string? note = null)
        : base($"Worker {worker} failed at step {step}: {cause.GetType().Name}: {cause.Message} Training stopped (OnWorkerFailure = Fail)." +
               (note is null ? "" : " " + note), cause)
    {
        Worker = worker;
        Step = step;
        Failures = new[] { new WorkerFailure(worker, step, cause.GetType().FullName ?? cause.GetType().Name, cause.Message) };
    }

    /// <summary>Every worker failed (<see cref="WorkerFailurePolicy.Continue"/>).</summary>
    /// <param name="failures">Every worker's failure, in the order they happened.</param>
    /// <param name="firstCause">The first failed worker's exception.</param>
    internal WorkerFailedException(IReadOnlyList<WorkerFailure> failures, Exception firstCause)
        : base($"Every worker failed, so training cannot continue (OnWorkerFailure = Continue): " +
               string.Join("; ", failures.Select(f => $"worker {f.Worker} at step {f.Step} ({f.ExceptionType}: {f.Message})")) + ".", firstCause)
    {
        Worker = failures[0].Worker;
        Step = failures[0].Step;
        Failures = failures;
    }

    /// <summary>The (first) failed worker's index.</summary>
    public int Worker { get; }

    /// <summary>The inner step (1-based) at which it failed.</summary>
    public long Step { get; }

    /// <summary>Every failure behind this exception (one under <see cref="WorkerFailurePolicy.Fail"/>).</summary>
    public IReadOnlyList<WorkerFailure> Failures { get; }
}
