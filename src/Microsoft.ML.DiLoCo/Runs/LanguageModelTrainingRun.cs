using System.Diagnostics;
using Microsoft.ML.DiLoCo.Checkpointing;
using Microsoft.ML.DiLoCo.Data;
using Microsoft.ML.DiLoCo.Model;
using Microsoft.ML.DiLoCo.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>
/// One training run of a transformer language model, carried out from its <see cref="RunPlan"/>: θ0 and the resume point
/// (<see cref="Start"/>), this process's workers on their shards (<see cref="CreateWorkers"/>), the loop on threads with
/// evaluation, progress and checkpoints (<see cref="TrainWorkers"/>), then θ̂ as the fitted model with the report
/// (<see cref="Finish"/>). In-process the process runs all M workers; under MPI each rank runs its own workers (numbered
/// globally, so the shards, sampling seeds and θ̂ are those of the in-process run with M workers), checks first that every
/// rank has the same plan and data, and gathers every worker's numbers into the report at the end.
/// Knows nothing about ML.NET or the public options (the trainer is the edge).
/// </summary>
internal sealed partial class LanguageModelTrainingRun
{
    private readonly RunPlan _plan;
    private readonly RunInputs _inputs;
    private readonly WorkerCollectives _collectives;
    private readonly Action<string>? _log;
    private readonly Action<TrainingProgress>? _progress;
    private readonly RunHooks _hooks;
    private readonly List<ValidationPoint> _points = new();
    private (TrainingCheckpoint Checkpoint, string Path)? _resume;
    private int _seed;
    private TransformerLanguageModel _result = null!;
    private string _start = "random";
    private FragmentPlan _fragments = null!;
    private DiLoCoWorker[] _workers = Array.Empty<DiLoCoWorker>();
    private ValidationEvaluator? _evaluator;
    private double _evaluationSeconds;

    private LanguageModelTrainingRun(RunPlan plan, RunInputs inputs, RunHooks hooks, WorkerCollectives collectives,
        (TrainingCheckpoint, string)? resume)
    {
        _plan = plan;
        _inputs = inputs;
        _hooks = hooks;
        _collectives = collectives;
        _resume = resume;
        bool root = collectives.ProcessRank == 0; // one voice per job: rank 0 speaks
        _log = root ? hooks.Log : null;
        _progress = root ? hooks.Progress : null;
    }

    private int LocalWorkers => _collectives.Workers.Length;

    private int FirstWorker => _collectives.FirstWorker;

    private bool Synchronises => _plan.Sync.Algorithm != TrainingAlgorithm.DataParallel;

    public static (TransformerLanguageModel Model, TrainingReport Report) Train(RunPlan plan, RunInputs inputs, RunHooks? hooks = null)
    {
        hooks ??= new RunHooks();
        // Checkpoints (docs/reliability.md): the newest valid one of the folder, whose seed this run keeps (under MPI: chosen by all ranks in Start).
        var resume = RunCheckpoints.LoadNewest(plan, hooks.Log);
        using var collectives = WorkerCollectives.Create(plan);
        var run = new LanguageModelTrainingRun(plan, inputs, hooks, collectives, resume);
        run.Start();
        try
        {
            run.CreateWorkers();
            double trainingWall = run.TrainWorkers(out var live, out var metrics);
            return run.Finish(live, metrics, trainingWall);
        }
        catch (Exception e)
        {
            if (collectives.Mpi is not null) collectives.Abort(e);
            run._result.Dispose();
            throw;
        }
        finally
        {
            foreach (var w in run._workers) w?.Dispose();
        }
    }

    /// <summary>θ0 (one initialisation, copied into every worker; this module ends up holding θ̂), the seed and the resume point.</summary>
    private void Start()
    {
        _seed = RunCheckpoints.SeedOf(_plan, _inputs.Seed, _resume?.Checkpoint);
        torch.manual_seed(_seed);
        _result = new TransformerLanguageModel(_plan.Model, _inputs.VocabularySize);
        _start = StartFrom(_result, _inputs.InitialWeights);
        if (_collectives.Mpi is not { } mpi) return;
        try
        {
            RankConsistency.Check(mpi, RankConsistency.Describe(_plan, _inputs.VocabularySize, _result.ParameterCount, _inputs.Train, _inputs.Validation, _seed, _start));
        }
        catch { _result.Dispose(); throw; } // every rank sees the same descriptions, so every rank throws here: no abort needed
        try
        {
            // Under MPI the ranks choose the checkpoint together; θ0 above is overwritten by it, the seed decides shards and samplers.
            _resume = RunCheckpoints.LoadAgreed(_plan, mpi, FirstWorker, LocalWorkers, _collectives.TotalWorkers, _log);
            _seed = RunCheckpoints.SeedOf(_plan, _seed, _resume?.Checkpoint);
        }
        catch (Exception e) { _result.Dispose(); _collectives.Abort(e); throw; } // as any failure under MPI: no rank is left waiting
    }

