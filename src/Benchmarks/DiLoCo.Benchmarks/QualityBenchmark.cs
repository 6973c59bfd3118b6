using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.DiLoCo;
using Microsoft.ML.DiLoCo.Configuration;

namespace DiLoCo.Benchmarks;

/// <summary>One finished run: a row of the matrix, a seed and a learning rate.</summary>
internal sealed record QualityResult(string Row, bool Headline, int Seed, float InnerLearningRate, double FinalValidationLoss,
    double[] ValidationSteps, double[] ValidationLosses, long BytesSentPerWorker, long DataParallelBytesSentPerWorker,
    long LargestMessageBytes, int Syncs, double TokensPerSecond, double ComputeUtilisation, double WallSeconds);

/// <summary>
/// Trains every row of <see cref="QualityMatrix"/> on the State of the Union corpus (byte level, held-out speeches)
/// with identical data, steps and global batch, and records the validation loss of θ̂ and the bytes each sent.
/// </summary>
internal sealed class QualityBenchmark(BenchmarkSettings settings)
{
    public List<QualityResult> Run()
    {
        var (trainSpeeches, validSpeeches) = SotuCorpus.Load();
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(trainSpeeches.Select(s => new TextRow { Text = s.Text }));
        var valid = ml.Data.LoadFromEnumerable(validSpeeches.Select(s => new TextRow { Text = s.Text }));
        var results = new List<QualityResult>();
        var rows = QualityMatrix.Rows(settings.InnerSteps);
        foreach (var row in rows)
        {
            int seeds = row.Headline ? settings.Seeds : 1;
            foreach (float lr in settings.LearningRates)
            {
                for (int seed = 1; seed <= seeds; seed++)
                {
                    var options = Baseline(valid, seed, lr);
                    row.Configure(options);
                    var clock = Stopwatch.StartNew();
                    var report = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train).TrainingReport!;
                    var result = new QualityResult(row.Name, row.Headline, seed, lr, report.Validation[^1].Loss,
                        report.Validation.Select(v => (double)v.Step).ToArray(), report.Validation.Select(v => v.Loss).ToArray(),
                        report.BytesSentPerWorker, report.DataParallelBytesSentPerWorker, report.LargestMessageBytes, report.Syncs.Count,
                        report.TokensPerSecond, report.ComputeUtilisation, clock.Elapsed.TotalSeconds);
                    results.Add(result);
                    Console.WriteLine($"{row.Name,-52} seed {seed} lr {lr:G3}: validation {result.FinalValidationLoss:F4}, sent {result.BytesSentPerWorker:N0} B, {result.WallSeconds:F0} s");
                    File.WriteAllText(Path.Combine(settings.OutputDirectory, "quality-partial.json"), JsonSerializer.Serialize(results));
                }
            }
        }
        return results;
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
        EvaluationInterval = Math.Max(1, settings.Steps / 8),
        MaximumValidationTokens = settings.ValidationTokens,
        Seed = seed,
    };

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }
}
