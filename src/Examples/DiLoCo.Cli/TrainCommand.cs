using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.DiLoCo;
using Microsoft.ML.DiLoCo.Configuration;
using Microsoft.ML.Runtime;

namespace DiLoCo.Cli;

/// <summary><c>diloco train --config FILE [--output-dir DIR]</c>: config → Fit (live progress) → report JSON, loss PNG, model zip.</summary>
internal static class TrainCommand
{
    public static int Run(CommandArguments flags, TextWriter stdout, TextWriter stderr, bool interactive, CancellationToken interruption)
    {
        string configPath = flags.Required("--config");
        string outputBase = Path.GetFullPath(flags.String("--output-dir") ?? Directory.GetCurrentDirectory());
        flags.RejectUnused();

        var config = TrainingConfig.Load(configPath);
        var o = config.Trainer;
        // Like output.directory, a relative checkpoint folder is relative to where the tool runs (or --output-dir).
        string? checkpoints = o.CheckpointDirectory is null ? null : Path.GetFullPath(Path.Combine(outputBase, o.CheckpointDirectory));
        var ml = new MLContext(seed: o.Seed ?? 1);
        stdout.WriteLine($"Config {Path.GetFullPath(configPath)} (version {config.Version}, {config.Scenario})");
        var data = config.LoadData(ml);
        stdout.WriteLine($"Data: {data.TrainDocuments:N0} training documents" +
                         (data.Validation is null ? "" : $", {data.ValidationDocuments:N0} held out ({config.Validation.Split})"));
        stdout.WriteLine($"Training {o.Algorithm}: {o.TrainingSteps} steps, M = {o.NumberOfWorkers}, H = {o.InnerSteps}, P = {o.NumberOfFragments}, " +
                         $"wire {o.WireFormat}, tokenizer {o.Tokenizer}, {o.Model.NumberOfLayers} layers × {o.Model.EmbeddingSize} wide, context {o.Model.ContextLength}");

        var progress = new ProgressBar(stdout, interactive);
        ml.Log += (_, e) =>
        {
            // Validation losses come through ml.Log; the per-step line is the bar's job.
            if (e.Kind == ChannelMessageKind.Info && e.RawMessage.StartsWith("step ", StringComparison.Ordinal)
                && e.RawMessage.Contains("validation loss", StringComparison.Ordinal)
                && e.Source.StartsWith(nameof(StreamingDiLoCoTrainer), StringComparison.Ordinal))
                progress.WriteMessage("  " + e.RawMessage);
            else if (e.Kind == ChannelMessageKind.Info && e.Source.StartsWith(nameof(StreamingDiLoCoTrainer), StringComparison.Ordinal)
                     && (e.RawMessage.StartsWith("Resuming from ", StringComparison.Ordinal) || e.RawMessage.StartsWith("Elastic restart ", StringComparison.Ordinal)
                         || e.RawMessage.StartsWith("Refused checkpoint ", StringComparison.Ordinal)))
                progress.WriteMessage(e.RawMessage);
        };
        var clock = Stopwatch.StartNew();
        LanguageModelTransformer model;
        try
        {
            var options = config.CreateTrainerOptions(data.Validation, progress);
            options.CheckpointDirectory = checkpoints;
            options.CancellationToken = interruption;
            model = ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(data.Train);
        }
        catch (OperationCanceledException e) when (interruption.IsCancellationRequested)
        {
            progress.Complete();
            ReportInterruption(e, checkpoints, stderr);
            return ExitCodes.Interrupted;
        }
        finally
        {
            progress.Complete();
        }
        var report = model.TrainingReport!;
        stdout.WriteLine($"Trained in {clock.Elapsed.TotalSeconds:F1} s.");
        stdout.WriteLine(report.Summarize());

        var output = config.Output;
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
        if (output.Resolve(output.Report, outputBase) is { } reportPath)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(reportPath)!);
            File.WriteAllText(reportPath, report.ToJson());
            stdout.WriteLine($"Report:     {reportPath}");
        }
        if (output.Resolve(output.LossCurve, outputBase) is { } curvePath)
        {
            LossCurvePlot.Save(report, curvePath);
            stdout.WriteLine($"Loss curve: {curvePath}");
        }
        if (output.Resolve(output.Model, outputBase) is { } modelPath)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(modelPath)!);
            // Write beside and move, so a failed save never leaves a truncated zip under the final name.
            string partial = modelPath + ".partial";
            try
            {
                ml.Model.Save(model, data.Train.Schema, partial);
                File.Move(partial, modelPath, overwrite: true);
            }
            finally
            {
                File.Delete(partial);
            }
            stdout.WriteLine($"Model:      {modelPath}");
        }
        return ExitCodes.Success;
    }

    private static void ReportInterruption(OperationCanceledException e, string? checkpoints, TextWriter stderr)
    {
        string? newest = checkpoints is not null && Directory.Exists(checkpoints)
            ? Directory.GetFiles(checkpoints, "checkpoint-*.dlc").Order(StringComparer.Ordinal).LastOrDefault()
            : null;
        stderr.WriteLine($"interrupted: {e.Message}");
        stderr.WriteLine(newest is not null
            ? $"Checkpoint: {newest}. To resume, run the same command again (same config and --output-dir)."
            : "No checkpoint was written (set trainer.checkpointDirectory in the config to resume interrupted runs); running the command again starts over.");
        stderr.Flush();
    }
}
