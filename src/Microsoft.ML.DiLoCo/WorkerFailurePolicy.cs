namespace Microsoft.ML.DiLoCo;

/// <summary>What training does when one worker's step throws (out of memory, a device error, a <see cref="TrainingDivergedException"/>
/// under <see cref="NonFiniteValuePolicy.Stop"/>, …). See docs/reliability.md, "Failing workers".</summary>
public enum WorkerFailurePolicy
{
    /// <summary>
    /// Stop training: <c>Fit</c> throws a <see cref="WorkerFailedException"/> naming the worker, the step and the cause (the worker's
    /// exception is its inner exception); a <see cref="TrainingDivergedException"/> is thrown as it is (it already names them). With a
    /// checkpoint folder, the message names the newest checkpoint, from which the next <c>Fit</c> resumes.
    /// </summary>
    Fail,

    /// <summary>
    /// Drop the failed worker and go on with the others (in-process transport only): it leaves the group, so every exchange it had not
    /// joined completes with the live workers, whose average (FP32, rank order, over their count) keeps θ̂ bit-identical among them.
    /// A contribution the worker sent before it failed still counts. The failure is listed in <see cref="TrainingReport.WorkerFailures"/>;
    /// its losses from the failed step on are NaN and <see cref="TrainingReport.MeanInnerLoss"/> averages the live workers only.
    /// If every worker fails, <c>Fit</c> throws a <see cref="WorkerFailedException"/> naming them.
    /// </summary>
    Continue,
}
