using System.Globalization;
using System.Text;
using System.Text.Json;

namespace DiLoCo.Benchmarks;

/// <summary>
/// docs/benchmarks/study.md and its plots from the quality study's results (<see cref="QualityStudy"/>) and the 800-step runs
/// of quality-medium.json: the gap to data-parallel against tokens, the option ablations, the H × format curve, the batch and
/// width rows. Every table says which runs exist; a series that has not run is named as not run.
/// </summary>
internal static class StudyDocument
{
    private const string Medium = "1× (800 steps, quality-medium.json)";

    public static string Write(IReadOnlyList<StudyResult> study, string output, string machine, string commit)
    {
        var all = study.Concat(MediumRuns(output)).ToList();
        var page = new StringBuilder();
        page.AppendLine("## Quality study (issue 13): length, options, bandwidth, batch, size");
        page.AppendLine();
        page.AppendLine($"Command: `bash build/bench.sh study` (resumable: finished runs are kept in `docs/benchmarks/study-partial.json`; " +
                        "`bash build/bench.sh study-tables` re-renders this section). Same data, model (4 layers, width 128 unless said), " +
                        $"2 workers, global batch 32 × 128 bytes unless said, validation on {QualityStudy.ValidationTokens:N0} held-out tokens, " +
                        "inner rate tuned per method and length on seed 1 (grid ×2, extended until bracketed), other seeds at the winner. " +
                        $"The final method is the paper's: H = 40, P = 4, τ = 1, α = 0.5, FP4, η = 0.7, μ = 0.9, θ̂ returned. Machine: {machine}. Commit: {commit}.");
        page.AppendLine();
        Length(page, all);
        Options(page, all);
        TradeOff(page, all);
        Rows(page, all, "batch 4× at 2×", "Global batch 128 (4×), 1,600 steps: the 2× length's tokens ×4");
        Rows(page, all, "width 256 at 2×", "Width 256 (3.3M parameters, ~4×), 1,600 steps");
        if (LengthPoints(all).Count >= 2) LengthPlot(all, Path.Combine(output, "study-length.png"));
        if (File.Exists(Path.Combine(output, "study-length.png"))) page.AppendLine("![gap of the final method to data-parallel against training length](benchmarks/study-length.png)");
        return page.ToString();
    }

    /// <summary>The 800-step headline runs of the medium tier as study results (same settings as the study's).</summary>
    private static IEnumerable<StudyResult> MediumRuns(string output)
    {
        string file = Path.Combine(output, "quality-medium.json");
        if (!File.Exists(file)) yield break;
        foreach (var r in JsonSerializer.Deserialize<List<QualityResult>>(File.ReadAllText(file))!)
        {
            string? row = r.Row == QualityStudy.DataParallel ? QualityStudy.DataParallel : r.Row == LearningRateTuning.FinalMethodRow ? QualityStudy.FinalMethod : null;
            if (row is null) continue;
            yield return new StudyResult(Medium, row, 800, 32, 128, r.Seed, r.InnerLearningRate, r.FinalValidationLoss, r.Replica0Loss, r.ReplicaMeanLoss,
                r.ValidationSteps, r.ValidationLosses, r.BytesSentPerWorker, r.DataParallelBytesSentPerWorker, r.Syncs, r.WallSeconds, 842_624);
        }
    }

    /// <summary>The runs a table reports for one row: the rate with the most seeds, ties to the lowest mean (the tuned rate).</summary>
    private static List<StudyResult> Reported(IEnumerable<StudyResult> runs) =>
        runs.GroupBy(r => r.InnerLearningRate).OrderByDescending(g => g.Count()).ThenBy(g => g.Average(r => r.FinalValidationLoss)).FirstOrDefault()?.ToList() ?? new();

