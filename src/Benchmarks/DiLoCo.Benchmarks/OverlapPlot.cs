using System.Globalization;

namespace DiLoCo.Benchmarks;

/// <summary>
/// The overlap benchmark's PNG: compute utilisation versus bandwidth on a log axis, the model's curve per method (lines),
/// the measured sweep (median markers, min–max bars) and, when measured, the runs over a real shaped link (open markers).
/// </summary>
internal static class OverlapPlot
{
    private const double LowestBits = 1e5, HighestBits = 1e10;

    public static void Save(OverlapResults results, OverlapLinkResults? link, string path)
    {
        var plot = new ScottPlot.Plot();
        var legend = new List<ScottPlot.LegendItem>();
        for (int i = 0; i < results.Methods.Count; i++)
        {
            var method = results.Methods[i];
            var color = plot.Add.Palette.GetColor(i);
            // The model's curve: 200 bandwidths evenly spaced in log10 W.
            double[] logW = Enumerable.Range(0, 201).Select(k => Math.Log10(LowestBits) + k * (Math.Log10(HighestBits) - Math.Log10(LowestBits)) / 200).ToArray();
            double[] u = logW.Select(x => 100 * OverlapBenchmark.Utilisation(method.StepsPerSync, method.OverlapSteps, method.ComputeSecondsPerStep,
                method.BytesPerSync, Math.Pow(10, x), results.LatencyMilliseconds)).ToArray();
            var curve = plot.Add.Scatter(logW, u);
            curve.Color = color;
            curve.LineWidth = 2;
            curve.MarkerSize = 0;
            legend.Add(new ScottPlot.LegendItem { LabelText = ShortName(method.Method), LineColor = color, LineWidth = 2, MarkerShape = ScottPlot.MarkerShape.None });

            var points = results.Sweep.Where(p => p.Method == method.Method && p.BandwidthBitsPerSecond > 0).ToArray();
            foreach (var p in points)
            {
                var bar = plot.Add.Line(Math.Log10(p.BandwidthBitsPerSecond), 100 * p.MinimumUtilisation, Math.Log10(p.BandwidthBitsPerSecond), 100 * p.MaximumUtilisation);
                bar.Color = color;
                bar.LineWidth = 2;
                bar.MarkerSize = 0;
            }
            var measured = plot.Add.Scatter(points.Select(p => Math.Log10(p.BandwidthBitsPerSecond)).ToArray(), points.Select(p => 100 * p.MedianUtilisation).ToArray());
            measured.Color = color;
            measured.LineWidth = 0;
            measured.MarkerSize = 9;
            measured.MarkerShape = ScottPlot.MarkerShape.FilledCircle;

            if (link?.Runs.FirstOrDefault(r => r.Method == method.Method) is { } real)
            {
                var onLink = plot.Add.Scatter(new[] { Math.Log10(link.RateBitsPerSecond) }, new[] { 100 * real.MeasuredUtilisation });
                onLink.Color = color;
                onLink.LineWidth = 0;
                onLink.MarkerSize = 14;
                onLink.MarkerShape = ScottPlot.MarkerShape.OpenDiamond;
            }
        }

        var gray = ScottPlot.Colors.DimGray;
        legend.Add(new ScottPlot.LegendItem { LabelText = "lines: the model", LineColor = gray, LineWidth = 2, MarkerShape = ScottPlot.MarkerShape.None });
        legend.Add(new ScottPlot.LegendItem
        {
            LabelText = $"measured, simulated link (median, min–max of {results.Repeats})", LineWidth = 0,
            MarkerShape = ScottPlot.MarkerShape.FilledCircle, MarkerFillColor = gray, MarkerLineColor = gray, MarkerSize = 9,
        });
        if (link is not null)
            legend.Add(new ScottPlot.LegendItem
            {
                LabelText = "measured, real link (tc tbf, 2 MPI ranks, no latency)", LineWidth = 0,
                MarkerShape = ScottPlot.MarkerShape.OpenDiamond, MarkerLineColor = gray, MarkerSize = 12,
            });
        var decades = Enumerable.Range((int)Math.Log10(LowestBits), (int)(Math.Log10(HighestBits) - Math.Log10(LowestBits)) + 1).Select(d => (double)d).ToArray();
        plot.Axes.Bottom.SetTicks(decades, decades.Select(d => OverlapBenchmark.Bandwidth(Math.Pow(10, d))).ToArray());
        plot.Axes.Left.SetTicks(new double[] { 0, 20, 40, 60, 80, 100 }, new[] { "0 %", "20 %", "40 %", "60 %", "80 %", "100 %" });
        plot.Axes.SetLimits(Math.Log10(LowestBits) - 0.1, Math.Log10(HighestBits) + 0.1, -2, 104);
        plot.Title(string.Create(CultureInfo.InvariantCulture,
            $"Compute utilisation versus bandwidth ({results.Workers} workers, latency {results.LatencyMilliseconds:G} ms in the model and the simulated link)"));
        plot.XLabel("bandwidth per direction (log scale)");
        plot.YLabel("compute utilisation");
        plot.ShowLegend(legend, ScottPlot.Alignment.LowerRight);
        plot.SavePng(path, 1100, 650);
    }

    /// <summary>The method's name up to its settings in parentheses, to keep the legend narrow.</summary>
    private static string ShortName(string method)
    {
        int paren = method.IndexOf(" (", StringComparison.Ordinal);
        return paren > 0 ? method[..paren] : method;
    }
}
