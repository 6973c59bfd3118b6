using System.Globalization;
using System.Text;

namespace DiLoCo.Benchmarks;

/// <summary>Writes the tables of docs/benchmarks.md (and the CSV beside it) from measured results.</summary>
internal static class BenchmarkDocument
{
    public static string Quality(IReadOnlyList<QualityResult> results, BenchmarkSettings settings, string machine, string commit)
    {
        var text = new StringBuilder();
        text.AppendLine("## Quality and communication");
        text.AppendLine();
        text.AppendLine($"State of the Union, byte level, held-out speeches (every 10th). Model: 4 layers, width 128, 4 heads, context 128 " +
                        $"(842,624 parameters). {settings.Workers} workers, global batch {settings.GlobalBatch} sequences, {settings.Steps} steps " +
                        $"for every row (same tokens), P = 4 fragments (non-block + 3 strided block fragments), H = {settings.InnerSteps} unless " +
                        $"the row says otherwise. Inner learning rate grid {string.Join(", ", settings.LearningRates.Select(l => l.ToString("G3", CultureInfo.InvariantCulture)))} " +
                        $"(the same for every row; the best mean per row is shown). Seeds: {settings.Seeds} for the headline rows, 1 for the others. " +
                        $"Validation on {settings.ValidationTokens:N0} evenly spaced held-out tokens, evaluated on the outer parameters θ̂.");
        text.AppendLine($"Machine: {machine}. Commit: {commit}.");
        text.AppendLine();
        var best = results.GroupBy(r => r.Row)
            .Select(g => g.GroupBy(r => r.InnerLearningRate).OrderBy(l => l.Average(r => r.FinalValidationLoss)).First().ToList())
            .ToList();
        double dp = best.First(g => g[0].Row.StartsWith("Data-parallel", StringComparison.Ordinal)).Average(r => r.FinalValidationLoss);
        long dpBytes = results[0].DataParallelBytesSentPerWorker;
        text.AppendLine("| method | seeds | inner lr | validation loss (nats/byte) | gap to data-parallel | bytes sent per worker | vs DP FP32 | vs DP BF16 | largest message | syncs |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var g in best)
        {
            double mean = g.Average(r => r.FinalValidationLoss);
            double std = g.Count > 1 ? Math.Sqrt(g.Sum(r => (r.FinalValidationLoss - mean) * (r.FinalValidationLoss - mean)) / (g.Count - 1)) : 0;
            long bytes = g[0].BytesSentPerWorker;
            string ratio = bytes == 0 ? "—" : Ratio((double)dpBytes / bytes);
            string ratioBf16 = bytes == 0 ? "—" : Ratio((double)dpBytes / 2 / bytes);
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {g[0].Row} | {g.Count} | {g[0].InnerLearningRate:G3} | {mean:F4}{(g.Count > 1 ? $" ± {std:F4}" : "")} | {(mean - dp) / dp:+0.00%;-0.00%;0.00%} | {bytes:N0} | {ratio} | {ratioBf16} | {g[0].LargestMessageBytes:N0} | {g[0].Syncs} |"));
        }
        text.AppendLine();
        text.AppendLine("The paper (C4, 35M–4B parameters) reports a loss gap to data-parallel of at most 0.02 at H = 30 and 0.05 at H = 100 " +
                        "(≤ 1.5 %), shrinking with scale, and 400× fewer bits exchanged for the final method at 1B parameters.");
        return text.ToString();
    }

    private static string Ratio(double x) => x >= 10 ? $"{x:N0}×" : string.Create(CultureInfo.InvariantCulture, $"{x:0.##}×");

    public static string QualityCsv(IEnumerable<QualityResult> results)
    {
        var csv = new StringBuilder("row,seed,inner_lr,final_validation_loss,bytes_sent_per_worker,dp_bytes_sent_per_worker,largest_message,syncs,tokens_per_second,compute_utilisation,wall_seconds\n");
        foreach (var r in results)
            csv.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"\"{r.Row}\",{r.Seed},{r.InnerLearningRate},{r.FinalValidationLoss:R},{r.BytesSentPerWorker},{r.DataParallelBytesSentPerWorker},{r.LargestMessageBytes},{r.Syncs},{r.TokensPerSecond:F0},{r.ComputeUtilisation:F4},{r.WallSeconds:F1}"));
        return csv.ToString();
    }
}
