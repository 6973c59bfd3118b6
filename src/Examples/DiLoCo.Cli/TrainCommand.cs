using System.CommandLine;
using System.Diagnostics;
using DiLoCo.Configuration;
using Microsoft.ML;
using Microsoft.ML.DiLoCo;
using Microsoft.ML.Runtime;

namespace DiLoCo.Cli;

/// <summary>
/// <c>diloco train --config FILE [--from MODEL.zip] [--output-dir DIR] [--metrics-port PORT]</c>: config → Fit (live progress) → model zip,
/// then report JSON and loss PNG (the model first: a failure while drawing the plot never loses a trained model).
/// </summary>
internal static class TrainCommand
{
    public static Command Create(CliConsole console)
    {
        var config = CliOptions.Text("--config", "FILE.json", "The training config (docs/config.md).", required: true);
        var from = CliOptions.Text("--from", "MODEL.zip",
            "Fine-tune: start from this saved model's weights (its tokenizer and architecture must be the config's); overrides the config's initialModel.");
        var outputDir = CliOptions.Text("--output-dir", "DIR", "Where relative output and checkpoint paths start (default: the current folder).");
        var metricsPort = CliOptions.Integer("--metrics-port", "PORT",
            "Serve the training metrics for Prometheus at http://localhost:PORT/metrics while training (under mpirun: PORT + local rank).", min: 1, max: 65535);
        var metricsHost = CliOptions.Text("--metrics-host", "HOST", "The host name --metrics-port listens on (default localhost; * for every interface).");
        var command = new Command("train", "Train a language model with Streaming DiLoCo from a JSON config.") { config, from, outputDir, metricsPort, metricsHost };
        command.SetAction(p => Run(p.GetRequiredValue(config), p.GetValue(from), Path.GetFullPath(p.GetValue(outputDir) ?? Directory.GetCurrentDirectory()),
            p.GetValue(metricsPort), p.GetValue(metricsHost) ?? "localhost", console));
        return command;
    }

    private static int Run(string configPath, string? from, string outputBase, int? metricsPort, string metricsHost, CliConsole console)
    {
        var stdout = console.Out;
        var config = TrainingConfig.Load(configPath);
        var o = config.Trainer;
        if (from is not null) o.InitialModelPath = Path.GetFullPath(from);
        // Like output.directory, a relative checkpoint folder is relative to where the tool runs (or --output-dir).
        string? checkpoints = o.CheckpointDirectory is null ? null : Path.GetFullPath(Path.Combine(outputBase, o.CheckpointDirectory));
        var ml = new MLContext(seed: o.Seed ?? 1);
        stdout.WriteLine($"Config {Path.GetFullPath(configPath)} (version {config.Version}, {config.Scenario})");
        var data = config.LoadData(ml);
        stdout.WriteLine($"Data: {data.TrainDocuments:N0} training documents" +
                         (data.Validation is null ? "" : $", {data.ValidationDocuments:N0} held out ({config.Validation.Split})"));
        stdout.WriteLine($"Training {o.Algorithm}: {o.TrainingSteps} steps, M = {o.NumberOfWorkers}, H = {o.InnerSteps}, P = {o.NumberOfFragments}, " +
                         $"wire {o.WireFormat}, tokenizer {o.Tokenizer}, {o.Model.NumberOfLayers} layers × {o.Model.EmbeddingSize} wide, context {o.Model.ContextLength}");
        using var metrics = metricsPort is { } port ? MetricsEndpoint.Start(port, metricsHost, stdout) : null;

        var progress = new TrainingProgressDisplay(stdout, console.Interactive);
        ml.Log += (_, e) =>
        {
            // Validation losses and resume notices print above the bar; the per-step line is the bar's job.
            if (e.Kind != ChannelMessageKind.Info || !e.Source.StartsWith(nameof(StreamingDiLoCoTrainer), StringComparison.Ordinal)) return;
            string m = e.RawMessage;
            if (m.StartsWith("step ", StringComparison.Ordinal) && m.Contains("validation loss", StringComparison.Ordinal)) progress.WriteMessage("  " + m);
            else if (m.StartsWith("Resuming from ", StringComparison.Ordinal) || m.StartsWith("Elastic restart ", StringComparison.Ordinal)
                     || m.StartsWith("Refused checkpoint ", StringComparison.Ordinal)) progress.WriteMessage(m);
        };
        var clock = Stopwatch.StartNew();
        LanguageModelTransformer model;
        try
        {
            var options = config.CreateTrainerOptions(data.Validation, progress);
            options.CheckpointDirectory = checkpoints;
            if (options.InitialModelPath is { } start) stdout.WriteLine($"Fine-tuning from {start}");
            options.CancellationToken = console.Interruption;
            model = progress.Run(() => ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(data.Train));
        }
        catch (OperationCanceledException e) when (console.Interruption.IsCancellationRequested)
        {
            ReportInterruption(e, checkpoints, console.Error);
            return ExitCodes.Interrupted;
        }
        var report = model.TrainingReport!;
        stdout.WriteLine($"Trained in {clock.Elapsed.TotalSeconds:F1} s.");
        stdout.WriteLine(report.Summarize());
        return TrainingOutputs.Write(config.Output, outputBase, ml, model, data.Train.Schema, console);
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
