namespace Microsoft.ML.DiLoCo.Training;

/// <summary>What one worker measured while training (the raw material of the TrainingReport).</summary>
internal sealed class WorkerStatistics
{
    /// <summary>Inner loss at each step, in step order.</summary>
    public List<float> Losses { get; } = new();

    public List<SyncRecord> Syncs { get; } = new();

    /// <summary>Seconds spent in forward, backward and the inner optimizer step.</summary>
    public double ComputeSeconds { get; set; }

    /// <summary>Seconds spent blocked on an exchange.</summary>
    public double CommunicationWaitSeconds { get; set; }

    public long Tokens { get; set; }

    /// <summary>Seconds spent in the outer sync's own work (launch: difference and encoding; apply: decoding, averaging,
    /// the outer step and the merge), not counting the time blocked waiting for the exchange.</summary>
    public double SyncSeconds { get; set; }

    /// <summary>Contributions left out of a sync because they held NaN or infinity (NonFiniteValuePolicy.SkipContribution), as seen by this worker.</summary>
    public long SkippedContributions { get; set; }

    /// <summary>Seconds from the worker's first step to the end of its final flush.</summary>
    public double WallSeconds { get; set; }

    /// <summary>Seconds spent in the after-step callback (evaluation, progress): not training, excluded from utilisation.</summary>
    public double ObserverSeconds { get; set; }
}
