using System.Text;

namespace DiLoCo.Benchmarks;

/// <summary>
/// Assembles docs/benchmarks.md from the hand-written header (docs/benchmarks/header.md) and the section files the
/// benchmarks write into docs/benchmarks/: study.md (issue 13), quality-&lt;tier&gt;.md, overlap.md, speed.md, scoring.md, sealing.md, in that order.
/// A missing section becomes a line naming the command that writes it.
/// </summary>
internal static class BenchmarksPage
{
    public const string HeaderFile = "header.md";

    /// <param name="sections">The folder holding the header and the section files.</param>
    /// <param name="qualityTier">The quality tier to include (quick, medium, full, …), or null for every quality-*.md there,
    /// the longest run first (the tiers answer different questions: the quick run is the ablation matrix at a short length).</param>
    public static string Assemble(string sections, string? qualityTier)
    {
        string header = Path.Combine(sections, HeaderFile);
        if (!File.Exists(header))
            throw new FileNotFoundException($"The page header {header} is missing: it holds the hand-written introduction of docs/benchmarks.md.", header);
        var page = new StringBuilder(File.ReadAllText(header).TrimEnd()).AppendLine();
        string[] tiers = { "full", "medium", "quick" };
        var quality = qualityTier is not null ? new[] { Path.Combine(sections, $"quality-{qualityTier}.md") }
            : Directory.GetFiles(sections, "quality-*.md").Where(f => !f.Contains("-partial", StringComparison.Ordinal))
                .OrderBy(f => Array.IndexOf(tiers, Path.GetFileNameWithoutExtension(f)["quality-".Length..]) is var i and >= 0 ? i : tiers.Length)
                .ThenBy(f => f, StringComparer.Ordinal).ToArray();
        var parts = new (string? File, string Command)[] { (Path.Combine(sections, "study.md"), "bash build/bench.sh study") }
            .Concat(quality.Select(q => ((string?)q, $"bash build/bench.sh quality{(qualityTier is null ? "" : $" --{qualityTier}")}"))
            .DefaultIfEmpty(((string?)null, "bash build/bench.sh quality"))).Concat(new (string? File, string Command)[]
        {
            (Path.Combine(sections, "overlap.md"), "bash build/bench.sh overlap"),
            (Path.Combine(sections, "speed.md"), "bash build/bench.sh speed"),
            (Path.Combine(sections, "scoring.md"), "bash build/bench.sh scoring"),
            (Path.Combine(sections, "sealing.md"), "bash build/bench.sh sealing"),
        });
        foreach (var (file, command) in parts)
        {
            page.AppendLine();
            page.AppendLine(file is not null && File.Exists(file)
                ? File.ReadAllText(file).TrimEnd()
                : $"_Section {(file is null ? "quality" : Path.GetFileName(file))} not written yet: `{command}`._");
        }
        return page.ToString();
    }

    /// <summary>The newest file matching <paramref name="pattern"/> (a run's partial results excluded), or null.</summary>
    public static string? Newest(string folder, string pattern) =>
        Directory.Exists(folder)
            ? Directory.GetFiles(folder, pattern).Where(f => !f.Contains("-partial", StringComparison.Ordinal))
                .OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault()
            : null;
}
