using Microsoft.ML.DiLoCo;

namespace DiLoCo.Cli;

/// <summary>
/// The loss-curve PNG written beside the model: mean inner loss per step and the validation loss of the outer
/// parameters θ̂. Drawn with ScottPlot 5 (SkiaSharp; the NoDependencies native build needs no system fonts
/// or fontconfig, so it works on a bare Debian image).
/// </summary>
internal static class LossCurvePlot
{
    public const int Width = 900, Height = 500;

    public static void Save(TrainingReport report, string path)
    {
        var plot = new ScottPlot.Plot();
        if (report.MeanInnerLoss.Count > 0)
        {
            double[] steps = Enumerable.Range(1, report.MeanInnerLoss.Count).Select(s => (double)s).ToArray();
            double[] loss = report.MeanInnerLoss.Select(l => (double)l).ToArray();
            var inner = plot.Add.ScatterLine(steps, loss);
            inner.LegendText = "inner loss (mean over workers)";
            inner.LineWidth = 1;
        }
        if (report.Validation.Count > 0)
        {
            var validation = plot.Add.Scatter(report.Validation.Select(v => (double)v.Step).ToArray(), report.Validation.Select(v => v.Loss).ToArray());
            validation.LegendText = "validation loss (outer parameters)"; // the font has no combining hat for θ̂
            validation.LineWidth = 2;
            validation.MarkerSize = 7;
        }
        plot.Title($"{report.Algorithm}: M = {report.NumberOfWorkers}, H = {report.InnerSteps}, {report.ParameterCount:N0} parameters");
        plot.XLabel("step");
        plot.YLabel("loss (nats per token)");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        plot.SavePng(path, Width, Height);
    }
}
