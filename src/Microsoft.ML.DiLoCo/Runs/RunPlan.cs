using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Training;

namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>
/// One training run as the library will carry it out, validated once by the edge (<c>StreamingDiLoCoTrainer.Plan</c>) and
/// never changed after: the run setup, the engine and the checkpoints read this, never the public options. Values are the
/// effective ones (P, τ, α resolved for the algorithm; the checkpoint interval with 0 resolved to H; devices parsed).
/// Every field is either fingerprinted (<see cref="RunPlanDescription"/>) or listed there as deliberately left out, and a
/// test fails when a field is added without that decision.
/// </summary>
internal sealed record RunPlan(
    SyncSettings Sync,
    TokenizerKind Tokenizer,
    TransformerOptions Model,
    FragmentPattern FragmentPattern,
    NonBlockParameterPlacement NonBlockParameters,
    InnerSettings Inner,
    int BatchSize,
    int TrainingSteps,
    EvaluationSettings Evaluation,
    bool Deterministic,
    int? Seed,
    ProcessSettings Process,
    CheckpointSettings? Checkpoints,
    NonFiniteValuePolicy NonFiniteValuePolicy,
    WorkerFailurePolicy OnWorkerFailure)
{
    /// <summary>The model's shape: a private copy, never shared with the options it came from.</summary>
    public TransformerOptions Model { get; } = Model.Clone();

    /// <summary>The inner optimizer as the engine builds it: AdamW with the warmup + cosine schedule over the run.</summary>
    public InnerOptimization InnerOptimization => Inner.AdamW(TrainingSteps);

    /// <summary>The engine's settings for this run over <paramref name="fragments"/>.</summary>
    public WorkerSettings WorkerSettings(FragmentPlan fragments) => Sync.ForWorkers(fragments, InnerOptimization, NonFiniteValuePolicy);
}

/// <summary>The inner AdamW optimizer and its schedule: peak rate after a linear warmup, cosine decay to a fraction of it.</summary>
internal sealed record InnerSettings(float LearningRate, int WarmupSteps, float MinimumLearningRateRatio, float Beta1, float Beta2,
    float WeightDecay, float GradientClipNorm)
{
    public InnerOptimization AdamW(int trainingSteps) => InnerOptimization.AdamW(
        new LearningRateSchedule(LearningRate, Math.Min(WarmupSteps, trainingSteps), trainingSteps, LearningRate * MinimumLearningRateRatio),
        Beta1, Beta2, WeightDecay, GradientClipNorm);
}

/// <summary>How θ̂ is scored during training: every <paramref name="Interval"/> steps and at the end, on at most that many tokens.</summary>
internal sealed record EvaluationSettings(int Interval, int MaximumTokens);

/// <summary>
/// What belongs to this process rather than to the run: its workers and devices, the transport, the exchange timeout, the
/// simulated link and the exchange security (a key file path may differ between machines; the secret may not).
/// </summary>
internal sealed record ProcessSettings(
    int WorkersPerProcess,
    IReadOnlyList<string> Devices,
    Transport Transport,
    double ExchangeTimeoutSeconds,
    double LinkBandwidthBitsPerSecond,
    double LinkLatencyMilliseconds,
    ExchangeSecurity ExchangeSecurity,
    string? ExchangeKeyFile)
{
    /// <summary>The simulated link, or null when neither bandwidth nor latency is set.</summary>
    public LinkModel? Link => LinkBandwidthBitsPerSecond > 0 || LinkLatencyMilliseconds > 0
        ? LinkModel.FromBitsPerSecond(LinkBandwidthBitsPerSecond, LinkLatencyMilliseconds)
        : null;

    /// <summary>The longest one MPI exchange may take (infinite for 0).</summary>
    public TimeSpan ExchangeTimeout => ExchangeTimeoutSeconds > 0 ? TimeSpan.FromSeconds(ExchangeTimeoutSeconds) : Timeout.InfiniteTimeSpan;
}

/// <summary>Where checkpoints go, every how many steps (a multiple of H/P), and how many are kept.</summary>
internal sealed record CheckpointSettings(string Directory, int Interval, int Keep);
