using Microsoft.ML.DiLoCo.Runs;
using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Training;
using Microsoft.ML.DiLoCo.Training.Optimizers;
using TorchSharp;

namespace Microsoft.ML.DiLoCo.Tests.Training;

/// <summary>Builds M in-process workers around the real engine and records their weights after every step.</summary>
internal static class EngineHarness
{
    /// <returns>trace[rank][t] = replica weights after t steps (t = 0 is the start); global[rank][t] = θ̂.</returns>
    /// <param name="wrap">Puts something between a worker (by rank) and its collective, e.g. a faulty peer; null: nothing.</param>
    public static (float[][][] Replica, float[][][] Global, DiLoCoWorker[] Workers) Run(
        Func<int, IReplica> replicaOf, int workers, WorkerSettings settings, int steps, Func<int, ICollective, ICollective>? wrap = null)
    {
        var group = InProcessCollective.CreateGroup(workers);
        var metered = group.Select((c, r) => new MeteredCollective(wrap is null ? c : wrap(r, c))).ToArray();
        var all = Enumerable.Range(0, workers).Select(r => new DiLoCoWorker(r, replicaOf(r), metered[r], settings)).ToArray();
        var replica = new float[workers][][];
        var global = new float[workers][][];
        for (int r = 0; r < workers; r++)
        {
            replica[r] = new float[steps + 1][];
            global[r] = new float[steps + 1][];
            replica[r][0] = Flatten(all[r].ReplicaParameters);
            global[r][0] = Flatten(all[r].OuterParameters);
        }
        WorkerThreads.Run(all, steps, e => ((InProcessCollective)group[0]).Abort(e), (rank, t) =>
        {
            if (t == steps) return; // recorded after Finish below
            replica[rank][t] = Flatten(all[rank].ReplicaParameters);
            global[rank][t] = Flatten(all[rank].OuterParameters);
        });
        for (int r = 0; r < workers; r++)
        {
            replica[r][steps] = Flatten(all[r].ReplicaParameters);
            global[r][steps] = Flatten(all[r].OuterParameters);
        }
        return (replica, global, all);
    }

    public static float[] Flatten(IEnumerable<torch.Tensor> parameters) =>
        parameters.SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray();

    public static WorkerSettings GoldenSettings(float alpha, int tau, int innerSteps = 6, int fragments = 2, double outerLr = 2, double outerMomentum = 0) => new(
        TrainingAlgorithm.StreamingDiLoCo,
        new SyncSchedule(innerSteps, fragments, tau),
        FragmentPlan.Explicit(fragments, Enumerable.Range(0, fragments).Select(i => new[] { i }).ToArray()),
        alpha,
        WireCodecs.Create(WireFormat.Float32),
        ErrorFeedback: false,
        new InnerOptimization(ps => new SgdOptimizer(ps, 1.0)),
        OuterOptimization.Nesterov(outerLr, outerMomentum));
}
