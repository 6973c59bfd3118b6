namespace Microsoft.ML.DiLoCo;

/// <summary>Training produced a NaN or infinite value; thrown instead of returning a silently broken model.</summary>
public sealed class TrainingDivergedException : InvalidOperationException
{
    internal TrainingDivergedException(int worker, long step, string quantity, Exception? inner = null)
        : base($"Training diverged: worker {worker} produced a non-finite {quantity} at step {step}. " +
               "Lower InnerLearningRate or OuterLearningRate, or enable gradient clipping.", inner)
    {
        Worker = worker;
        Step = step;
        Quantity = quantity;
    }

    private TrainingDivergedException(long step, string quantity, string message)
        : base(message)
    {
        Worker = -1;
        Step = step;
        Quantity = quantity;
    }

    /// <summary>
    /// A value every worker computes identically from the same exchange (the averaged pseudo-gradient, θ̂ after the outer step)
    /// is not finite although every contribution was: every worker throws it, and no single worker is to blame.
    /// </summary>
    internal static TrainingDivergedException OfSharedValue(long step, string quantity) =>
        new(step, quantity, $"Training diverged: the {quantity} at step {step} is not finite, on every worker alike (every contribution " +
                            "was finite). Lower OuterLearningRate or InnerLearningRate, or enable gradient clipping.");

    /// <summary>The worker (replica) index; −1 when the value is one every worker shares (the averaged pseudo-gradient, θ̂).</summary>
    public int Worker { get; }

    /// <summary>The inner step (1-based).</summary>
    public long Step { get; }

    /// <summary>What was not finite: "loss", "gradient", "pseudo-gradient", or a shared value ("averaged pseudo-gradient …", "global parameters …").</summary>
    public string Quantity { get; }
}
