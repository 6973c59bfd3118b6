namespace DiLoCo.Cli;

/// <summary>The tool's exit codes (documented in docs/config.md and the usage text).</summary>
public static class ExitCodes
{
    /// <summary>The command did what it was asked.</summary>
    public const int Success = 0;

    /// <summary>Something failed while running (training diverged, saving failed, an unexpected error).</summary>
    public const int Failure = 1;

    /// <summary>Bad input: unknown command or flag, a missing or invalid config file, a missing model or data file.</summary>
    public const int BadInput = 2;

    /// <summary>
    /// Training was interrupted (Ctrl-C or SIGTERM, 128 + SIGINT as shells report it). With
    /// <c>trainer.checkpointDirectory</c> set, a checkpoint was written first and the same command resumes from it.
    /// </summary>
    public const int Interrupted = 130;
}
