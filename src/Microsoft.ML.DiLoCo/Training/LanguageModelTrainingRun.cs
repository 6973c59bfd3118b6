using System.Diagnostics;
using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Data;
using Microsoft.ML.DiLoCo.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// One training run of a transformer language model with in-process workers: builds θ0, the fragment plan and
/// M workers on their shards, runs them on threads, evaluates θ̂ on the validation windows, and returns θ̂ as a
/// model with the report. Knows nothing about ML.NET (the trainer is the edge).
/// </summary>
internal static class LanguageModelTrainingRun
{
    public static (TransformerLanguageModel Model, TrainingReport Report) Train(
        StreamingDiLoCoTrainer.Options o, int vocabularySize, PackedWindows train, PackedWindows? validation, int seed,
        Action<string>? log = null, Action<TrainingProgress>? progress = null)
    {
        var (fragments, overlap, alpha) = StreamingDiLoCoTrainer.Validate(o);
        var devices = WorkerDevices.Parse(o.Devices);
        int m = o.NumberOfWorkers;

        // θ0: one initialisation, copied into every worker; this module ends up holding the fitted θ̂.
        torch.manual_seed(seed);
        var result = new TransformerLanguageModel(o.Model, vocabularySize);
        var names = result.named_parameters().Select(p => p.name).ToArray();
        var plan = FragmentPlan.ForBlocks(names, TransformerLanguageModel.BlockIndexOf, o.Model.NumberOfLayers, fragments,
            o.FragmentPattern, o.NonBlockParameters);
        var schedule = o.Algorithm == TrainingAlgorithm.DataParallel ? new SyncSchedule(1, 1, 0) : new SyncSchedule(o.InnerSteps, fragments, overlap);
        var lr = new LearningRateSchedule(o.InnerLearningRate, Math.Min(o.WarmupSteps, o.TrainingSteps), o.TrainingSteps, o.InnerLearningRate * o.MinimumLearningRateRatio);
        var settings = new WorkerSettings(o.Algorithm, schedule, plan, alpha, WireCodecs.Create(o.WireFormat, o.Float4BlockSize), o.ErrorFeedback,
            InnerOptimization.AdamW(names, lr, o.Beta1, o.Beta2, o.WeightDecay, o.GradientClipNorm),
            OuterOptimization.Nesterov(o.OuterLearningRate, o.OuterMomentum));
        log?.Invoke($"{o.Algorithm}: {result.ParameterCount:N0} parameters, {m} workers on {string.Join(", ", devices.Select(d => d.ToString()))}, " +
                    $"{plan.Count} fragments ({string.Join("; ", plan.Names)}), {train.Count:N0} training windows of {o.Model.ContextLength} tokens");

        var shards = WorkerShards.Deal(train.Count, m, seed);
        var group = InProcessCollective.CreateGroup(m);
        var metered = group.Select(c => new MeteredCollective(c)).ToArray();
        var initial = result.parameters().ToArray();
        var workers = new DiLoCoWorker[m];
        try
        {
            for (int r = 0; r < m; r++)
            {
                var device = WorkerDevices.Of(devices, r);
                var replicaModel = new TransformerLanguageModel(o.Model, vocabularySize);
                replicaModel.to(device);
                var sampler = new BatchSampler(train, shards[r], o.BatchSize, unchecked(seed * 7919 + r + 1));
                workers[r] = new DiLoCoWorker(r, new TransformerReplica(replicaModel, sampler, device), metered[r], settings, initial);
            }

            var evaluator = validation is null ? null : new ValidationEvaluator(validation, o.MaximumValidationTokens, o.BatchSize);
            var points = new List<ValidationPoint>();
            double evaluationSeconds = 0;
            void Evaluate(long step)
            {
                if (evaluator is null) return;
                var started = Stopwatch.GetTimestamp();
                CopyInto(workers[0].OuterParameters, result);
                double loss = evaluator.Evaluate(result, CPU);
                points.Add(new ValidationPoint(step, loss, Math.Exp(loss), evaluator.TokenCount));
                evaluationSeconds += Stopwatch.GetElapsedTime(started).TotalSeconds;
                log?.Invoke($"step {step}: validation loss of θ̂ {loss:F4} (perplexity {Math.Exp(loss):F2})");
            }

            var clock = Stopwatch.StartNew();
            Evaluate(0);
            WorkerThreads.Run(workers, o.TrainingSteps, e => ((InProcessCollective)group[0]).Abort(e), (rank, t) =>
            {
                if (rank != 0) return;
                if (t % o.EvaluationInterval == 0 && t < o.TrainingSteps) Evaluate(t);
                if (progress is not null) // every step: a small record; the listener decides what to show
                {
                    var stats = workers[0].Statistics;
                    double seconds = clock.Elapsed.TotalSeconds - evaluationSeconds;
                    progress(new TrainingProgress(t, o.TrainingSteps, stats.Losses[^1], stats.Tokens * m / Math.Max(seconds, 1e-9), metered[0].BytesSent, clock.Elapsed));
                }
            }, o.CancellationToken, threadsPerWorker: o.Deterministic ? 1 : Math.Max(1, Environment.ProcessorCount / m));
            double trainingWall = clock.Elapsed.TotalSeconds;

            CopyInto(workers[0].OuterParameters, result); // the fitted model is θ̂ (the paper's Table 3: best)
            Evaluate(o.TrainingSteps);

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
                MeanInnerLoss = Enumerable.Range(0, o.TrainingSteps).Select(t => workers.Average(w => w.Statistics.Losses[t])).Select(x => (float)x).ToArray(),
                InnerLossPerWorker = workers.Select(w => (IReadOnlyList<float>)w.Statistics.Losses.ToArray()).ToArray(),
                Validation = points,
                Syncs = workers[0].Statistics.Syncs.ToArray(),
                Workers = workers.Select((w, r) => new WorkerCost(r, metered[r].BytesSent, metered[r].BytesReceived, metered[r].LargestMessageBytes,
                    w.Statistics.ComputeSeconds, w.Statistics.CommunicationWaitSeconds, w.Statistics.Tokens,
                    w.Statistics.WallSeconds - w.Statistics.ObserverSeconds, w.Statistics.ComputeUtilisation)).ToArray(),
                WallSeconds = trainingWall,
                EvaluationSeconds = evaluationSeconds,
            };
            return (result, report);
        }
        catch
        {
            result.Dispose();
            throw;
        }
        finally
        {
            foreach (var w in workers) w?.Dispose();
            foreach (var c in group) c.Dispose();
        }
    }

    private static void CopyInto(IReadOnlyList<Tensor> source, TransformerLanguageModel target)
    {
        using var _ = no_grad();
        var parameters = target.parameters().ToArray();
        for (int i = 0; i < parameters.Length; i++) parameters[i].copy_(source[i]);
    }
}
