using System.Text;

/// <summary>
/// Writes each result line to stdout in one write call. Console.Out on a pipe flushes its encoder in 256-byte pieces, and
/// mpirun forwards every rank's pieces as they come, so long lines from different ranks could interleave mid-line.
/// </summary>
internal static class RankOutput
{
    private static readonly Stream Stdout = Console.OpenStandardOutput();
    private static readonly object Gate = new();

    public static void WriteLine(string line)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(line + "\n");
        lock (Gate)
        {
            Console.Out.Flush();
            Stdout.Write(bytes, 0, bytes.Length);
            Stdout.Flush();
        }
    }
}
