namespace Microsoft.ML.DiLoCo;

/// <summary>A worker dropped under <see cref="WorkerFailurePolicy.Continue"/>: which one, at which step, and why.</summary>
/// <param name="Worker">The worker (replica) index, 0 … M − 1.</param>
/// <param name="Step">The inner step (1-based) whose work threw; the worker completed the steps before it.</param>
/// <param name="ExceptionType">The full type name of the exception the worker's step threw.</param>
/// <param name="Message">That exception's message.</param>
public sealed record WorkerFailure(int Worker, long Step, string ExceptionType, string Message);
