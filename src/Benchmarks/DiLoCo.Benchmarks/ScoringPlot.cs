namespace DiLoCo.Benchmarks;

/// <summary>The scoring benchmark's PNG: median tokens/s of every path, grouped by rows and threads, with the spread as error bars.</summary>
internal static class ScoringPlot
{
    public static void Save(ScoringResults results, string path)
    {
        var plot = new ScottPlot.Plot();
        var paths = results.Scoring.Select(t => t.Path).Distinct().ToList();
        var groups = results.Scoring.GroupBy(t => (t.Case, t.Threads)).ToList();
        var palette = new ScottPlot.Palettes.Category10();
        double groupWidth = paths.Count + 1;
        for (int g = 0; g < groups.Count; g++)
            foreach (var t in groups[g])
            {
                int p = paths.IndexOf(t.Path);
                double median = t.Tokens / Statistics.Median(t.Seconds);
                var bar = new ScottPlot.Bar
                {
                    Position = g * groupWidth + p,
                    Value = median,
                    FillColor = palette.GetColor(p),
                    // Error bars are symmetric: half the range between the slowest and fastest repetition.
                    Error = (t.Tokens / t.Seconds.Min() - t.Tokens / t.Seconds.Max()) / 2,
                };
                plot.Add.Bars(new[] { bar });
            }
        for (int p = 0; p < paths.Count; p++)
            plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = paths[p], FillColor = palette.GetColor(p) });
        plot.Axes.Bottom.SetTicks(
            groups.Select((_, g) => g * groupWidth + (paths.Count - 1) / 2.0).ToArray(),
            groups.Select(g => $"{g.Key.Case}, {g.Key.Threads} thread{(g.Key.Threads == 1 ? "" : "s")}").ToArray());
        // Room above the tallest bar for the legend.
        double top = results.Scoring.Max(t => t.Tokens / t.Seconds.Min());
        plot.Axes.SetLimitsY(0, top * 1.45);
        plot.Title("Scoring throughput: forward pass, Transform, PredictionEngine (median of repetitions)");
        plot.YLabel("tokens/s");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        plot.SavePng(path, 1200, 600);
    }
}
