using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Data;
using Microsoft.ML.DiLoCo.Model;
using Microsoft.ML.DiLoCo.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// One training run of a transformer language model: builds θ0, the fragment plan and this process's workers on
/// their shards, runs them on threads, evaluates θ̂ on the validation windows, and returns θ̂ as a model with the
/// report. In-process, the process runs all M workers; under MPI, each rank runs its own workers (numbered globally,
/// so the data shards, sampling seeds and θ̂ are those of the in-process run with M workers), checks first that every
/// rank has the same settings and data, and gathers every worker's numbers into the report at the end.
/// Knows nothing about ML.NET (the trainer is the edge).
/// </summary>
internal static class LanguageModelTrainingRun
{
    public static (TransformerLanguageModel Model, TrainingReport Report) Train(
        StreamingDiLoCoTrainer.Options o, int vocabularySize, PackedWindows train, PackedWindows? validation, int seed,
        IReadOnlyList<Tensor>? initialWeights = null, Action<string>? log = null, Action<TrainingProgress>? progress = null)
    {
        var (fragments, overlap, alpha) = StreamingDiLoCoTrainer.Validate(o);
        var devices = WorkerDevices.Parse(o.Devices);
        // Checkpoints (docs/reliability.md): the newest valid one of CheckpointDirectory, whose seed this run keeps (under MPI: chosen by all ranks below).
        var resume = Checkpointing.RunCheckpoints.LoadNewest(o, log);
        seed = Checkpointing.RunCheckpoints.SeedOf(o, seed, resume?.Checkpoint);
        using var collectives = WorkerCollectives.Create(o);
        int local = collectives.Workers.Length, m = collectives.TotalWorkers, first = collectives.FirstWorker;
        bool root = collectives.ProcessRank == 0;
        if (!root) { log = null; progress = null; } // one voice per job: rank 0 speaks

        // θ0: one initialisation, copied into every worker; this module ends up holding the fitted θ̂.
        torch.manual_seed(seed);
        var result = new TransformerLanguageModel(o.Model, vocabularySize);
        string start = StartFrom(result, initialWeights);
        var names = result.named_parameters().Select(p => p.name).ToArray();
        if (collectives.Mpi is { } mpi)
        {
            try { RankConsistency.Check(mpi, RankConsistency.Describe(o, vocabularySize, result.ParameterCount, train, validation, seed, start)); }
            catch { result.Dispose(); throw; } // every rank sees the same descriptions, so every rank throws here: no abort needed
            try
            {
                // Under MPI the ranks choose the checkpoint together; θ0 above is overwritten by it, the seed decides shards and samplers below.
                resume = Checkpointing.RunCheckpoints.LoadAgreed(o, mpi, first, local, m, log);
                seed = Checkpointing.RunCheckpoints.SeedOf(o, seed, resume?.Checkpoint);
            }
            catch (Exception e) { result.Dispose(); collectives.Abort(e); throw; } // as any failure under MPI: no rank is left waiting
        }

        var plan = FragmentPlan.ForBlocks(names, TransformerLanguageModel.BlockIndexOf, o.Model.NumberOfLayers, fragments,
            o.FragmentPattern, o.NonBlockParameters);
        var schedule = o.Algorithm == TrainingAlgorithm.DataParallel ? new SyncSchedule(1, 1, 0) : new SyncSchedule(o.InnerSteps, fragments, overlap);
        var lr = new LearningRateSchedule(o.InnerLearningRate, Math.Min(o.WarmupSteps, o.TrainingSteps), o.TrainingSteps, o.InnerLearningRate * o.MinimumLearningRateRatio);
        var settings = new WorkerSettings(o.Algorithm, schedule, plan, alpha, WireCodecs.Create(o.WireFormat, o.Float4BlockSize), o.ErrorFeedback,
            InnerOptimization.AdamW(lr, o.Beta1, o.Beta2, o.WeightDecay, o.GradientClipNorm),
            OuterOptimization.Nesterov(o.OuterLearningRate, o.OuterMomentum), o.NonFiniteValuePolicy);
        log?.Invoke($"{o.Algorithm}: {result.ParameterCount:N0} parameters, {m} workers" +
                    (collectives.ProcessCount > 1 ? $" on {collectives.ProcessCount} MPI ranks" : $" on {string.Join(", ", devices.Select(d => d.ToString()))}") + ", " +
                    $"{plan.Count} fragments ({string.Join("; ", plan.Names)}), {train.Count:N0} training windows of {o.Model.ContextLength} tokens");

        var shards = WorkerShards.Deal(train.Count, m, seed);
        var metered = collectives.Workers;
        var initial = result.parameters().ToArray();
        var workers = new DiLoCoWorker[local];
        try
        {
            for (int l = 0; l < local; l++)
            {
                int r = first + l; // the global worker index decides device, shard and sampling seed
                var device = WorkerDevices.Of(devices, WorkerDevices.SlotOf(l, local, collectives.Mpi is not null, Environment.GetEnvironmentVariable));
                var replicaModel = new TransformerLanguageModel(o.Model, vocabularySize);
                replicaModel.to(device);
                var sampler = new BatchSampler(train, shards[r], o.BatchSize, unchecked(seed * 7919 + r + 1));
                workers[l] = new DiLoCoWorker(r, new TransformerReplica(replicaModel, sampler, device), metered[l], settings, initial);
            }

            var evaluator = validation is null || !root ? null : new ValidationEvaluator(validation, o.MaximumValidationTokens, o.BatchSize);
            var points = new List<ValidationPoint>();
            // Checkpoints: restore before the loop; written from the after-step callback (Checkpointing/RunCheckpoints.cs).
            var checkpoints = o.CheckpointDirectory is null ? null : new Checkpointing.RunCheckpoints(o, workers,
                o.Algorithm == TrainingAlgorithm.DataParallel ? null : schedule,
                Checkpointing.OptionsFingerprint.Of(o, vocabularySize, result.ParameterCount, train, validation, start), seed, first, points, log, collectives.Mpi, m);
            long resumedStep = resume is { } r0 && checkpoints is not null ? checkpoints.Resume(r0.Checkpoint, r0.Path, m) : 0;
            resume?.Checkpoint.Dispose(); // restored: its tensors were read from the file(s) it keeps open
            // OnWorkerFailure (docs/reliability.md): which workers still train, and which one evaluates θ̂ (worker 0 until it is dropped).
            var live = new LiveWorkers(o.OnWorkerFailure, local, first, o.OnWorkerFailure == WorkerFailurePolicy.Continue ? collectives.Leave : null,
                log, resumedStep + 1) { InjectedFault = o.InjectedWorkerFault };
            if (checkpoints is not null)
            {
                live.Dropped = checkpoints.WorkerDropped;
                live.CheckpointNote = () => checkpoints.LastWritten is { } path
                    ? $"The newest checkpoint is {path}: Fit again with the same options and CheckpointDirectory to resume from it."
                    : "No checkpoint was written before the failure.";
            }
            double evaluationSeconds = 0;
            var metrics = new TrainingMetrics.Recorder(metered, workers[0].Statistics); // dotnet-counters, OpenTelemetry
            long resumedTokens = workers[0].Statistics.Tokens; // a resumed run's throughput counts only its own tokens
            void Evaluate(long step, int lead)
            {
                if (evaluator is null) return;
                var started = Stopwatch.GetTimestamp();
                CopyInto(workers[lead].OuterParameters, result);
                double loss = evaluator.Evaluate(result, CPU);
                points.Add(new ValidationPoint(step, loss, Math.Exp(loss), evaluator.TokenCount));
                metrics.Validation(loss);
                evaluationSeconds += Stopwatch.GetElapsedTime(started).TotalSeconds;
                log?.Invoke($"step {step}: validation loss of θ̂ {loss:F4} (perplexity {Math.Exp(loss):F2})");
            }

            int cores = Math.Max(1, Environment.ProcessorCount / (local * (collectives.Mpi is null ? 1 : MpiRuntime.LocalRanks)));
            var clock = Stopwatch.StartNew();
            if (resumedStep == 0) Evaluate(0, 0);
            Action<int, long> observe = (localIndex, t) =>
            {
                bool evaluates = t % o.EvaluationInterval == 0 && t < o.TrainingSteps;
                if (!live.Leads(localIndex, t, settle: evaluates)) return;
                if (evaluates) Evaluate(t, localIndex);
                // Every step: a small record; the listeners (progress, metrics) decide what to show.
                var stats = workers[localIndex].Statistics;
                double tokensPerSecond = (stats.Tokens - resumedTokens) * m / Math.Max(clock.Elapsed.TotalSeconds - evaluationSeconds, 1e-9);
                metrics.Step(stats, tokensPerSecond);
                progress?.Invoke(new TrainingProgress(t, o.TrainingSteps, stats.Losses[^1], tokensPerSecond, metered[localIndex].BytesSent, clock.Elapsed)
                    { ValidationLoss = points.Count > 0 ? points[^1].Loss : double.NaN });
            };
            WorkerThreads.Run(workers, o.TrainingSteps, collectives.Abort, checkpoints is null ? observe : checkpoints.Around(observe, metered),
                checkpoints is null ? o.CancellationToken : CancellationToken.None, // with checkpoints, cancellation stops at a checkpoint
                threadsPerWorker: o.Deterministic ? 1 : cores, firstStep: resumedStep + 1, live: live);
            double trainingWall = clock.Elapsed.TotalSeconds;

            int lead = live.Lead; // a live worker: θ̂ is bit-identical on every live one
            CopyInto(workers[lead].OuterParameters, result); // the fitted model is θ̂ (the paper's Table 3: best)
            Evaluate(o.TrainingSteps, lead);
            var survivors = workers.Where((w, l) => live.WasLiveAt(first + l, o.TrainingSteps)).ToArray(); // replica "0" = the lead's
            var replicas = evaluator is null || o.Algorithm == TrainingAlgorithm.DataParallel || collectives.Mpi is not null
                ? null : EvaluateReplicas(survivors, o.Model, vocabularySize, evaluator, ref evaluationSeconds);

            var mine = workers.Select((w, l) => new WorkerNumbers(
                new WorkerCost(first + l, metered[l].BytesSent, metered[l].BytesReceived, metered[l].LargestMessageBytes,
                    w.Statistics.ComputeSeconds, w.Statistics.CommunicationWaitSeconds, w.Statistics.Tokens,
                    w.Statistics.WallSeconds - w.Statistics.ObserverSeconds, w.Statistics.SyncSeconds),
                w.Statistics.Losses.ToArray())).ToArray();
            var everyone = collectives.Mpi is null ? mine : GatherWorkerNumbers(collectives.Mpi, mine, ref points, ref evaluationSeconds);

            var report = new TrainingReport
            {
                Algorithm = o.Algorithm,
                WireFormat = o.Algorithm == TrainingAlgorithm.DataParallel ? WireFormat.Float32 : o.WireFormat,
                NumberOfWorkers = m,
                InnerSteps = o.Algorithm == TrainingAlgorithm.DataParallel ? 1 : o.InnerSteps,
                NumberOfFragments = plan.Count,
                OverlapSteps = overlap,
                MixingAlpha = alpha,
                Steps = o.TrainingSteps,
                ParameterCount = result.ParameterCount,
                FragmentNames = plan.Names.ToArray(),
                FragmentSizes = plan.Fragments.Select(f => f.Sum(i => initial[i].numel())).ToArray(),
                MeanInnerLoss = Enumerable.Range(0, o.TrainingSteps)
                    .Select(t => everyone.Where(w => live.WasLiveAt(w.Cost.Worker, t + 1)).Average(w => w.Losses[t])).Select(x => (float)x).ToArray(),
                InnerLossPerWorker = everyone.Select(w => (IReadOnlyList<float>)w.Losses).ToArray(),
                Validation = points,
                Replicas = replicas,
                Syncs = workers[lead].Statistics.Syncs.ToArray(),
                SkippedContributions = workers[lead].Statistics.SkippedContributions,
                WorkerFailures = live.Failures,
                Workers = everyone.Select(w => w.Cost).ToArray(),
                WallSeconds = trainingWall,
                EvaluationSeconds = evaluationSeconds,
                Transport = o.Transport,
                Rank = collectives.ProcessRank,
                Ranks = collectives.ProcessCount,
            };
            metrics.Finish(workers[lead].Statistics, report);
            return (result, report);
        }
        catch (Exception e)
        {
            if (collectives.Mpi is not null) collectives.Abort(e);
            result.Dispose();
            throw;
        }
        finally
        {
            foreach (var w in workers) w?.Dispose();
        }
    }

