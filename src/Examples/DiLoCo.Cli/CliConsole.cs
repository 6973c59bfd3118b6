namespace DiLoCo.Cli;

/// <summary>Where a command writes, whether its output is a terminal, and the Ctrl-C / SIGTERM token.</summary>
internal sealed record CliConsole(TextWriter Out, TextWriter Error, bool Interactive, CancellationToken Interruption);
