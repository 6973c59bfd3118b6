using System.Text;

namespace DiLoCo.Benchmarks;

/// <summary>
/// The communication table alone (bytes each worker sent and received, largest message, ratio to data-parallel in FP32
/// and BF16, syncs) for every method of a quality run, from its quality-&lt;tier&gt;.json: no training.
/// </summary>
internal static class CommunicationDocument
{
    public static string Write(IReadOnlyList<QualityResult> results, string source, string commit)
    {
        var text = new StringBuilder();
        text.AppendLine("## Communication");
        text.AppendLine();
        text.AppendLine($"The communication columns of the quality table, without the losses: every method of the run in `{source}` " +
                        $"(commit {commit}). Bytes per worker over the whole run, all-gather accounting (each worker's payload to each of the " +
                        "M − 1 others); data-parallel sends the FP32 gradient every step, and the BF16 column halves it. Command: " +
                        "`bash build/bench.sh comm` (no training).");
        text.AppendLine();
        text.AppendLine($"| method | workers | {BenchmarkDocument.CommunicationHeader} |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        // Bytes depend only on the method (not on the seed or the learning rate): one line per row, in the run's order.
        foreach (var run in results.GroupBy(r => r.Row).Select(g => g.First()))
            text.AppendLine($"| {run.Row} | {run.Workers} | {BenchmarkDocument.CommunicationCells(run)} |");
        return text.ToString();
    }

    /// <summary>The commit a quality section names (its "Commit: SHA." line), or null when the section is missing or names none.</summary>
    public static string? CommitOf(string qualitySection)
    {
        if (!File.Exists(qualitySection)) return null;
        var match = System.Text.RegularExpressions.Regex.Match(File.ReadAllText(qualitySection), @"Commit: ([0-9a-zA-Z]+)\.");
        return match.Success ? match.Groups[1].Value : null;
    }
}