    /// <summary>What one worker contributes to the report.</summary>
    private sealed record WorkerNumbers(WorkerCost Cost, float[] Losses);

    /// <summary>What one rank sends at the end: its workers' numbers, and (rank 0) the validation curve of θ̂.</summary>
    private sealed record RankNumbers(WorkerNumbers[] Workers, List<ValidationPoint> Validation, double EvaluationSeconds);

    /// <summary>Every rank gets every worker's numbers in global order, and rank 0's validation points (θ̂ is the same everywhere).</summary>
    private static WorkerNumbers[] GatherWorkerNumbers(ICollective mpi, WorkerNumbers[] mine, ref List<ValidationPoint> points, ref double evaluationSeconds)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(new RankNumbers(mine, points, evaluationSeconds));
        var gathered = mpi.AllGatherAsync(payload).GetAwaiter().GetResult()
            .Select(b => JsonSerializer.Deserialize<RankNumbers>(b.Span)!).ToArray();
        points = gathered[0].Validation;
        evaluationSeconds = gathered[0].EvaluationSeconds;
        return gathered.SelectMany(g => g.Workers).ToArray();
    }

    /// <summary>The paper's Table 3 comparison: the loss of replica 0 and of the replicas' parameter mean, on θ̂'s validation windows.</summary>
    private static ReplicaValidation EvaluateReplicas(DiLoCoWorker[] workers, TransformerOptions shape, int vocabularySize,
        ValidationEvaluator evaluator, ref double evaluationSeconds)
    {
        var started = Stopwatch.GetTimestamp();
        using var probe = new TransformerLanguageModel(shape, vocabularySize);
        CopyInto(workers[0].ReplicaParameters, probe);
        double replica0 = evaluator.Evaluate(probe, CPU);
        using (no_grad())
        {
            using var count = workers.Length.ToScalar();
            var parameters = probe.parameters().ToArray();
            for (int i = 0; i < parameters.Length; i++)
            {
                using var scope = NewDisposeScope();
                parameters[i].zero_();
                // Summed in worker order in FP32, then divided: the same mean whatever the threads did.
                foreach (var w in workers) parameters[i].add_(w.ReplicaParameters[i].to(ScalarType.Float32, CPU), ConstantScalars.One);
                parameters[i].div_(count);
            }
        }
        double mean = evaluator.Evaluate(probe, CPU);
        evaluationSeconds += Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new ReplicaValidation(replica0, mean, workers.Length);
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
