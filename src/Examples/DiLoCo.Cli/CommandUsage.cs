using System.CommandLine;
using System.CommandLine.Help;
using System.Text;

namespace DiLoCo.Cli;

/// <summary>One-line synopses built from the commands' own options, so that usage text and parser never disagree.</summary>
internal static class CommandUsage
{
    /// <summary>E.g. <c>diloco score --model MODEL.zip --text TEXT</c>: required options first as given, optional ones in brackets.</summary>
    public static string Of(Command command)
    {
        var line = new StringBuilder("diloco ").Append(command.Name);
        foreach (var option in command.Options.Where(o => o is not HelpOption && !o.Hidden))
        {
            string flag = $"{option.Name} {option.HelpName ?? option.Name.TrimStart('-').ToUpperInvariant()}";
            line.Append(' ').Append(option.Required ? flag : $"[{flag}]");
        }
        return line.ToString();
    }

    /// <summary>The tool's overview: every command's synopsis, then what the exit codes mean.</summary>
    public static string Overview(Command root) => $"""
        diloco: train and use Streaming DiLoCo language models (Microsoft.ML.DiLoCo)

        {string.Join(Environment.NewLine, root.Subcommands.Select(c => "  " + Of(c)))}

        Run 'diloco COMMAND --help' for a command's options (values as --name value or --name=value).
        train writes the model zip, the report JSON and the loss-curve PNG named by the config's output section
        (docs/config.md). --data: a text file (one document per file, or per line with --document-per line), a folder
        of *.txt files, a .tsv/.csv file with a header (--column, default the model's text column), or "sotu" (the
        held-out State of the Union speeches).
        Exit codes: 0 ok, 1 failure while running, 2 bad input (command line, config, model or data file),
        130 interrupted (Ctrl-C or SIGTERM; with trainer.checkpointDirectory a checkpoint is written first and
        running the same train command again resumes from it).
        """;
}
