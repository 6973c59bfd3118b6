using System.Globalization;
using System.Text;

namespace DiLoCo.Benchmarks;

/// <summary>Writes the tables of docs/benchmarks.md (and the CSV beside it) from measured results.</summary>
internal static class BenchmarkDocument
{
    public static string Quality(IReadOnlyList<QualityResult> results, BenchmarkSettings settings, string machine, string commit)
    {
        var text = new StringBuilder();
        text.AppendLine($"## Quality and communication ({settings.Name}: {settings.Steps} steps)");
        text.AppendLine();
        text.AppendLine($"State of the Union, byte level, held-out speeches (every 10th). Model: 4 layers, width 128, 4 heads, context 128 " +
                        $"(842,624 parameters). {settings.Workers} workers (the M = 4 row: 4, each with a quarter of the batch), global batch " +
                        $"{settings.GlobalBatch} sequences, {settings.Steps} steps for every row (same tokens), P = 4 fragments (non-block + 3 strided " +
                        $"block fragments), H = {settings.InnerSteps} unless the row says otherwise. Inner learning rate " +
                        $"{string.Join(", ", settings.LearningRates.Select(l => l.ToString("G3", CultureInfo.InvariantCulture)))} " +
                        $"({Tuning(settings)}), warmup {Math.Min(100, settings.Steps / 10)} steps then cosine. " +
                        $"Seeds: {settings.Seeds} for the headline rows (bold), 1 for the others. Validation on {settings.ValidationTokens:N0} evenly spaced " +
                        $"held-out tokens, evaluated on the outer parameters θ̂. Command: `bash build/bench.sh quality --{settings.Name}`.");
        text.AppendLine($"Machine: {machine}. Commit: {commit}.");
        text.AppendLine();
        var best = results.GroupBy(r => r.Row).Select(LearningRateTuning.Reported).ToList();
        var dpRuns = best.FirstOrDefault(g => g[0].Row.StartsWith("Data-parallel", StringComparison.Ordinal));
        double dp = dpRuns?.Average(r => r.FinalValidationLoss) ?? double.NaN;
        text.AppendLine($"| method | seeds | inner lr | validation loss (nats/byte) | gap to data-parallel | {CommunicationHeader} |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var g in best)
        {
            var (mean, std) = MeanAndStd(g.Select(r => r.FinalValidationLoss));
            string name = g[0].Headline ? $"**{g[0].Row}**" : g[0].Row;
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {g.Count} | {g[0].InnerLearningRate:G3} | {mean:F4}{(g.Count > 1 ? $" ± {std:F4}" : "")} | {(mean - dp) / dp:+0.00%;-0.00%;0.00%} | {CommunicationCells(g[0])} |"));
        }
        text.AppendLine();
        text.AppendLine("± is the sample standard deviation over seeds. Bytes: all-gather accounting (each worker's payload to each of the " +
                        "M − 1 others); data-parallel sends the FP32 gradient every step (the BF16 column halves it). The M = 4 row's ratio is " +
                        "against data-parallel with 4 workers. The paper (C4, 35M–4B parameters) reports a loss gap to data-parallel of at most " +
                        "0.02 at H = 30 and 0.05 at H = 100 (≤ 1.5 %), shrinking with scale, M = 4 costing 0.02–0.08 more than M = 2, and 400× " +
                        "fewer bits exchanged for the final method at 1B parameters.");
        text.Append(GridTable(results, best));
        var withReplicas = best.Where(g => g.All(r => r.Replica0Loss is not null)).ToList();
        if (withReplicas.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("### Outer parameters versus replicas (the paper's Table 3)");
            text.AppendLine();
            text.AppendLine("Validation loss at the end of the same runs, of θ̂ (the model the trainer returns), of worker 0's live replica θ_0 " +
                            "and of the parameter average of all workers' replicas (`TrainingReport.Replicas`). The paper (1B, H = 100): θ̂ 2.67, " +
                            "replica 2.77, replica average 2.68.");
            text.AppendLine();
            text.AppendLine("| method | seeds | θ̂ | replica 0 | replica mean |");
            text.AppendLine("|---|---|---|---|---|");
            foreach (var g in withReplicas)
                text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {g[0].Row} | {g.Count} | {g.Average(r => r.FinalValidationLoss):F4} | {g.Average(r => r.Replica0Loss!.Value):F4} | {g.Average(r => r.ReplicaMeanLoss!.Value):F4} |"));
        }
        string png = $"quality-{settings.Name}.png";
        QualityPlot.Save(best.Select(g => g[0]).ToList(), Path.Combine(settings.OutputDirectory, png), settings);
        text.AppendLine();
        text.AppendLine($"![validation loss of θ̂ over steps, seed 1 of each row](benchmarks/{png})");
        return text.ToString();
    }

    private static string Tuning(BenchmarkSettings settings) =>
        settings.LearningRates.Length == 1 ? "the same rate for every row, not tuned"
        : settings.GridOnEverySeed ? "the same grid for every row and seed; the rate with the best mean per row is shown"
        : "the same search for every headline row on seed 1: these rates, then steps of ×2 past whichever end won until a rate " +
          $"did worse (at most {LearningRateTuning.MaximumExtensions} steps), so each winner is bracketed by worse rates; its other " +
          "seeds at the rate that won seed 1; the other rows at the final method's rate";

    /// <summary>Every grid run on seed 1, so a reader sees how flat the choice was (only when more than one rate ran).</summary>
    private static string GridTable(IReadOnlyList<QualityResult> results, IReadOnlyList<List<QualityResult>> reported)
    {
        var rates = results.Select(r => r.InnerLearningRate).Distinct().Order().ToList();
        if (rates.Count < 2) return "";
        var text = new StringBuilder();
        text.AppendLine();
        text.AppendLine("### Inner learning-rate grid (seed 1)");
        text.AppendLine();
        text.AppendLine("Validation loss of θ̂ on seed 1 for each rate tried; bold: the rate the table above reports.");
        text.AppendLine();
        text.AppendLine($"| method | {string.Join(" | ", rates.Select(l => l.ToString("G3", CultureInfo.InvariantCulture)))} |");
        text.AppendLine($"|---|{string.Concat(rates.Select(_ => "---|"))}");
        foreach (var row in reported.Where(g => results.Count(r => r.Row == g[0].Row && r.Seed == 1) > 1))
        {
            var cells = rates.Select(l =>
            {
                var run = results.FirstOrDefault(r => r.Row == row[0].Row && r.Seed == 1 && r.InnerLearningRate == l);
                string loss = run?.FinalValidationLoss.ToString("F4", CultureInfo.InvariantCulture) ?? "—";
                return run is not null && l == row[0].InnerLearningRate ? $"**{loss}**" : loss;
            });
            text.AppendLine($"| {row[0].Row} | {string.Join(" | ", cells)} |");
        }
        return text.ToString();
    }

    /// <summary>The communication columns shared by the quality table and the communication table (<see cref="CommunicationDocument"/>).</summary>
    public const string CommunicationHeader = "bytes sent per worker | received | vs DP FP32 | vs DP BF16 | largest message | syncs";

    /// <summary>One run's cells under <see cref="CommunicationHeader"/> (bytes do not depend on the seed or the learning rate).</summary>
    public static string CommunicationCells(QualityResult run)
    {
        long bytes = run.BytesSentPerWorker;
        string ratio = bytes == 0 ? "—" : Ratio((double)run.DataParallelBytesSentPerWorker / bytes);
        string ratioBf16 = bytes == 0 ? "—" : Ratio((double)run.DataParallelBytesSentPerWorker / 2 / bytes);
        string received = run.BytesReceivedPerWorker == 0 && bytes != 0 ? "—" : run.BytesReceivedPerWorker.ToString("N0", CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture, $"{bytes:N0} | {received} | {ratio} | {ratioBf16} | {run.LargestMessageBytes:N0} | {run.Syncs}");
    }

    private static (double Mean, double Std) MeanAndStd(IEnumerable<double> values)
    {
        var x = values.ToArray();
        double mean = x.Average();
        double std = x.Length > 1 ? Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / (x.Length - 1)) : 0;
        return (mean, std);
    }

    private static string Ratio(double x) => x >= 10 ? $"{x:N0}×" : string.Create(CultureInfo.InvariantCulture, $"{x:0.##}×");

    public static string QualityCsv(IEnumerable<QualityResult> results)
    {
        var csv = new StringBuilder("row,workers,seed,inner_lr,final_validation_loss,replica0_loss,replica_mean_loss,bytes_sent_per_worker,bytes_received_per_worker,dp_bytes_sent_per_worker,largest_message,syncs,tokens_per_second,compute_utilisation,wall_seconds\n");
        foreach (var r in results)
            csv.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"\"{r.Row}\",{r.Workers},{r.Seed},{r.InnerLearningRate},{r.FinalValidationLoss:R},{r.Replica0Loss:R},{r.ReplicaMeanLoss:R},{r.BytesSentPerWorker},{r.BytesReceivedPerWorker},{r.DataParallelBytesSentPerWorker},{r.LargestMessageBytes},{r.Syncs},{r.TokensPerSecond:F0},{r.ComputeUtilisation:F4},{r.WallSeconds:F1}"));
        return csv.ToString();
    }
}
