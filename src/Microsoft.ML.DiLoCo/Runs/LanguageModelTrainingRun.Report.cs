using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Model;
using Microsoft.ML.DiLoCo.Numerics;
using Microsoft.ML.DiLoCo.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Runs;

internal sealed partial class LanguageModelTrainingRun
{
    /// <summary>What one worker contributes to the report.</summary>
    private sealed record WorkerNumbers(WorkerCost Cost, float[] Losses);

    /// <summary>What one rank sends at the end: its workers' numbers, and (rank 0) the validation curve of θ̂.</summary>
    private sealed record RankNumbers(WorkerNumbers[] Workers, List<ValidationPoint> Validation, double EvaluationSeconds);

    /// <summary>θ̂ into the fitted model, its final evaluation, the replicas' (the paper's Table 3) and the report of every worker.</summary>
    private (TransformerLanguageModel Model, TrainingReport Report) Finish(LiveWorkers live, TrainingMetrics.Recorder metrics, double trainingWall)
    {
        int lead = live.Lead; // a live worker: θ̂ is bit-identical on every live one
        CopyInto(_workers[lead].OuterParameters, _result); // the fitted model is θ̂ (the paper's Table 3: best)
        Evaluate(_plan.TrainingSteps, lead, metrics);
        var survivors = _workers.Where((w, l) => live.WasLiveAt(FirstWorker + l, _plan.TrainingSteps)).ToArray(); // replica "0" = the lead's
        var replicas = _evaluator is null || !Synchronises || _collectives.Mpi is not null ? null : EvaluateReplicas(survivors);

        var metered = _collectives.Workers;
        var mine = _workers.Select((w, l) => new WorkerNumbers(
            new WorkerCost(FirstWorker + l, metered[l].BytesSent, metered[l].BytesReceived, metered[l].LargestMessageBytes,
                w.Statistics.ComputeSeconds, w.Statistics.CommunicationWaitSeconds, w.Statistics.Tokens,
                w.Statistics.WallSeconds - w.Statistics.ObserverSeconds, w.Statistics.SyncSeconds),
            w.Statistics.Losses.ToArray())).ToArray();
        var everyone = _collectives.Mpi is null ? mine : GatherWorkerNumbers(_collectives.Mpi, mine);
        var report = Report(live, lead, everyone, replicas, trainingWall);
        metrics.Finish(_workers[lead].Statistics, report);
        return (_result, report);
    }

    private TrainingReport Report(LiveWorkers live, int lead, WorkerNumbers[] everyone, ReplicaValidation? replicas, double trainingWall)
    {
        var sync = _plan.Sync;
        var initial = _result.parameters().ToArray();
        return new TrainingReport
        {
            Algorithm = sync.Algorithm,
            WireFormat = sync.WireFormat,
            NumberOfWorkers = _collectives.TotalWorkers,
            InnerSteps = sync.InnerSteps,
            NumberOfFragments = _fragments.Count,
            OverlapSteps = sync.OverlapSteps,
            MixingAlpha = sync.MixingAlpha,
            Steps = _plan.TrainingSteps,
            ParameterCount = _result.ParameterCount,
            FragmentNames = _fragments.Names.ToArray(),
            FragmentSizes = _fragments.Fragments.Select(f => f.Sum(i => initial[i].numel())).ToArray(),
            MeanInnerLoss = Enumerable.Range(0, _plan.TrainingSteps)
                .Select(t => everyone.Where(w => live.WasLiveAt(w.Cost.Worker, t + 1)).Average(w => w.Losses[t])).Select(x => (float)x).ToArray(),
            InnerLossPerWorker = everyone.Select(w => (IReadOnlyList<float>)w.Losses).ToArray(),
            Validation = _points,
            Replicas = replicas,
            Syncs = _workers[lead].Statistics.Syncs.ToArray(),
            SkippedContributions = _workers[lead].Statistics.SkippedContributions,
            WorkerFailures = live.Failures,
            Workers = everyone.Select(w => w.Cost).ToArray(),
            WallSeconds = trainingWall,
            EvaluationSeconds = _evaluationSeconds,
            Transport = _plan.Process.Transport,
            Rank = _collectives.ProcessRank,
            Ranks = _collectives.ProcessCount,
        };
    }

    /// <summary>Every rank gets every worker's numbers in global order, and rank 0's validation points (θ̂ is the same everywhere).</summary>
    private WorkerNumbers[] GatherWorkerNumbers(ICollective mpi, WorkerNumbers[] mine)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(new RankNumbers(mine, _points, _evaluationSeconds));
        var gathered = mpi.AllGatherAsync(payload).GetAwaiter().GetResult()
            .Select(b => JsonSerializer.Deserialize<RankNumbers>(b.Span)!).ToArray();
        _points.Clear();
        _points.AddRange(gathered[0].Validation);
        _evaluationSeconds = gathered[0].EvaluationSeconds;
        return gathered.SelectMany(g => g.Workers).ToArray();
    }

    /// <summary>The paper's Table 3 comparison: the loss of replica 0 and of the replicas' parameter mean, on θ̂'s validation windows.</summary>
    private ReplicaValidation EvaluateReplicas(DiLoCoWorker[] workers)
    {
        var started = Stopwatch.GetTimestamp();
        using var probe = new TransformerLanguageModel(_plan.Model, _inputs.VocabularySize);
        CopyInto(workers[0].ReplicaParameters, probe);
        double replica0 = _evaluator!.Evaluate(probe, CPU);
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
        double mean = _evaluator.Evaluate(probe, CPU);
        _evaluationSeconds += Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new ReplicaValidation(replica0, mean, workers.Length);
    }
}
