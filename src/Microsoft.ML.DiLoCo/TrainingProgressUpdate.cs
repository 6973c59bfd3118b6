namespace Microsoft.ML.DiLoCo;

/// <summary>Where training stands after an inner step (see <see cref="StreamingDiLoCoTrainer.Options.Progress"/>).</summary>
/// <param name="Step">Inner steps done, 1..<paramref name="TotalSteps"/>.</param>
/// <param name="TotalSteps">The run's inner steps [T].</param>
/// <param name="Loss">Worker 0's inner loss at this step (nats per token).</param>
/// <param name="TokensPerSecond">Training tokens per second over all workers (evaluation excluded).</param>
/// <param name="BytesSent">Bytes worker 0 has sent so far.</param>
/// <param name="Elapsed">Wall time since training started (evaluation included).</param>
public sealed record TrainingProgressUpdate(long Step, long TotalSteps, float Loss, double TokensPerSecond, long BytesSent, TimeSpan Elapsed)
{
    /// <summary>Remaining time at the pace so far (zero before the first step).</summary>
    public TimeSpan EstimatedRemaining => Step <= 0 ? TimeSpan.Zero : Elapsed * ((double)(TotalSteps - Step) / Step);

    /// <summary>The latest validation loss of θ̂ (nats per token): NaN before the first evaluation or without a ValidationSet.</summary>
    public double ValidationLoss { get; init; } = double.NaN;
}
