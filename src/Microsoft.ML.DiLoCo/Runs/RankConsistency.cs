using System.Text;
using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Data;

namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>
/// The check every MPI rank makes before training: all ranks must run the same options on the same data with the
/// same model, or their θ̂ would silently diverge (or their exchanges deadlock on different schedules). Each rank
/// all-gathers a short canonical description (one "name = value" line per setting) instead of a bare hash, so
/// that the error can name what differs; every rank sees the same descriptions and so fails the same way.
/// </summary>
internal static class RankConsistency
{
    /// <summary>The canonical description: the run plan (per-rank fields excluded), model size, seed and data fingerprints.</summary>
    public static string Describe(RunPlan plan, int vocabularySize, long parameterCount,
        PackedWindows train, PackedWindows? validation, int seed, string initialWeights)
    {
        var lines = RunPlanDescription.Lines(plan).ToList();
        lines.Add($"effective seed = {seed}");
        if (initialWeights != "random") lines.Add($"initial weights = {initialWeights}"); // absent for a random start: older checkpoints still match
        lines.Add($"vocabulary size = {vocabularySize}");
        lines.Add($"parameter count = {parameterCount}");
        lines.Add($"training data = {Fingerprint(train)}");
        lines.Add($"validation data = {(validation is null ? "none" : Fingerprint(validation))}");
        return string.Join("\n", lines);
    }

    /// <summary>All-gathers the descriptions and throws on every rank, naming each differing setting, if any rank's differs from rank 0's.</summary>
    /// <exception cref="InvalidOperationException">The ranks disagree.</exception>
    public static void Check(ICollective collective, string description)
    {
        var gathered = collective.AllGatherAsync(Encoding.UTF8.GetBytes(description)).GetAwaiter().GetResult();
        var reference = Parse(gathered[0]);
        var differences = new List<string>();
        for (int rank = 1; rank < gathered.Length; rank++)
        {
            var other = Parse(gathered[rank]);
            foreach (var name in reference.Keys.Union(other.Keys).Distinct())
            {
                reference.TryGetValue(name, out var a);
                other.TryGetValue(name, out var b);
                if (a != b) differences.Add($"{name} is {a ?? "(absent)"} on rank 0 but {b ?? "(absent)"} on rank {rank}");
            }
        }
        if (differences.Count > 0)
            throw new InvalidOperationException(
                "The MPI ranks were started with different settings or data; every rank must train with the same options on the same text: " +
                string.Join("; ", differences.Take(10)) + (differences.Count > 10 ? $"; and {differences.Count - 10} more" : "") + ".");
    }

    private static Dictionary<string, string> Parse(ReadOnlyMemory<byte> description)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in Encoding.UTF8.GetString(description.Span).Split('\n'))
        {
            int eq = line.IndexOf(" = ", StringComparison.Ordinal);
            if (eq > 0) result[line[..eq]] = line[(eq + 3)..];
        }
        return result;
    }

    /// <summary>Window count, token count and an FNV-1a hash of every token: equal text on every rank, cheaply checked.</summary>
    private static string Fingerprint(PackedWindows windows)
    {
        ulong hash = 14695981039346656037UL;
        for (int i = 0; i < windows.Count; i++)
            foreach (int token in windows.GetWindow(i)[..windows.ContextLength])
                hash = (hash ^ (uint)token) * 1099511628211UL;
        return $"{windows.Count} windows, {windows.TokenCount} tokens, hash {hash:x16}";
    }
}
