namespace DiLoCo.Benchmarks;

/// <summary>
/// docs/benchmarks/speed.png: the GPT-2-vocabulary step's phases side by side, ours against PyTorch (horizontal bars,
/// milliseconds), so the phase that holds the gap stands out. ScottPlot 5 with SkiaSharp's NoDependencies natives.
/// </summary>
internal static class SpeedPlot
{
    public const int Width = 1000, Height = 560;

    public static void Save(SpeedResults results, string path)
    {
        var phases = results.Profile.Where(p => !p.Phase.StartsWith("whole", StringComparison.Ordinal)).Reverse().ToList();
        var ours = ScottPlot.Colors.C0;
        var theirs = ScottPlot.Colors.C1;
        var bars = new List<ScottPlot.Bar>();
        for (int i = 0; i < phases.Count; i++)
        {
            bars.Add(new ScottPlot.Bar { Position = i * 3 + 1, Value = phases[i].DotNet * 1000, FillColor = ours, Size = 0.9 });
            bars.Add(new ScottPlot.Bar { Position = i * 3, Value = phases[i].PyTorch * 1000, FillColor = theirs, Size = 0.9 });
        }
        var plot = new ScottPlot.Plot();
        plot.Add.Bars(bars).Horizontal = true;
        plot.Axes.Left.SetTicks(phases.Select((_, i) => i * 3 + 0.5).ToArray(), phases.Select(p => p.Phase).ToArray());
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Axes.Margins(left: 0, bottom: 0.02);
        plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = "ours (TorchSharp 0.107, libtorch 2.10)", FillColor = ours });
        plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = $"PyTorch {results.PyTorchVersion}", FillColor = theirs });
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        plot.Title($"One inner step, {results.ProfileCase}: median ms per phase");
        plot.XLabel("milliseconds");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        plot.SavePng(path, Width, Height);
    }
}
