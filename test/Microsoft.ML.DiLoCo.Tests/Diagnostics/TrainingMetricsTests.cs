using System.Diagnostics.Metrics;
using Microsoft.ML.DiLoCo.Tests.EndToEnd;

namespace Microsoft.ML.DiLoCo.Tests.Diagnostics;

/// <summary>
/// The library's Meter, read with a <see cref="MeterListener"/> (what dotnet-counters and OpenTelemetry use): every
/// instrument is published during Fit, and what it adds up to is what the TrainingReport says.
/// </summary>
[TestClass]
public sealed class TrainingMetricsTests
{
    [TestMethod]
    public void TheMeterPublishesWhatTheReportSays()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SyntheticText.Documents(40, 10, seed: 1));
        var valid = ml.Data.LoadFromEnumerable(SyntheticText.Documents(4, 10, seed: 2));
        var options = FitTests.SmallOptions(valid);
        options.TrainingSteps = 40;
        options.EvaluationInterval = 20;

        using var recorded = new RecordedMeasurements();
        var report = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train).TrainingReport!;
        recorded.Stop();

        CollectionAssert.AreEquivalent(new[]
        {
            TrainingMetrics.Steps, TrainingMetrics.Tokens, TrainingMetrics.TokensPerSecond, TrainingMetrics.InnerLoss, TrainingMetrics.ValidationLoss,
            TrainingMetrics.BytesSent, TrainingMetrics.BytesReceived, TrainingMetrics.Syncs, TrainingMetrics.ExchangeWait, TrainingMetrics.ComputeUtilisation,
        }, recorded.Names.ToArray(), "every instrument of the Meter " + TrainingMetrics.MeterName + " was published");

        Assert.AreEqual(40, recorded.Sum(TrainingMetrics.Steps));
        Assert.AreEqual(report.Workers.Sum(w => w.Tokens), recorded.Sum(TrainingMetrics.Tokens));
        Assert.AreEqual(report.Workers.Sum(w => w.BytesSent), recorded.Sum(TrainingMetrics.BytesSent));
        Assert.AreEqual(report.Workers.Sum(w => w.BytesReceived), recorded.Sum(TrainingMetrics.BytesReceived));
        Assert.IsTrue(recorded.Sum(TrainingMetrics.BytesSent) > 0);
        Assert.AreEqual(report.Syncs.Count, recorded.Sum(TrainingMetrics.Syncs));
        CollectionAssert.AreEqual(report.Syncs.Select(s => s.WaitSeconds).ToArray(), recorded.Values(TrainingMetrics.ExchangeWait).ToArray(), "one wait per sync");
        CollectionAssert.AreEqual(report.Validation.Select(v => v.Loss).ToArray(), recorded.Values(TrainingMetrics.ValidationLoss).ToArray(), "steps 0, 20 and 40");
        var innerLoss = recorded.Values(TrainingMetrics.InnerLoss).ToArray();
        Assert.AreEqual(40, innerLoss.Length, "one inner loss per step");
        CollectionAssert.AreEqual(report.InnerLossPerWorker[0].Select(l => (double)l).ToArray(), innerLoss, "worker 0's loss at each step");
        Assert.AreEqual(report.TokensPerSecond, recorded.Values(TrainingMetrics.TokensPerSecond).Last(), "the last throughput is the report's");
        Assert.AreEqual(report.ComputeUtilisation, recorded.Values(TrainingMetrics.ComputeUtilisation).Last(), "the last utilisation is the report's");
        Assert.IsTrue(recorded.Values(TrainingMetrics.ComputeUtilisation).All(u => u is >= 0 and <= 1), "utilisation is a fraction");
    }

    /// <summary>Every measurement of the library's Meter while alive, by instrument name, in order.</summary>
    private sealed class RecordedMeasurements : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<(string Name, double Value)> _measurements = new();

        public RecordedMeasurements()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == TrainingMetrics.MeterName) listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => Add(instrument.Name, value));
            _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => Add(instrument.Name, value));
            _listener.Start();
        }

        public IEnumerable<string> Names
        {
            get { lock (_measurements) return _measurements.Select(m => m.Name).Distinct().ToArray(); }
        }

        public IEnumerable<double> Values(string name)
        {
            lock (_measurements) return _measurements.Where(m => m.Name == name).Select(m => m.Value).ToArray();
        }

        public double Sum(string name) => Values(name).Sum();

        public void Stop() => _listener.Dispose();

        public void Dispose() => _listener.Dispose();

        private void Add(string name, double value)
        {
            lock (_measurements) _measurements.Add((name, value));
        }
    }
}
