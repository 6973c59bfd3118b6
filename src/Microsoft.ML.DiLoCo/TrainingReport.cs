using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.DiLoCo;

/// <summary>A validation loss of the outer parameters θ̂.</summary>
public sealed record ValidationPoint(long Step, double Loss, double Perplexity, long Tokens);

/// <summary>
/// Validation loss at the end of training of what else could have been returned instead of θ̂ (the paper's Table 3):
/// worker 0's live replica θ_0 and the parameter average of the workers' replicas, on the same validation windows as
/// <see cref="TrainingReport.Validation"/>.
/// </summary>
/// <param name="Replica0Loss">Validation loss of worker 0's live parameters θ_0 (after worker failures: the lowest live worker's).</param>
/// <param name="ReplicaMeanLoss">Validation loss of the element-wise mean of the workers' live parameters.</param>
/// <param name="Replicas">How many replicas the average covers (this process's workers still training at the end).</param>
public sealed record ReplicaValidation(double Replica0Loss, double ReplicaMeanLoss, int Replicas);

/// <summary>What one worker sent, received and spent.</summary>
/// <param name="WallSeconds">The worker's training wall time, evaluation and progress callbacks excluded.</param>
/// <param name="SyncSeconds">Seconds of the outer sync's own work (launch and apply: difference, encoding, decoding, averaging,
/// outer step, merge), excluding the time blocked waiting for the exchange; 0 in data-parallel mode.</param>
public sealed record WorkerCost(int Worker, long BytesSent, long BytesReceived, long LargestMessageBytes,
    double ComputeSeconds, double CommunicationWaitSeconds, long Tokens, double WallSeconds, double SyncSeconds = 0)
{
    /// <summary>Compute time over the worker's training wall time (evaluation excluded): 1 when it never waited.</summary>
    public double ComputeUtilisation => WallSeconds <= 0 ? double.NaN : ComputeSeconds / WallSeconds;
}

/// <summary>
/// What a training run did and what it cost: losses, validation of θ̂, every sync, bytes on the wire beside the
/// data-parallel equivalent, and compute utilisation. Serialises to JSON with <see cref="ToJson"/>.
/// </summary>
public sealed class TrainingReport
{
    public TrainingAlgorithm Algorithm { get; init; }
    public WireFormat WireFormat { get; init; }
    public int NumberOfWorkers { get; init; }
    public int InnerSteps { get; init; }
    public int NumberOfFragments { get; init; }
    public int OverlapSteps { get; init; }
    public float MixingAlpha { get; init; }
    public long Steps { get; init; }
    public long ParameterCount { get; init; }
    public string[] FragmentNames { get; init; } = Array.Empty<string>();
    public long[] FragmentSizes { get; init; } = Array.Empty<long>();

    /// <summary>Mean inner loss over workers at each step (index 0 = step 1); over the live workers after a worker was dropped.</summary>
    public IReadOnlyList<float> MeanInnerLoss { get; init; } = Array.Empty<float>();

    /// <summary>Inner loss per worker per step: [worker][step − 1].</summary>
    public IReadOnlyList<IReadOnlyList<float>> InnerLossPerWorker { get; init; } = Array.Empty<IReadOnlyList<float>>();

    /// <summary>Validation loss of the outer parameters over time (empty without a validation set).</summary>
    public IReadOnlyList<ValidationPoint> Validation { get; init; } = Array.Empty<ValidationPoint>();

    /// <summary>Validation loss of worker 0's replica and of the replicas' average at the end, beside θ̂'s last
    /// <see cref="Validation"/> point; null for data-parallel training (the replicas are θ̂), without a validation set, and
    /// under MPI (each rank holds only its own replicas).</summary>
    public ReplicaValidation? Replicas { get; init; }

    /// <summary>Every sync as seen by worker 0 (all workers run the same schedule).</summary>
    public IReadOnlyList<SyncRecord> Syncs { get; init; } = Array.Empty<SyncRecord>();

    public IReadOnlyList<WorkerCost> Workers { get; init; } = Array.Empty<WorkerCost>();

    /// <summary>Contributions (pseudo-gradients, or gradients in data-parallel mode) left out of a sync because they held NaN or
    /// infinity, under <see cref="NonFiniteValuePolicy.SkipContribution"/>; 0 otherwise.</summary>
    public long SkippedContributions { get; init; }

    /// <summary>Workers dropped after their step threw, under <see cref="WorkerFailurePolicy.Continue"/>, in the order they failed
    /// (empty otherwise). A dropped worker's <see cref="InnerLossPerWorker"/> is NaN from its failed step on, and
    /// <see cref="MeanInnerLoss"/> averages the workers still training at each step.</summary>
    public IReadOnlyList<WorkerFailure> WorkerFailures { get; init; } = Array.Empty<WorkerFailure>();

    /// <summary>Most bytes any worker sent (all-gather accounting: its payload to each of the M − 1 others).</summary>
    public long BytesSentPerWorker => Workers.Count == 0 ? 0 : Workers.Max(w => w.BytesSent);

    public long BytesReceivedPerWorker => Workers.Count == 0 ? 0 : Workers.Max(w => w.BytesReceived);

