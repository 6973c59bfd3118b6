using DiLoCo.Configuration;
using Microsoft.ML;
using Microsoft.ML.DiLoCo;

namespace DiLoCo.Cli;

/// <summary>
/// What <c>diloco train</c> writes after Fit, most valuable first: the model zip, then the report JSON, then the
/// loss-curve PNG. A failure in a later file leaves the earlier ones in place and says so (exit code 1).
/// </summary>
internal static class TrainingOutputs
{
    public static int Write(OutputConfig output, string outputBase, MLContext ml, LanguageModelTransformer model, DataViewSchema schema, CliConsole console)
    {
        var report = model.TrainingReport!;
        var stdout = console.Out;
        if (!report.IsRoot)
        {
            // Under MPI every rank ends with the same θ̂; rank 0 writes the model, the report and the curve.
            // The other ranks write only their own report beside it, so no two processes write the same file.
            if (output.Resolve(output.Report, outputBase) is { } rankReportPath)
            {
                string path = Path.ChangeExtension(rankReportPath, $".rank{report.Rank}.json");
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.WriteAllText(path, report.ToJson());
                stdout.WriteLine($"Rank {report.Rank} report: {path}");
            }
            return ExitCodes.Success;
        }

        var written = new List<string>();
        if (output.Resolve(output.Model, outputBase) is { } modelPath)
        {
            SaveModel(ml, model, schema, modelPath);
            stdout.WriteLine($"Model:      {modelPath}");
            written.Add(modelPath);
        }
        if (output.Resolve(output.Report, outputBase) is { } reportPath)
        {
            if (!TryWrite("the report", reportPath, written, console, () =>
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(reportPath)!);
                    File.WriteAllText(reportPath, report.ToJson());
                })) return ExitCodes.Failure;
            stdout.WriteLine($"Report:     {reportPath}");
            written.Add(reportPath);
        }
        if (output.Resolve(output.LossCurve, outputBase) is { } curvePath)
        {
            if (!TryWrite("the loss curve", curvePath, written, console, () => LossCurvePlot.Save(report, curvePath))) return ExitCodes.Failure;
            stdout.WriteLine($"Loss curve: {curvePath}");
        }
        return ExitCodes.Success;
    }

    /// <summary>Writes beside and moves, so a failed save never leaves a truncated zip under the final name.</summary>
    private static void SaveModel(MLContext ml, LanguageModelTransformer model, DataViewSchema schema, string modelPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(modelPath)!);
        string partial = modelPath + ".partial";
        try
        {
            ml.Model.Save(model, schema, partial);
            File.Move(partial, modelPath, overwrite: true);
        }
        finally
        {
            File.Delete(partial);
        }
    }

    private static bool TryWrite(string what, string path, List<string> written, CliConsole console, Action write)
    {
        try
        {
            write();
            return true;
        }
        catch (Exception e)
        {
            console.Error.WriteLine($"failed: could not write {what} to {path}: {e.GetType().Name}: {e.Message}");
            if (written.Count > 0) console.Error.WriteLine($"Already saved: {string.Join(", ", written)}.");
            return false;
        }
    }
}
