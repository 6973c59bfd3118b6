using Microsoft.ML.DiLoCo.Runs;

namespace Microsoft.ML.DiLoCo;

public sealed partial class StreamingDiLoCoTrainer
{
    /// <summary>
    /// Every option is checked here, before any data is read (an error names the option and the allowed range), and the
    /// options become the immutable run plan the library carries out: the engine, the run setup and the checkpoints
    /// never read the options themselves.
    /// </summary>
    internal static RunPlan Plan(Options o)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (string.IsNullOrWhiteSpace(o.TextColumnName))
            throw new ArgumentException("TextColumnName must name the text column.", nameof(Options.TextColumnName));
        if (!Enum.IsDefined(o.Tokenizer)) throw new ArgumentOutOfRangeException(nameof(Options.Tokenizer), o.Tokenizer, "Unknown tokenizer.");
        if (!Enum.IsDefined(o.FragmentPattern)) throw new ArgumentOutOfRangeException(nameof(Options.FragmentPattern), o.FragmentPattern, "Unknown fragment pattern.");
        if (!Enum.IsDefined(o.NonBlockParameters)) throw new ArgumentOutOfRangeException(nameof(Options.NonBlockParameters), o.NonBlockParameters, "Unknown placement.");
        if (o.Model is null) throw new ArgumentNullException(nameof(Options.Model));
        o.Model.Validate("Model");
        var sync = SyncSettings.Resolve(o.Algorithm, o.InnerSteps, o.NumberOfFragments, o.OverlapSteps, o.MixingAlpha, o.WireFormat,
            o.Float4BlockSize, o.ErrorFeedback, o.OuterLearningRate, o.OuterMomentum, o.FinalModel, o.SyncWarmupSteps, o.SyncWarmupInnerSteps);
        ValidateFragmentsFitTheModel(o, sync);
        Positive(o.NumberOfWorkers, nameof(Options.NumberOfWorkers));
        Positive(o.BatchSize, nameof(Options.BatchSize));
        Positive(o.TrainingSteps, nameof(Options.TrainingSteps));
        Positive(o.EvaluationInterval, nameof(Options.EvaluationInterval));
        Positive(o.MaximumValidationTokens, nameof(Options.MaximumValidationTokens));
        var inner = InnerSettingsOf(o);
        if (o.Deterministic && o.Model.Dropout > 0 && o.NumberOfWorkers > 1)
            throw new ArgumentException("Deterministic = true needs Model.Dropout = 0 with several workers: dropout draws from libtorch's global generator, which worker threads share.", nameof(Options.Deterministic));
        var process = ProcessSettingsOf(o);
        var checkpoints = CheckpointSettingsOf(o, sync); // CheckpointDirectory, CheckpointInterval, KeepCheckpoints, NonFiniteValuePolicy
        ValidateInitialModel(o); // InitialModel, InitialModelPath
        return new RunPlan(sync, o.Tokenizer, o.Model, o.FragmentPattern, o.NonBlockParameters, inner, o.BatchSize, o.TrainingSteps,
            new EvaluationSettings(o.EvaluationInterval, o.MaximumValidationTokens), o.Deterministic, o.Seed, process, checkpoints,
            o.NonFiniteValuePolicy, o.OnWorkerFailure);
    }

    private static InnerSettings InnerSettingsOf(Options o)
    {
        if (o.WarmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(Options.WarmupSteps), o.WarmupSteps, "WarmupSteps must be 0 or more.");
        PositiveFinite(o.InnerLearningRate, nameof(Options.InnerLearningRate));
        UnitInterval(o.MinimumLearningRateRatio, nameof(Options.MinimumLearningRateRatio), upperOpen: false);
        UnitInterval(o.Beta1, nameof(Options.Beta1), upperOpen: true);
        UnitInterval(o.Beta2, nameof(Options.Beta2), upperOpen: true);
        if (!(o.WeightDecay >= 0) || float.IsInfinity(o.WeightDecay))
            throw new ArgumentOutOfRangeException(nameof(Options.WeightDecay), o.WeightDecay, "WeightDecay must be a finite number ≥ 0.");
        if (!(o.GradientClipNorm >= 0) || float.IsInfinity(o.GradientClipNorm))
            throw new ArgumentOutOfRangeException(nameof(Options.GradientClipNorm), o.GradientClipNorm, "GradientClipNorm must be a finite number ≥ 0 (0 = off).");
        return new InnerSettings(o.InnerLearningRate, o.WarmupSteps, o.MinimumLearningRateRatio, o.Beta1, o.Beta2, o.WeightDecay, o.GradientClipNorm);
    }

    private static ProcessSettings ProcessSettingsOf(Options o)
    {
        if (!Enum.IsDefined(o.Transport)) throw new ArgumentOutOfRangeException(nameof(Options.Transport), o.Transport, "Unknown transport.");
        NonNegativeFinite(o.ExchangeTimeoutSeconds, nameof(Options.ExchangeTimeoutSeconds), "0 = wait forever");
        NonNegativeFinite(o.LinkBandwidthBitsPerSecond, nameof(Options.LinkBandwidthBitsPerSecond), "0 = no simulated link");
        NonNegativeFinite(o.LinkLatencyMilliseconds, nameof(Options.LinkLatencyMilliseconds), "0 = none");
        ExchangeSealing.Validate(o.ExchangeSecurity, o.ExchangeKeyFile);
        if (!Enum.IsDefined(o.OnWorkerFailure))
            throw new ArgumentOutOfRangeException(nameof(Options.OnWorkerFailure), o.OnWorkerFailure, "Unknown policy: Fail or Continue.");
        if (o.OnWorkerFailure == WorkerFailurePolicy.Continue && o.Transport == Transport.Mpi)
            throw new ArgumentException("OnWorkerFailure = Continue is supported in-process only (Transport = InProcess): the MPI transport " +
                                        "cannot shrink its group, so a failed rank stops the job; use OnWorkerFailure = Fail with MPI.", nameof(Options.OnWorkerFailure));
        if (o.Transport == Transport.Mpi && !Communication.MpiRuntime.IsLaunchedByMpi)
            throw new ArgumentException($"Transport = Mpi but this process was not started by an MPI launcher: {Communication.MpiRuntime.LaunchHint}. " +
                                        "To train on threads of this process, use Transport = InProcess.", nameof(Options.Transport));
        WorkerDevices.Parse(o.Devices, nameof(Options.Devices));
        return new ProcessSettings(o.NumberOfWorkers, o.Devices.ToArray(), o.Transport, o.ExchangeTimeoutSeconds, o.LinkBandwidthBitsPerSecond,
            o.LinkLatencyMilliseconds, o.ExchangeSecurity, o.ExchangeKeyFile);
    }

    /// <summary>NumberOfFragments against the model: P − 1 block fragments (P with the non-block parameters attached) need that many blocks.</summary>
    private static void ValidateFragmentsFitTheModel(Options o, SyncSettings sync)
    {
        int fragments = sync.Fragments;
        int blockFragments = o.NonBlockParameters == NonBlockParameterPlacement.OwnFragment ? fragments - 1 : fragments;
        if (fragments > 1 && blockFragments > o.Model.NumberOfLayers)
        {
            int max = o.NonBlockParameters == NonBlockParameterPlacement.OwnFragment ? o.Model.NumberOfLayers + 1 : o.Model.NumberOfLayers;
            throw new ArgumentOutOfRangeException(nameof(Options.NumberOfFragments), o.NumberOfFragments,
                $"NumberOfFragments = {o.NumberOfFragments} needs {blockFragments} block fragments but the model has {o.Model.NumberOfLayers} blocks (Model.NumberOfLayers); allowed range 1..{max}.");
        }
    }

    private static void Positive(int value, string name)
    {
        if (value < 1) throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1.");
    }

    private static void NonNegativeFinite(double value, string name, string meaning)
    {
        if (!(value >= 0) || double.IsInfinity(value)) throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number ≥ 0 ({meaning}).");
    }

    private static void PositiveFinite(float value, string name)
    {
        if (!(value > 0) || float.IsInfinity(value)) throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number > 0.");
    }

    private static void UnitInterval(float value, string name, bool upperOpen)
    {
        bool ok = value >= 0 && (upperOpen ? value < 1 : value <= 1);
        if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [0, 1{(upperOpen ? ")" : "]")}.");
    }
}
