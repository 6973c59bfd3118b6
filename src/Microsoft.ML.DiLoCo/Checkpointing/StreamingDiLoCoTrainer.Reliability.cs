namespace Microsoft.ML.DiLoCo;

public sealed partial class StreamingDiLoCoTrainer
{
    /// <summary>The checkpoint and non-finite options; called by <see cref="Validate"/>.</summary>
    private static void ValidateReliability(Options o)
    {
        if (!Enum.IsDefined(o.NonFiniteValuePolicy))
            throw new ArgumentOutOfRangeException(nameof(Options.NonFiniteValuePolicy), o.NonFiniteValuePolicy, "Unknown policy.");
        if (o.KeepCheckpoints < 1)
            throw new ArgumentOutOfRangeException(nameof(Options.KeepCheckpoints), o.KeepCheckpoints, "KeepCheckpoints must be at least 1.");
        if (o.CheckpointInterval < 0)
            throw new ArgumentOutOfRangeException(nameof(Options.CheckpointInterval), o.CheckpointInterval, "CheckpointInterval must be 0 (= InnerSteps) or more.");
        if (o.CheckpointDirectory is null) return;
        if (string.IsNullOrWhiteSpace(o.CheckpointDirectory))
            throw new ArgumentException("CheckpointDirectory must name a folder (or be null for no checkpoints).", nameof(Options.CheckpointDirectory));
        if (o.Algorithm == TrainingAlgorithm.DataParallel || o.InnerSteps < 1) return; // every data-parallel step is quiescent
        int fragments = o.Algorithm == TrainingAlgorithm.DiLoCo ? 1 : Math.Max(1, o.NumberOfFragments);
        if (o.InnerSteps % fragments != 0) return; // reported by the schedule check with its own option name
        int interval = o.InnerSteps / fragments;
        if (EffectiveCheckpointInterval(o) % interval != 0)
            throw new ArgumentException(
                $"CheckpointInterval = {o.CheckpointInterval} must be a multiple of H/P = {o.InnerSteps}/{fragments} = {interval}: a checkpoint is taken right after a fragment is applied, when no exchange is in flight.",
                nameof(Options.CheckpointInterval));
    }

    /// <summary>CheckpointInterval, with 0 meaning H (data-parallel: every H steps too).</summary>
    internal static int EffectiveCheckpointInterval(Options o) => o.CheckpointInterval == 0 ? o.InnerSteps : o.CheckpointInterval;
}