    /// <summary>The fragment plan and this process's workers, each on its device, shard and sampling seed (by global index).</summary>
    private void CreateWorkers()
    {
        var names = _result.named_parameters().Select(p => p.name).ToArray();
        _fragments = FragmentPlan.ForBlocks(names, TransformerLanguageModel.BlockIndexOf, _plan.Model.NumberOfLayers, _plan.Sync.Fragments,
            _plan.FragmentPattern, _plan.NonBlockParameters);
        var settings = _plan.WorkerSettings(_fragments);
        var devices = WorkerDevices.Parse(_plan.Process.Devices.ToArray());
        _log?.Invoke($"{_plan.Sync.Algorithm}: {_result.ParameterCount:N0} parameters, {_collectives.TotalWorkers} workers" +
                     (_collectives.ProcessCount > 1 ? $" on {_collectives.ProcessCount} MPI ranks" : $" on {string.Join(", ", devices.Select(d => d.ToString()))}") + ", " +
                     $"{_fragments.Count} fragments ({string.Join("; ", _fragments.Names)}), {_inputs.Train.Count:N0} training windows of {_plan.Model.ContextLength} tokens");
        var shards = WorkerShards.Deal(_inputs.Train.Count, _collectives.TotalWorkers, _seed);
        var initial = _result.parameters().ToArray();
        _workers = new DiLoCoWorker[LocalWorkers];
        for (int l = 0; l < LocalWorkers; l++)
        {
            int r = FirstWorker + l; // the global worker index decides device, shard and sampling seed
            var device = WorkerDevices.Of(devices, WorkerDevices.SlotOf(l, LocalWorkers, _collectives.Mpi is not null, Environment.GetEnvironmentVariable));
            var replicaModel = new TransformerLanguageModel(_plan.Model, _inputs.VocabularySize);
            replicaModel.to(device);
            var sampler = new BatchSampler(_inputs.Train, shards[r], _plan.BatchSize, unchecked(_seed * 7919 + r + 1));
            _workers[l] = new DiLoCoWorker(r, new TransformerReplica(replicaModel, sampler, device), _collectives.Workers[l], settings, initial);
        }
        _evaluator = _inputs.Validation is null || _collectives.ProcessRank != 0
            ? null : new ValidationEvaluator(_inputs.Validation, _plan.Evaluation.MaximumTokens, _plan.BatchSize);
    }

