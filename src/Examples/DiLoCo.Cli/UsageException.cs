namespace DiLoCo.Cli;

/// <summary>The command line is wrong (unknown command or flag, missing or malformed value): exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