    private static (double Mean, double Sd, int N) Stats(IReadOnlyList<double> xs)
    {
        double mean = xs.Average();
        double sd = xs.Count > 1 ? Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / (xs.Count - 1)) : 0;
        return (mean, sd, xs.Count);
    }

    private static string Loss(IReadOnlyList<StudyResult> runs)
    {
        if (runs.Count == 0) return "not run";
        var (mean, sd, n) = Stats(runs.Select(r => r.FinalValidationLoss).ToList());
        return n > 1 ? F($"{mean:F4} ± {sd:F4} ({n} seeds)") : F($"{mean:F4} (1 seed)");
    }

    private static string[] LengthSeries => new[] { Medium, "length 2×", "length 4×" };

    private static List<(double Tokens, double Gap)> LengthPoints(List<StudyResult> all) =>
        LengthSeries.Select(s => (Dp: Reported(all.Where(r => r.Series == s && r.Row == QualityStudy.DataParallel)),
                                  Fm: Reported(all.Where(r => r.Series == s && r.Row == QualityStudy.FinalMethod))))
            .Where(p => p.Dp.Count > 0 && p.Fm.Count > 0)
            .Select(p => ((double)p.Dp[0].Steps * p.Dp[0].GlobalBatch * 128, p.Fm.Average(r => r.FinalValidationLoss) / p.Dp.Average(r => r.FinalValidationLoss) - 1))
            .ToList();

    private static void Length(StringBuilder page, List<StudyResult> all)
    {
        page.AppendLine("### Gap to data-parallel against length");
        page.AppendLine();
        page.AppendLine("| length | data-parallel: lr, loss | final method: lr, loss | replica mean (final) | gap (θ̂) | bytes, final vs DP |");
        page.AppendLine("|---|---|---|---|---|---|");
        foreach (var series in LengthSeries)
        {
            var dp = Reported(all.Where(r => r.Series == series && r.Row == QualityStudy.DataParallel));
            var fm = Reported(all.Where(r => r.Series == series && r.Row == QualityStudy.FinalMethod));
            string gap = dp.Count > 0 && fm.Count > 0 ? F($"{(fm.Average(r => r.FinalValidationLoss) / dp.Average(r => r.FinalValidationLoss) - 1) * 100:+0.0;-0.0} %") : "—";
            string mean = fm.Count > 0 && fm.All(r => r.ReplicaMeanLoss is not null) ? F($"{fm.Average(r => r.ReplicaMeanLoss!.Value):F4}") : "—";
            string bytes = fm.Count > 0 ? F($"{(double)fm[0].DataParallelBytesSentPerWorker / fm[0].BytesSentPerWorker:F0}× fewer") : "—";
            page.AppendLine($"| {series} | {Rate(dp)}{Loss(dp)} | {Rate(fm)}{Loss(fm)} | {mean} | {gap} | {bytes} |");
        }
        page.AppendLine();
        page.AppendLine("Rate search on seed 1 (validation loss of θ̂ per inner learning rate):");
        page.AppendLine();
        foreach (var series in LengthSeries.Skip(1).Append("batch 4× at 2×").Append("width 256 at 2×"))
            foreach (var row in new[] { QualityStudy.DataParallel, QualityStudy.FinalMethod })
            {
                var seedOne = all.Where(r => r.Series == series && r.Row == row && r.Seed == 1).OrderBy(r => r.InnerLearningRate).ToList();
                if (seedOne.Count > 0)
                    page.AppendLine($"- {series}, {row}: " + string.Join(", ", seedOne.Select(r => F($"{r.InnerLearningRate:G3} → {r.FinalValidationLoss:F4}"))));
            }
        page.AppendLine();
    }

    private static string Rate(List<StudyResult> runs) => runs.Count == 0 ? "" : F($"{runs[0].InnerLearningRate:G3}, ");

    private static void Options(StringBuilder page, List<StudyResult> all)
    {
        page.AppendLine("### End-of-run model and H warm-up (2× length, seed 1, the final method's tuned rate)");
        page.AppendLine();
        var reference = all.Where(r => r.Series == "length 2×" && r.Row == QualityStudy.FinalMethod && r.Seed == 1).MinBy(r => r.FinalValidationLoss);
        var dp = Reported(all.Where(r => r.Series == "length 2×" && r.Row == QualityStudy.DataParallel)).Where(r => r.Seed == 1).ToList();
        page.AppendLine("| configuration | θ̂ returned | gap to data-parallel (seed 1) | replica mean | bytes sent per worker | syncs |");
        page.AppendLine("|---|---|---|---|---|---|");
        var rows = all.Where(r => r.Series == "options at 2×").ToList();
        if (reference is not null) rows.Insert(0, reference);
        foreach (var r in rows)
        {
            string gap = dp.Count > 0 ? F($"{(r.FinalValidationLoss / dp[0].FinalValidationLoss - 1) * 100:+0.0;-0.0} %") : "—";
            page.AppendLine(F($"| {r.Row} | {r.FinalValidationLoss:F4} | {gap} | {(r.ReplicaMeanLoss is { } m ? m.ToString("F4", CultureInfo.InvariantCulture) : "—")} | {r.BytesSentPerWorker:N0} | {r.Syncs} |"));
        }
        if (rows.Count <= 1) page.AppendLine("| (the option rows have not run yet) | | | | | |");
        page.AppendLine();
    }

    private static void TradeOff(StringBuilder page, List<StudyResult> all)
    {
        var rows = all.Where(r => r.Series == "H × format at 2×").ToList();
        var dp = Reported(all.Where(r => r.Series == "length 2×" && r.Row == QualityStudy.DataParallel)).Where(r => r.Seed == 1).ToList();
        page.AppendLine("### Gap against bytes sent: H × wire format (2× length, seed 1)");
        page.AppendLine();
        if (rows.Count == 0) { page.AppendLine("Not run yet (`bash build/bench.sh study` reaches it after the 2× length's seeds)."); page.AppendLine(); return; }
        page.AppendLine("| configuration | θ̂ | gap to data-parallel | bytes sent per worker | vs data-parallel |");
        page.AppendLine("|---|---|---|---|---|");
        foreach (var r in rows.OrderBy(r => r.BytesSentPerWorker))
            page.AppendLine(F($"| {r.Row} | {r.FinalValidationLoss:F4} | {(dp.Count > 0 ? $"{(r.FinalValidationLoss / dp[0].FinalValidationLoss - 1) * 100:+0.0;-0.0} %" : "—")} | {r.BytesSentPerWorker:N0} | {(double)r.DataParallelBytesSentPerWorker / r.BytesSentPerWorker:F0}× fewer |"));
        page.AppendLine();
    }

    private static void Rows(StringBuilder page, List<StudyResult> all, string series, string title)
    {
        page.AppendLine($"### {title}");
        page.AppendLine();
        var dp = Reported(all.Where(r => r.Series == series && r.Row == QualityStudy.DataParallel));
        var fm = Reported(all.Where(r => r.Series == series && r.Row == QualityStudy.FinalMethod));
        if (dp.Count == 0 && fm.Count == 0) { page.AppendLine("Not run yet."); page.AppendLine(); return; }
        string gap = dp.Count > 0 && fm.Count > 0 ? F($"{(fm.Average(r => r.FinalValidationLoss) / dp.Average(r => r.FinalValidationLoss) - 1) * 100:+0.0;-0.0} %") : "—";
        page.AppendLine($"Data-parallel {Rate(dp)}{Loss(dp)}; final method {Rate(fm)}{Loss(fm)}; gap {gap}.");
        page.AppendLine();
    }

    private static void LengthPlot(List<StudyResult> all, string path)
    {
        var points = LengthPoints(all);
        var plot = new ScottPlot.Plot();
        var line = plot.Add.Scatter(points.Select(p => p.Tokens / 1e6).ToArray(), points.Select(p => p.Gap * 100).ToArray());
        line.LegendText = "final method vs data-parallel (θ̂, each at its tuned rate)";
        var target = plot.Add.HorizontalLine(3);
        target.LegendText = "issue 13's goal: 3 %";
        plot.Title("Gap to data-parallel against training tokens (State of the Union, 0.84M parameters)");
        plot.XLabel("training tokens (millions, all workers)");
        plot.YLabel("validation loss gap (%)");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        plot.SavePng(path, 900, 500);
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
