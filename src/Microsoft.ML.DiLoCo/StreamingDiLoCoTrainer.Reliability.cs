using Microsoft.ML.DiLoCo.Runs;

namespace Microsoft.ML.DiLoCo;

public sealed partial class StreamingDiLoCoTrainer
{
    /// <summary>The checkpoint and non-finite options; called by <see cref="Plan"/>. Null: no checkpoints.</summary>
    private static CheckpointSettings? CheckpointSettingsOf(Options o, SyncSettings sync)
    {
        if (!Enum.IsDefined(o.NonFiniteValuePolicy))
            throw new ArgumentOutOfRangeException(nameof(Options.NonFiniteValuePolicy), o.NonFiniteValuePolicy, "Unknown policy.");
        if (o.KeepCheckpoints < 1)
            throw new ArgumentOutOfRangeException(nameof(Options.KeepCheckpoints), o.KeepCheckpoints, "KeepCheckpoints must be at least 1.");
        if (o.CheckpointInterval < 0)
            throw new ArgumentOutOfRangeException(nameof(Options.CheckpointInterval), o.CheckpointInterval, "CheckpointInterval must be 0 (= InnerSteps) or more.");
        if (o.CheckpointDirectory is null) return null;
        if (string.IsNullOrWhiteSpace(o.CheckpointDirectory))
            throw new ArgumentException("CheckpointDirectory must name a folder (or be null for no checkpoints).", nameof(Options.CheckpointDirectory));
        // CheckpointInterval, with 0 meaning H (data-parallel, whose every step is quiescent: every H steps too).
        int interval = o.CheckpointInterval == 0 ? o.InnerSteps : o.CheckpointInterval;
        if (interval < 1)
            throw new ArgumentOutOfRangeException(nameof(Options.CheckpointInterval), o.CheckpointInterval, "CheckpointInterval must be at least 1 when InnerSteps is not (0 = InnerSteps).");
        if (interval % sync.StepsPerFragment != 0)
            throw new ArgumentException(
                $"CheckpointInterval = {o.CheckpointInterval} must be a multiple of H/P = {sync.InnerSteps}/{sync.Fragments} = {sync.StepsPerFragment}: a checkpoint is taken right after a fragment is applied, when no exchange is in flight.",
                nameof(Options.CheckpointInterval));
        return new CheckpointSettings(o.CheckpointDirectory, interval, o.KeepCheckpoints);
    }
}
