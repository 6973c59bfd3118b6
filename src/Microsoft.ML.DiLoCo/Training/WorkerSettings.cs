using Microsoft.ML.DiLoCo.Communication;

namespace Microsoft.ML.DiLoCo.Training;

/// <summary>Everything a worker needs to run the loop of ALGORITHM.md, identical on every worker.
/// <see cref="Inner"/> is null when the caller takes the inner step with its own optimizer.</summary>
internal sealed record WorkerSettings(
    TrainingAlgorithm Algorithm,
    SyncSchedule Schedule,
    FragmentPlan Plan,
    float MixingAlpha,
    IWireCodec Codec,
    bool ErrorFeedback,
    InnerOptimization? Inner,
    OuterOptimization Outer,
    NonFiniteValuePolicy NonFinite = NonFiniteValuePolicy.Stop,
    FinalModel FinalModel = FinalModel.OuterParameters);
