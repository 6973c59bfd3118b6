namespace Microsoft.ML.DiLoCo.Training;

/// <summary>Inner learning rate: linear warmup, then cosine decay to a floor over the whole run (ALGORITHM.md).</summary>
internal sealed record LearningRateSchedule(double PeakLearningRate, long WarmupSteps, long TotalSteps, double MinimumLearningRate)
{
    /// <summary>A constant rate (tests, custom loops).</summary>
    public static LearningRateSchedule Constant(double learningRate) => new(learningRate, 0, long.MaxValue, learningRate);

    /// <summary>The rate for inner step <paramref name="t"/> (1-based).</summary>
    public double At(long t)
    {
        if (WarmupSteps > 0 && t <= WarmupSteps) return PeakLearningRate * t / WarmupSteps;
        if (TotalSteps <= WarmupSteps || PeakLearningRate == MinimumLearningRate) return PeakLearningRate;
        double progress = Math.Clamp((double)(t - WarmupSteps) / (TotalSteps - WarmupSteps), 0, 1);
        return MinimumLearningRate + 0.5 * (PeakLearningRate - MinimumLearningRate) * (1 + Math.Cos(Math.PI * progress));
    }
}
