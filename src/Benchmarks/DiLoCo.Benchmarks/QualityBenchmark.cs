using System.Diagnostics;
using System.Text.Json;
using DiLoCo.Configuration;
using Microsoft.ML;
using Microsoft.ML.DiLoCo;

namespace DiLoCo.Benchmarks;

/// <summary>One finished run: a row of the matrix, a seed and a learning rate.</summary>
/// <remarks>Replica0Loss / ReplicaMeanLoss: the paper's Table 3 comparison at the end (null for data-parallel).</remarks>
internal sealed record QualityResult(string Row, bool Headline, int Seed, float InnerLearningRate, double FinalValidationLoss,
    double[] ValidationSteps, double[] ValidationLosses, long BytesSentPerWorker, long DataParallelBytesSentPerWorker,
    long LargestMessageBytes, int Syncs, double TokensPerSecond, double ComputeUtilisation, double WallSeconds,
    int Workers = 2, double? Replica0Loss = null, double? ReplicaMeanLoss = null, long BytesReceivedPerWorker = 0);

/// <summary>
/// Trains every row of <see cref="QualityMatrix"/> on the State of the Union corpus (byte level, held-out speeches)
/// with identical data, steps and global batch, and records the validation loss of θ̂ and the bytes each sent.
/// </summary>
internal sealed class QualityBenchmark(BenchmarkSettings settings)
{
    /// <summary>
    /// Headline rows first (seed 1, then the other seeds), then the ablations, so a run stopped early still answers the
    /// main question. Results are appended to quality-partial.json after every run; a run restarted with the same
    /// settings skips what that file already holds.
    /// </summary>
    public List<QualityResult> Run()
    {
        var (trainSpeeches, validSpeeches) = SotuCorpus.Load();
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(trainSpeeches.Select(s => new TextRow { Text = s.Text }));
        var valid = ml.Data.LoadFromEnumerable(validSpeeches.Select(s => new TextRow { Text = s.Text }));
        string partial = Path.Combine(settings.OutputDirectory, $"quality-{settings.Name}-partial.json");
        var results = File.Exists(partial) ? JsonSerializer.Deserialize<List<QualityResult>>(File.ReadAllText(partial))! : new List<QualityResult>();
        foreach (var (row, seed, lr) in Plan(results))
        {
            if (results.Any(r => r.Row == row.Name && r.Seed == seed && r.InnerLearningRate == lr)) continue;
            var options = Baseline(valid, seed, lr);
            row.Configure(options);
            var clock = Stopwatch.StartNew();
            var report = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train).TrainingReport!;
            var result = new QualityResult(row.Name, row.Headline, seed, lr, report.Validation[^1].Loss,
                report.Validation.Select(v => (double)v.Step).ToArray(), report.Validation.Select(v => v.Loss).ToArray(),
                report.BytesSentPerWorker, report.DataParallelBytesSentPerWorker, report.LargestMessageBytes, report.Syncs.Count,
                report.TokensPerSecond, report.ComputeUtilisation, clock.Elapsed.TotalSeconds,
                report.NumberOfWorkers, report.Replicas?.Replica0Loss, report.Replicas?.ReplicaMeanLoss, report.BytesReceivedPerWorker);
            results.Add(result);
            Console.WriteLine($"{row.Name,-52} seed {seed} lr {lr:G3}: validation {result.FinalValidationLoss:F4}, sent {result.BytesSentPerWorker:N0} B, {result.WallSeconds:F0} s");
            File.WriteAllText(partial, JsonSerializer.Serialize(results));
        }
        return results;
    }

    /// <summary>The runs in order; <paramref name="done"/> grows while this is enumerated, so later seeds see seed 1's winners.</summary>
    private IEnumerable<(QualityRow Row, int Seed, float LearningRate)> Plan(IReadOnlyList<QualityResult> done)
    {
        var rows = QualityMatrix.Rows(settings.InnerSteps);
        IEnumerable<float> Rates(string tunedRow) =>
            settings.GridOnEverySeed || settings.LearningRates.Length == 1
                ? settings.LearningRates
                : new[] { LearningRateTuning.Winner(done, tunedRow) ?? settings.LearningRates[settings.LearningRates.Length / 2] };
        foreach (var row in rows.Where(r => r.Headline))
        {
            foreach (float lr in settings.LearningRates) yield return (row, 1, lr);
            if (settings.GridOnEverySeed) continue;
            for (int extension = 0; extension < LearningRateTuning.MaximumExtensions; extension++)
            {
                if (LearningRateTuning.Beyond(done, row.Name, settings.LearningRates) is not { } beyond) break;
                yield return (row, 1, beyond);
            }
        }
        for (int seed = 2; seed <= settings.Seeds; seed++)
            foreach (var row in rows.Where(r => r.Headline))
                foreach (float lr in Rates(row.Name)) yield return (row, seed, lr);
        foreach (var row in rows.Where(r => !r.Headline))
            foreach (float lr in Rates(LearningRateTuning.FinalMethodRow)) yield return (row, 1, lr);
    }

    private StreamingDiLoCoTrainer.Options Baseline(Microsoft.ML.IDataView valid, int seed, float lr) => new()
    {
        TextColumnName = nameof(TextRow.Text),
        Tokenizer = TokenizerKind.Bytes,
        Model = new TransformerOptions { ContextLength = 128, EmbeddingSize = 128, NumberOfLayers = 4, NumberOfHeads = 4 },
        NumberOfWorkers = settings.Workers,
        NumberOfFragments = 4,
        BatchSize = settings.GlobalBatch / settings.Workers,
        TrainingSteps = settings.Steps,
        InnerLearningRate = lr,
        WarmupSteps = Math.Min(100, settings.Steps / 10),
        ValidationSet = valid,
        EvaluationInterval = Math.Max(1, settings.Steps / 16),
        MaximumValidationTokens = settings.ValidationTokens,
        Seed = seed,
    };

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }
}
