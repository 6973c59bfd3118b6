namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>A snapshot for progress displays, taken on worker 0 after a step.</summary>
internal sealed record TrainingProgress(long Step, long TotalSteps, float Loss, double TokensPerSecond, long BytesSent, TimeSpan Elapsed)
{
    public TimeSpan EstimatedRemaining => Step == 0 ? TimeSpan.Zero : Elapsed * ((double)(TotalSteps - Step) / Step);

    /// <summary>The latest validation loss of θ̂; NaN before the first evaluation.</summary>
    public double ValidationLoss { get; init; } = double.NaN;
}
