using Microsoft.ML.DiLoCo.Configuration;

namespace DiLoCo.Cli;

/// <summary>The tool's entry point, callable in-process (tests) as well as from <c>Program</c>.</summary>
public static class DiLoCoCli
{
    /// <summary>The usage text.</summary>
    public const string Usage = """
        diloco: train and use Streaming DiLoCo language models (Microsoft.ML.DiLoCo)

          diloco train    --config FILE.json [--output-dir DIR]
          diloco evaluate --model MODEL.zip --data PATH|sotu [--column NAME] [--document-per file|line]
          diloco score    --model MODEL.zip --text "..."
          diloco generate --model MODEL.zip --prompt "..." [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S]

        train writes the model zip, the report JSON and the loss-curve PNG named by the config's output section
        (docs/config.md). --data: a text file (one document per file, or per line with --document-per line), a folder
        of *.txt files, a .tsv/.csv file with a header (--column, default the model's text column), or "sotu" (the
        held-out State of the Union speeches).
        Exit codes: 0 ok, 1 failure while running, 2 bad input (command line, config, model or data file),
        130 interrupted (Ctrl-C or SIGTERM; with trainer.checkpointDirectory a checkpoint is written first and
        running the same train command again resumes from it).
        """;

    /// <summary>Runs one command; returns the exit code (<see cref="ExitCodes"/>).</summary>
    /// <param name="args">The command line, command first.</param>
    /// <param name="stdout">Where results and progress go.</param>
    /// <param name="stderr">Where errors go.</param>
    /// <param name="interactive">True when <paramref name="stdout"/> is a terminal: the progress bar redraws in place.</param>
    /// <param name="interruption">Cancelled on Ctrl-C / SIGTERM: training stops at a checkpoint (<see cref="ExitCodes.Interrupted"/>).</param>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, bool interactive = false, CancellationToken interruption = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            (args.Length == 0 ? stderr : stdout).WriteLine(Usage);
            return args.Length == 0 ? ExitCodes.BadInput : ExitCodes.Success;
        }
        try
        {
            var flags = new CommandArguments(args[0], args.Skip(1));
            return args[0] switch
            {
                "train" => TrainCommand.Run(flags, stdout, stderr, interactive, interruption),
                "evaluate" => EvaluateCommand.Run(flags, stdout),
                "score" => ScoreCommand.Run(flags, stdout),
                "generate" => GenerateCommand.Run(flags, stdout),
                _ => throw new UsageException($"unknown command '{args[0]}'. Commands: train, evaluate, score, generate, help."),
            };
        }
        catch (Exception e) when (IsBadInput(e))
        {
            stderr.WriteLine($"error: {e.Message}");
            if (e is UsageException) stderr.WriteLine("Run 'diloco help' for usage.");
            return ExitCodes.BadInput;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"failed: {e.GetType().Name}: {e.Message}");
            return ExitCodes.Failure;
        }
    }

    // Bad input is what the user can fix in what they passed; everything else is a failure while running.
    private static bool IsBadInput(Exception e) => e is UsageException or TrainingConfigException or ArgumentException
        or FileNotFoundException or DirectoryNotFoundException or InvalidDataException or FormatException;
}
