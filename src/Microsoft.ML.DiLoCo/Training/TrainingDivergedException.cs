namespace Microsoft.ML.DiLoCo;

/// <summary>Training produced a NaN or infinite value; thrown instead of returning a silently broken model.</summary>
public sealed class TrainingDivergedException : InvalidOperationException
{
    public TrainingDivergedException(int worker, long step, string quantity, Exception? inner = null)
        : base($"Training diverged: worker {worker} produced a non-finite {quantity} at step {step}. " +
               "Lower InnerLearningRate or OuterLearningRate, or enable gradient clipping.", inner)
    {
        Worker = worker;
        Step = step;
        Quantity = quantity;
    }

    /// <summary>The worker (replica) index.</summary>
    public int Worker { get; }

    /// <summary>The inner step (1-based).</summary>
    public long Step { get; }

    /// <summary>What was not finite: "loss", "gradient" or "pseudo-gradient".</summary>
    public string Quantity { get; }
}
