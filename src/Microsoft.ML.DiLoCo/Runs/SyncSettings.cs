using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Training;

namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>
/// The outer loop's settings as the engine runs them (ALGORITHM.md's H, P, τ, α, wire format, η, μ), resolved for the
/// algorithm: DiLoCo runs one fragment with no overlap and α = 0, data-parallel syncs every step in FP32. Both public
/// options classes (the trainer's and <see cref="StreamingDiLoCoOptions"/>) map onto this through <see cref="Resolve"/>,
/// so the rules and their messages exist once.
/// </summary>
internal sealed record SyncSettings(
    TrainingAlgorithm Algorithm,
    int InnerSteps,
    int Fragments,
    int OverlapSteps,
    float MixingAlpha,
    WireFormat WireFormat,
    int Float4BlockSize,
    bool ErrorFeedback,
    float OuterLearningRate,
    float OuterMomentum,
    FinalModel FinalModel = FinalModel.OuterParameters,
    int SyncWarmupSteps = 0,
    int SyncWarmupInnerSteps = 0)
{
    /// <summary>Checks the settings (an error names the option and the allowed range) and resolves them for the algorithm;
    /// <c>fragments</c> is P as asked for (the trainer's NumberOfFragments, or the length of a BYOM fragment list).</summary>
    public static SyncSettings Resolve(TrainingAlgorithm algorithm, int innerSteps, int fragments, int overlapSteps, float mixingAlpha,
        WireFormat wireFormat, int float4BlockSize, bool errorFeedback, float outerLearningRate, float outerMomentum,
        FinalModel finalModel = FinalModel.OuterParameters, int syncWarmupSteps = 0, int syncWarmupInnerSteps = 0)
    {
        if (!Enum.IsDefined(finalModel)) throw new ArgumentOutOfRangeException("FinalModel", finalModel, "Unknown final model.");
        if (!Enum.IsDefined(algorithm)) throw new ArgumentOutOfRangeException("Algorithm", algorithm, "Unknown algorithm.");
        if (!Enum.IsDefined(wireFormat)) throw new ArgumentOutOfRangeException("WireFormat", wireFormat, "Unknown wire format.");
        if (float4BlockSize < 1) throw new ArgumentOutOfRangeException("Float4BlockSize", float4BlockSize, "Float4BlockSize must be at least 1.");
        if (!(outerLearningRate > 0) || float.IsInfinity(outerLearningRate))
            throw new ArgumentOutOfRangeException("OuterLearningRate", outerLearningRate, "OuterLearningRate (η) must be a finite number > 0.");
        if (!(outerMomentum >= 0 && outerMomentum < 1))
            throw new ArgumentOutOfRangeException("OuterMomentum", outerMomentum, "OuterMomentum (μ) must be in [0, 1).");
        switch (algorithm)
        {
            case TrainingAlgorithm.DataParallel: // every step: gradients in FP32, nothing outer
                return new(algorithm, 1, 1, 0, 0f, WireFormat.Float32, float4BlockSize, false, outerLearningRate, outerMomentum);
            case TrainingAlgorithm.DiLoCo:
                _ = new SyncSchedule(innerSteps, 1, 0, syncWarmupSteps, syncWarmupInnerSteps); // names InnerSteps, the warm-up
                return new(algorithm, innerSteps, 1, 0, 0f, wireFormat, float4BlockSize, errorFeedback, outerLearningRate, outerMomentum,
                    finalModel, syncWarmupSteps, syncWarmupSteps == 0 ? 0 : syncWarmupInnerSteps);
        }
        if (!(mixingAlpha >= 0 && mixingAlpha <= 1))
            throw new ArgumentOutOfRangeException("MixingAlpha", mixingAlpha, "MixingAlpha (α) must be in [0, 1].");
        _ = new SyncSchedule(innerSteps, fragments, overlapSteps, syncWarmupSteps, syncWarmupInnerSteps); // names the option at fault
        return new(algorithm, innerSteps, fragments, overlapSteps, mixingAlpha, wireFormat, float4BlockSize, errorFeedback, outerLearningRate, outerMomentum,
            finalModel, syncWarmupSteps, syncWarmupSteps == 0 ? 0 : syncWarmupInnerSteps);
    }

    /// <summary>When each fragment is sent and applied (data-parallel: every step).</summary>
    public SyncSchedule Schedule => new(InnerSteps, Fragments, OverlapSteps, SyncWarmupSteps, SyncWarmupInnerSteps);

    /// <summary>Δt = H/P: steps between two fragment syncs, and the granularity of quiescent steps (checkpoints).</summary>
    public int StepsPerFragment => InnerSteps / Fragments;

    /// <summary>The codec of the pseudo-gradients (or data-parallel gradients) on the wire.</summary>
    public IWireCodec CreateCodec() => WireCodecs.Create(WireFormat, Float4BlockSize);

    /// <summary>The outer optimizer: Nesterov SGD with η and μ (plain SGD when μ = 0).</summary>
    public OuterOptimization Outer => OuterOptimization.Nesterov(OuterLearningRate, OuterMomentum);

    /// <summary>The engine's settings for these sync settings over <paramref name="plan"/>.</summary>
    public WorkerSettings ForWorkers(FragmentPlan plan, InnerOptimization? inner, NonFiniteValuePolicy nonFinite = NonFiniteValuePolicy.Stop) =>
        new(Algorithm, Schedule, plan, MixingAlpha, CreateCodec(), ErrorFeedback, inner, Outer, nonFinite, FinalModel);
}
