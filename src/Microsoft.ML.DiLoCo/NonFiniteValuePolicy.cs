namespace Microsoft.ML.DiLoCo;

/// <summary>What training does when a worker's loss, gradient or pseudo-gradient holds NaN or infinity.</summary>
public enum NonFiniteValuePolicy
{
    /// <summary>Stop training with a <c>TrainingDivergedException</c> naming the worker, the step and the quantity (or, for a payload
    /// from another worker that decodes to NaN or infinity, a <c>PeerPayloadException</c> naming the sender, the step and the fragment).</summary>
    Stop,

    /// <summary>
    /// Leave that worker's contribution out of the sync (every worker sees the same one-byte flag, so every worker averages the
    /// same finite contributions and θ̂ stays bit-identical and finite), reset that worker to θ̂ with fresh inner optimizer
    /// state, and count it in <c>TrainingReport.SkippedContributions</c>. A non-finite loss skips that inner step. A payload that
    /// decodes to NaN or infinity (a faulty peer), or an average that overflows, is left out the same way on every worker.
    /// </summary>
    SkipContribution,
}
