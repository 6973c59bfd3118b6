using System.Globalization;

namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>
/// The run plan as "name = value" lines, field by field and by hand (no reflection: adding a plan field must be a
/// decision, and <c>RunPlanDescriptionTests</c> fails until the field is described here or listed in <see cref="NotDescribed"/>).
/// The MPI ranks compare these lines before training (<see cref="RankConsistency"/>) and a checkpoint keeps them
/// (<see cref="OptionsFingerprint"/>). Lines carry the public option names, so a difference names what to fix.
/// </summary>
internal static class RunPlanDescription
{
    /// <summary>Plan fields (property paths) that are not described, and why: each may legitimately differ between ranks.</summary>
    public static readonly IReadOnlyDictionary<string, string> NotDescribed = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["Process.Devices"] = "where this rank's workers run; ranks on different machines have different devices",
        ["Process.ExchangeTimeoutSeconds"] = "how long this rank waits; it does not change what is computed",
        ["Process.ExchangeKeyFile"] = "a path, which may differ between machines; the secret itself is never compared in the clear",
    };

    public static IEnumerable<string> Lines(RunPlan plan)
    {
        foreach (var line in SyncLines(plan.Sync)) yield return line;
        yield return Line("Tokenizer", plan.Tokenizer);
        foreach (var line in ModelLines(plan.Model)) yield return line;
        yield return Line("FragmentPattern", plan.FragmentPattern);
        yield return Line("NonBlockParameters", plan.NonBlockParameters);
        var i = plan.Inner;
        yield return Line("InnerLearningRate", i.LearningRate);
        yield return Line("WarmupSteps", i.WarmupSteps);
        yield return Line("MinimumLearningRateRatio", i.MinimumLearningRateRatio);
        yield return Line("Beta1", i.Beta1);
        yield return Line("Beta2", i.Beta2);
        yield return Line("WeightDecay", i.WeightDecay);
        yield return Line("GradientClipNorm", i.GradientClipNorm);
        yield return Line("BatchSize", plan.BatchSize);
        yield return Line("TrainingSteps", plan.TrainingSteps);
        yield return Line("EvaluationInterval", plan.Evaluation.Interval);
        yield return Line("MaximumValidationTokens", plan.Evaluation.MaximumTokens);
        yield return Line("Deterministic", plan.Deterministic);
        yield return Line("Seed", plan.Seed);
        var p = plan.Process;
        yield return Line("NumberOfWorkers", p.WorkersPerProcess);
        yield return Line("Transport", p.Transport);
        yield return Line("LinkBandwidthBitsPerSecond", p.LinkBandwidthBitsPerSecond);
        yield return Line("LinkLatencyMilliseconds", p.LinkLatencyMilliseconds);
        yield return Line("ExchangeSecurity", p.ExchangeSecurity);
        yield return Line("CheckpointDirectory", plan.Checkpoints?.Directory);
        yield return Line("CheckpointInterval", plan.Checkpoints?.Interval);
        yield return Line("KeepCheckpoints", plan.Checkpoints?.Keep);
        yield return Line("NonFiniteValuePolicy", plan.NonFiniteValuePolicy);
        yield return Line("OnWorkerFailure", plan.OnWorkerFailure);
    }

    /// <summary>The outer loop's settings (also what the workers of <see cref="StreamingDiLoCo"/> agree on).</summary>
    public static IEnumerable<string> SyncLines(SyncSettings s)
    {
        yield return Line("Algorithm", s.Algorithm);
        yield return Line("InnerSteps", s.InnerSteps);
        yield return Line("NumberOfFragments", s.Fragments);
        yield return Line("OverlapSteps", s.OverlapSteps);
        yield return Line("MixingAlpha", s.MixingAlpha);
        yield return Line("WireFormat", s.WireFormat);
        yield return Line("Float4BlockSize", s.Float4BlockSize);
        yield return Line("ErrorFeedback", s.ErrorFeedback);
        yield return Line("OuterLearningRate", s.OuterLearningRate);
        yield return Line("OuterMomentum", s.OuterMomentum);
        // Described only when set: checkpoints and ranks of runs from before these options still match.
        if (s.FinalModel != FinalModel.OuterParameters) yield return Line("FinalModel", s.FinalModel);
        if (s.SyncWarmupSteps != 0 || s.SyncWarmupInnerSteps != 0)
        {
            yield return Line("SyncWarmupSteps", s.SyncWarmupSteps);
            yield return Line("SyncWarmupInnerSteps", s.SyncWarmupInnerSteps);
        }
    }

    private static IEnumerable<string> ModelLines(TransformerOptions m)
    {
        yield return Line("Model.Bias", m.Bias);
        yield return Line("Model.ContextLength", m.ContextLength);
        yield return Line("Model.Dropout", m.Dropout);
        yield return Line("Model.EmbeddingSize", m.EmbeddingSize);
        yield return Line("Model.MlpRatio", m.MlpRatio);
        yield return Line("Model.NumberOfHeads", m.NumberOfHeads);
        yield return Line("Model.NumberOfLayers", m.NumberOfLayers);
        yield return Line("Model.PositionEncoding", m.PositionEncoding);
        yield return Line("Model.TiedEmbeddings", m.TiedEmbeddings);
    }

    public static string Line(string name, object? value) => $"{name} = {Format(value)}";

    /// <summary>Culture-free text of a value ("R" for floating point, so that equal text means equal bits).</summary>
    public static string Format(object? value) => value switch
    {
        null => "null",
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
