using System.CommandLine;
using System.CommandLine.Help;
using System.Reflection;
using DiLoCo.Configuration;

namespace DiLoCo.Cli;

/// <summary>The tool's entry point, callable in-process (tests) as well as from <c>Program</c>. Parsing: System.CommandLine.</summary>
public static class DiLoCoCli
{
    /// <summary>Runs one command; returns the exit code (<see cref="ExitCodes"/>).</summary>
    /// <param name="args">The command line, command first.</param>
    /// <param name="stdout">Where results, help and progress go.</param>
    /// <param name="stderr">Where errors go.</param>
    /// <param name="interactive">True when <paramref name="stdout"/> is a terminal: the progress display redraws in place.</param>
    /// <param name="interruption">Cancelled on Ctrl-C / SIGTERM: training stops at a checkpoint (<see cref="ExitCodes.Interrupted"/>).</param>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, bool interactive = false, CancellationToken interruption = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        var console = new CliConsole(stdout, stderr, interactive, interruption);
        var root = Commands(console);
        switch (args)
        {
            case []:
                stderr.WriteLine(CommandUsage.Overview(root));
                return ExitCodes.BadInput;
            case ["help" or "--help" or "-h" or "-?"]:
                stdout.WriteLine(CommandUsage.Overview(root));
                return ExitCodes.Success;
            case ["help", var command]:
                args = [command, "--help"]; // `diloco help train` = `diloco train --help`
                break;
        }

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0) return UsageError(parsed, root, args, stderr);
        try
        {
            return parsed.Invoke(new InvocationConfiguration
            {
                Output = stdout,
                Error = stderr,
                EnableDefaultExceptionHandler = false, // exceptions map to exit codes below
                ProcessTerminationTimeout = null,      // Program handles Ctrl-C / SIGTERM (checkpoint, then 130)
            });
        }
        catch (Exception e) when (BadInputOf(e) is { } bad)
        {
            stderr.WriteLine($"error: {bad.Message}");
            return ExitCodes.BadInput;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"failed: {e.GetType().Name}: {e.Message}");
            return ExitCodes.Failure;
        }
    }

    // A plain Command named "diloco", not RootCommand (which takes the host's executable name: "dotnet", or the test runner).
    private static Command Commands(CliConsole console) => new("diloco", "train and use Streaming DiLoCo language models (Microsoft.ML.DiLoCo)")
    {
        new HelpOption { Recursive = true }, // -h, --help, -? on every command
        TrainCommand.Create(console),
        EvaluateCommand.Create(console),
        ScoreCommand.Create(console),
        GenerateCommand.Create(console),
    };

    /// <summary>Every parse error, then the command's usage line and where its help is: exit code 2.</summary>
    private static int UsageError(ParseResult parsed, Command root, string[] args, TextWriter stderr)
    {
        var command = parsed.CommandResult.Command;
        if (command == root)
        {
            string first = args[0];
            stderr.WriteLine(first.StartsWith('-')
                ? $"error: unknown option '{first}': a command comes first."
                : $"error: unknown command '{first}'. Commands: {string.Join(", ", root.Subcommands.Select(c => c.Name))}, help.");
            stderr.WriteLine("Run 'diloco help' for usage.");
            return ExitCodes.BadInput;
        }
        foreach (var error in parsed.Errors) stderr.WriteLine($"error: {command.Name}: {error.Message}");
        stderr.WriteLine($"usage: {CommandUsage.Of(command)}");
        stderr.WriteLine($"Run 'diloco {command.Name} --help' for details.");
        return ExitCodes.BadInput;
    }

    /// <summary>
    /// The exception the user can fix in what they passed (config, model or data file), or null for a failure while
    /// running. ML.NET's Model.Load calls our loader by reflection: the file's problem is the inner exception.
    /// </summary>
    private static Exception? BadInputOf(Exception e)
    {
        if (e is TargetInvocationException { InnerException: { } inner }) e = inner;
        return e is TrainingConfigException or ArgumentException or FileNotFoundException or DirectoryNotFoundException
            or InvalidDataException or FormatException ? e : null;
    }
}