    /// <summary>The largest single message any worker sent.</summary>
    public long LargestMessageBytes => Workers.Count == 0 ? 0 : Workers.Max(w => w.LargestMessageBytes);

    /// <summary>What data-parallel training would send per worker over the same steps, counted the same way:
    /// the FP32 gradient of every parameter, every step, to each of the M − 1 other workers.</summary>
    public long DataParallelBytesSentPerWorker => Steps * (NumberOfWorkers - 1) * 4L * ParameterCount;

    /// <summary>Data-parallel bytes divided by the bytes this run sent (NaN when nothing was sent).</summary>
    public double CommunicationReduction => BytesSentPerWorker == 0 ? double.NaN : (double)DataParallelBytesSentPerWorker / BytesSentPerWorker;

    public double WallSeconds { get; init; }

    /// <summary>How the workers exchanged: threads of one process, or MPI ranks.</summary>
    public Transport Transport { get; init; }

    /// <summary>The MPI rank of the process that wrote this report (0 in-process). Every rank returns the same θ̂ and
    /// the same <see cref="Workers"/>; <see cref="Syncs"/> are this rank's first worker's.</summary>
    public int Rank { get; init; }

    /// <summary>The number of MPI ranks (1 in-process).</summary>
    public int Ranks { get; init; } = 1;

    /// <summary>True on the process that should write the model, report and logs (rank 0; always in-process).</summary>
    public bool IsRoot => Rank == 0;

    /// <summary>Mean over workers of the seconds spent computing (forward, backward, optimizer).</summary>
    public double ComputeSeconds => Workers.Count == 0 ? 0 : Workers.Average(w => w.ComputeSeconds);

    /// <summary>Mean over workers of the seconds spent waiting for exchanges.</summary>
    public double CommunicationWaitSeconds => Workers.Count == 0 ? 0 : Workers.Average(w => w.CommunicationWaitSeconds);

    /// <summary>Mean over workers of the outer sync's own work (<see cref="WorkerCost.SyncSeconds"/>) over compute seconds: the
    /// share of compute time the outer loop adds (the paper's and issue 5's target at H = 100: ≤ 2 %). NaN without workers or compute.</summary>
    public double SyncOverhead => Workers.Count == 0 ? double.NaN
        : Workers.Average(w => w.ComputeSeconds <= 0 ? double.NaN : w.SyncSeconds / w.ComputeSeconds);

    /// <summary>Seconds spent evaluating the validation set (excluded from compute).</summary>
    public double EvaluationSeconds { get; init; }

    /// <summary>Mean over workers of compute time over training wall time (evaluation excluded): 1 means the workers
    /// never waited; what is missing went to exchanges, encoding and data loading.</summary>
    public double ComputeUtilisation => Workers.Count == 0 ? double.NaN : Workers.Average(w => w.ComputeUtilisation);

    /// <summary>Training tokens processed by all workers per second of wall time (evaluation excluded).</summary>
    public double TokensPerSecond => WallSeconds - EvaluationSeconds <= 0 ? double.NaN : Workers.Sum(w => w.Tokens) / (WallSeconds - EvaluationSeconds);

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The whole report, derived figures included, as indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>A few lines for a console: losses, bytes versus data-parallel, utilisation.</summary>
    public string Summarize()
    {
        var lines = new List<string>
        {
            $"{Algorithm}: M = {NumberOfWorkers}, H = {InnerSteps}, P = {NumberOfFragments}, τ = {OverlapSteps}, α = {MixingAlpha}, wire {WireFormat}, {Steps} steps, {ParameterCount:N0} parameters",
            $"inner loss: first {(MeanInnerLoss.Count > 0 ? MeanInnerLoss[0] : float.NaN):F3}, last {(MeanInnerLoss.Count > 0 ? MeanInnerLoss.Skip(Math.Max(0, MeanInnerLoss.Count - 20)).Average() : double.NaN):F3} (mean of the last 20 steps)",
        };
        if (Validation.Count > 0)
            lines.Add("validation loss of θ̂: " + string.Join(", ", Validation.Select(v => $"{v.Step}: {v.Loss:F3}")));
        lines.Add($"sent per worker: {Bytes(BytesSentPerWorker)} in {Syncs.Count} syncs (largest message {Bytes(LargestMessageBytes)}); " +
                  $"data-parallel would send {Bytes(DataParallelBytesSentPerWorker)}: {CommunicationReduction:N0}× less");
        if (WorkerFailures.Count > 0)
            lines.Add("workers dropped (OnWorkerFailure = Continue): " + string.Join("; ", WorkerFailures.Select(f => $"worker {f.Worker} at step {f.Step} ({f.ExceptionType})")));
        lines.Add($"wall {WallSeconds:F1} s (evaluation {EvaluationSeconds:F1} s), compute utilisation {ComputeUtilisation:P1}, {TokensPerSecond:N0} tokens/s");
        return string.Join(Environment.NewLine, lines);
    }

    private static string Bytes(long b) => b switch
    {
        >= 1L << 30 => $"{b / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{b / (double)(1L << 20):F2} MiB",
        >= 1L << 10 => $"{b / 1024.0:F1} KiB",
        _ => $"{b} B",
    };
}
