namespace DiLoCo.Benchmarks;

/// <summary>The quality benchmark's PNG: validation loss of θ̂ over steps, one line per row (its first run at the chosen lr).</summary>
internal static class QualityPlot
{
    public static void Save(IReadOnlyList<QualityResult> runs, string path, BenchmarkSettings settings)
    {
        var plot = new ScottPlot.Plot();
        foreach (var run in runs)
        {
            // Step 0 (an untrained model, ~5.5) would squash the interesting range: start at the first evaluation after it.
            var points = run.ValidationSteps.Zip(run.ValidationLosses).Where(p => p.First > 0).ToArray();
            var line = plot.Add.Scatter(points.Select(p => p.First).ToArray(), points.Select(p => p.Second).ToArray());
            line.LegendText = run.Row;
            line.LineWidth = run.Headline ? 2.5f : 1;
            line.MarkerSize = run.Headline ? 5 : 2;
        }
        // The early evaluations of the slow-moving outer parameters sit far above the rest: show the range where rows differ.
        double lowest = runs.SelectMany(r => r.ValidationLosses).DefaultIfEmpty(0).Min();
        plot.Axes.SetLimitsY(lowest - 0.05, lowest + 0.8);
        plot.Title($"Validation loss of the outer parameters, {settings.Steps} steps ({settings.Name})");
        plot.XLabel("step");
        plot.YLabel("validation loss (nats per byte)");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        plot.SavePng(path, 1000, 600);
    }
}
