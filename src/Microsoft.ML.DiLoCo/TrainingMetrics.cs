using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Training;

namespace Microsoft.ML.DiLoCo;

/// <summary>
/// Live training metrics as <see cref="System.Diagnostics.Metrics"/> instruments on the Meter <see cref="MeterName"/>:
/// <c>dotnet-counters monitor --counters Microsoft.ML.DiLoCo -n YourApp</c> shows a running job, and an OpenTelemetry
/// <c>MeterProvider</c> with <c>AddMeter(TrainingMetrics.MeterName)</c> exports it (the <c>diloco</c> tool's
/// <c>--metrics-port</c> serves it for Prometheus). Each process publishes what its own workers measure (under MPI:
/// each rank, all ranks at once); the numbers are those of the <see cref="TrainingReport"/> (docs/metrics.md).
/// </summary>
public static class TrainingMetrics
{
    /// <summary>The Meter's name: the library's.</summary>
    public const string MeterName = "Microsoft.ML.DiLoCo";

    /// <summary>Counter: inner steps done (one per step of the job, counted by this process's lead worker).</summary>
    public const string Steps = "diloco.steps";
    /// <summary>Counter: training tokens processed by this process's workers.</summary>
    public const string Tokens = "diloco.tokens";
    /// <summary>Gauge: training tokens per second over all workers of the job (evaluation excluded), as in the progress.</summary>
    public const string TokensPerSecond = "diloco.throughput";
    /// <summary>Gauge: the inner loss of this process's lead worker at its latest step (nats per token).</summary>
    public const string InnerLoss = "diloco.inner_loss";
    /// <summary>Gauge: the latest validation loss of the outer parameters θ̂ (nats per token; evaluating process only).</summary>
    public const string ValidationLoss = "diloco.validation_loss";
    /// <summary>Counter: bytes this process's workers sent (each payload counted once per receiving worker).</summary>
    public const string BytesSent = "diloco.bytes_sent";
    /// <summary>Counter: bytes this process's workers received.</summary>
    public const string BytesReceived = "diloco.bytes_received";
    /// <summary>Counter: fragment synchronisations applied (outer steps), as seen by the lead worker.</summary>
    public const string Syncs = "diloco.syncs";
    /// <summary>Histogram: seconds the lead worker stood still at a sync's apply step waiting for the exchange.</summary>
    public const string ExchangeWait = "diloco.exchange_wait";
    /// <summary>Gauge: the lead worker's compute time ÷ its training time so far (at the end: the report's mean over workers).</summary>
    public const string ComputeUtilisation = "diloco.compute_utilisation";

    private static readonly Meter Meter = new(MeterName, typeof(TrainingMetrics).Assembly.GetName().Version?.ToString());
    private static readonly Counter<long> StepCounter = Meter.CreateCounter<long>(Steps, "{step}", "Inner steps done");
    private static readonly Counter<long> TokenCounter = Meter.CreateCounter<long>(Tokens, "{token}", "Training tokens processed by this process's workers");
    private static readonly Gauge<double> ThroughputGauge = Meter.CreateGauge<double>(TokensPerSecond, "{token}/s", "Training tokens per second over all workers");
    private static readonly Gauge<double> InnerLossGauge = Meter.CreateGauge<double>(InnerLoss, "{nat}", "Inner loss at the latest step (nats per token)");
    private static readonly Gauge<double> ValidationLossGauge = Meter.CreateGauge<double>(ValidationLoss, "{nat}", "Latest validation loss of the outer parameters (nats per token)");
    private static readonly Counter<long> SentCounter = Meter.CreateCounter<long>(BytesSent, "By", "Bytes sent by this process's workers");
    private static readonly Counter<long> ReceivedCounter = Meter.CreateCounter<long>(BytesReceived, "By", "Bytes received by this process's workers");
    private static readonly Counter<long> SyncCounter = Meter.CreateCounter<long>(Syncs, "{sync}", "Fragment synchronisations applied");
    private static readonly Histogram<double> WaitHistogram = Meter.CreateHistogram(ExchangeWait, "s", "Time stood still waiting for an exchange, per sync",
        tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1e-4, 1e-3, 1e-2, 0.1, 0.5, 1, 5, 30] });
    private static readonly Gauge<double> UtilisationGauge = Meter.CreateGauge<double>(ComputeUtilisation, "1", "Compute time over training time");

    /// <summary>
    /// Feeds the instruments from one run's own measurements (WorkerStatistics, the metered collectives, the report):
    /// called on the lead worker's thread after each step, and once at the end.
    /// </summary>
    internal sealed class Recorder
    {
        private readonly MeteredCollective[] _collectives;
        private readonly int _localWorkers;
        private long _tokens, _sent, _received, _started;
        private int _syncs;
        private double _computeAtStart, _observerAtStart;

        public Recorder(MeteredCollective[] collectives, WorkerStatistics first)
        {
            _collectives = collectives;
            _localWorkers = collectives.Length;
            // A resumed run starts from the checkpoint's numbers: count only what this run adds.
            _tokens = first.Tokens * _localWorkers;
            _syncs = first.Syncs.Count;
            _sent = collectives.Sum(c => c.BytesSent);
            _received = collectives.Sum(c => c.BytesReceived);
        }

        public void Step(WorkerStatistics lead, double tokensPerSecond)
        {
            StepCounter.Add(1);
            if (lead.Losses.Count > 0) InnerLossGauge.Record(lead.Losses[^1]);
            ThroughputGauge.Record(tokensPerSecond);
            CatchUp(lead);
            // Utilisation since the first observed step; ObserverSeconds (evaluation, checkpoints) is not training time.
            if (_started == 0)
            {
                _started = Stopwatch.GetTimestamp();
                (_computeAtStart, _observerAtStart) = (lead.ComputeSeconds, lead.ObserverSeconds);
                return;
            }
            double training = Stopwatch.GetElapsedTime(_started).TotalSeconds - (lead.ObserverSeconds - _observerAtStart);
            if (training > 0) UtilisationGauge.Record(Math.Clamp((lead.ComputeSeconds - _computeAtStart) / training, 0, 1));
        }

        public void Validation(double loss) => ValidationLossGauge.Record(loss);

        /// <summary>After the workers stopped: the last exchanges' bytes and syncs, and the report's final throughput and utilisation.</summary>
        public void Finish(WorkerStatistics lead, TrainingReport report)
        {
            CatchUp(lead);
            if (!double.IsNaN(report.TokensPerSecond)) ThroughputGauge.Record(report.TokensPerSecond);
            if (!double.IsNaN(report.ComputeUtilisation)) UtilisationGauge.Record(report.ComputeUtilisation);
        }

        private void CatchUp(WorkerStatistics lead)
        {
            Add(TokenCounter, lead.Tokens * _localWorkers, ref _tokens);
            Add(SentCounter, _collectives.Sum(c => c.BytesSent), ref _sent);
            Add(ReceivedCounter, _collectives.Sum(c => c.BytesReceived), ref _received);
            for (; _syncs < lead.Syncs.Count; _syncs++)
            {
                SyncCounter.Add(1);
                WaitHistogram.Record(lead.Syncs[_syncs].WaitSeconds);
            }
        }

        private static void Add(Counter<long> counter, long total, ref long reported)
        {
            if (total > reported) counter.Add(total - reported);
            reported = Math.Max(reported, total);
        }
    }
}