    /// <summary>Runs the inner steps on threads (restoring a checkpoint first); returns the training wall time in seconds.</summary>
    private double TrainWorkers(out LiveWorkers live, out TrainingMetrics.Recorder metrics)
    {
        var checkpoints = _plan.Checkpoints is null ? null : new RunCheckpoints(_plan, _hooks.Cancellation, _workers,
            Synchronises ? _plan.Sync.Schedule : null,
            OptionsFingerprint.Of(_plan, _inputs.VocabularySize, _result.ParameterCount, _inputs.Train, _inputs.Validation, _start),
            _seed, FirstWorker, _points, _log, _collectives.Mpi, _collectives.TotalWorkers);
        long resumedStep = _resume is { } r0 && checkpoints is not null ? checkpoints.Resume(r0.Checkpoint, r0.Path, _collectives.TotalWorkers) : 0;
        _resume?.Checkpoint.Dispose(); // restored: its tensors were read from the file(s) it keeps open
        live = CreateLiveWorkers(checkpoints, resumedStep);
        metrics = new TrainingMetrics.Recorder(_collectives.Workers, _workers[0].Statistics); // dotnet-counters, OpenTelemetry
        int cores = Math.Max(1, Environment.ProcessorCount / (LocalWorkers * (_collectives.Mpi is null ? 1 : Communication.MpiRuntime.LocalRanks)));
        var clock = Stopwatch.StartNew(); // the training wall time includes the evaluations (the report subtracts them)
        var observe = Observer(live, metrics, clock, fromScratch: resumedStep == 0);
        WorkerThreads.Run(_workers, _plan.TrainingSteps, _collectives.Abort, checkpoints is null ? observe : checkpoints.Around(observe, _collectives.Workers),
            checkpoints is null ? _hooks.Cancellation : CancellationToken.None, // with checkpoints, cancellation stops at a checkpoint
            threadsPerWorker: _plan.Deterministic ? 1 : cores, firstStep: resumedStep + 1, live: live);
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>OnWorkerFailure (docs/reliability.md): which workers still train, and which one evaluates θ̂ (worker 0 until it is dropped).</summary>
    private LiveWorkers CreateLiveWorkers(RunCheckpoints? checkpoints, long resumedStep)
    {
        var live = new LiveWorkers(_plan.OnWorkerFailure, LocalWorkers, FirstWorker,
            _plan.OnWorkerFailure == WorkerFailurePolicy.Continue ? _collectives.Leave : null, _log, resumedStep + 1)
        { InjectedFault = _hooks.InjectedWorkerFault };
        if (checkpoints is not null)
        {
            live.Dropped = checkpoints.WorkerDropped;
            live.CheckpointNote = () => checkpoints.LastWritten is { } path
                ? $"The newest checkpoint is {path}: Fit again with the same options and CheckpointDirectory to resume from it."
                : "No checkpoint was written before the failure.";
        }
        return live;
    }

    /// <summary>What the lead worker does after each step: evaluate θ̂ on schedule, then a small record for progress and metrics.</summary>
    private Action<int, long> Observer(LiveWorkers live, TrainingMetrics.Recorder metrics, Stopwatch clock, bool fromScratch)
    {
        long resumedTokens = _workers[0].Statistics.Tokens; // a resumed run's throughput counts only its own tokens
        if (fromScratch) Evaluate(0, 0, metrics);
        return (localIndex, t) =>
        {
            bool evaluates = t % _plan.Evaluation.Interval == 0 && t < _plan.TrainingSteps;
            if (!live.Leads(localIndex, t, settle: evaluates)) return;
            if (evaluates) Evaluate(t, localIndex, metrics);
            var stats = _workers[localIndex].Statistics;
            double tokensPerSecond = (stats.Tokens - resumedTokens) * _collectives.TotalWorkers / Math.Max(clock.Elapsed.TotalSeconds - _evaluationSeconds, 1e-9);
            metrics.Step(stats, tokensPerSecond);
            _progress?.Invoke(new TrainingProgress(t, _plan.TrainingSteps, stats.Losses[^1], tokensPerSecond, _collectives.Workers[localIndex].BytesSent, clock.Elapsed)
                { ValidationLoss = _points.Count > 0 ? _points[^1].Loss : double.NaN });
        };
    }

    /// <summary>Scores θ̂ (as held by the worker with local index <paramref name="lead"/>) on the validation windows, rank 0 only.</summary>
    private void Evaluate(long step, int lead, TrainingMetrics.Recorder? metrics)
    {
        if (_evaluator is null) return;
        var started = Stopwatch.GetTimestamp();
        CopyInto(_workers[lead].OuterParameters, _result);
        double loss = _evaluator.Evaluate(_result, CPU);
        _points.Add(new ValidationPoint(step, loss, Math.Exp(loss), _evaluator.TokenCount));
        metrics?.Validation(loss);
        _evaluationSeconds += Stopwatch.GetElapsedTime(started).TotalSeconds;
        // The last point is scored after Finish: with another FinalModel it is of the model Fit returns, no longer θ̂ as it stood.
        string model = step == _plan.TrainingSteps && Synchronises && _plan.Sync.FinalModel != FinalModel.OuterParameters ? $"the returned model ({_plan.Sync.FinalModel})" : "θ̂";
        _log?.Invoke($"step {step}: validation loss of {model} {loss:F4} (perplexity {Math.Exp(loss):F2})");
    }

    private static void CopyInto(IReadOnlyList<Tensor> source, TransformerLanguageModel target)
    {
        using var _ = no_grad();
        var parameters = target.parameters().ToArray();
        for (int i = 0; i < parameters.Length; i++) parameters[i].copy_(source[i]);
    }

    /// <summary>θ0 ← the fine-tuning weights when given (shapes checked by the edge); returns "random" or their digest.</summary>
    private static string StartFrom(TransformerLanguageModel model, IReadOnlyList<Tensor>? initialWeights)
    {
        if (initialWeights is null) return "random";
        var parameters = model.parameters().ToArray();
        if (parameters.Length != initialWeights.Count)
            throw new ArgumentException($"The model to fine-tune has {initialWeights.Count} parameters; this architecture has {parameters.Length}.", nameof(initialWeights));
        using (no_grad())
            for (int i = 0; i < parameters.Length; i++) parameters[i].copy_(initialWeights[i]);
        return ParameterDigest.Of(parameters);
    }
}
