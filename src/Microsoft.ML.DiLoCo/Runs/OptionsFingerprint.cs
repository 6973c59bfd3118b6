using Microsoft.ML.DiLoCo.Data;

namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>
/// What a checkpoint must agree on with the run that resumes it: the rank-consistency description (every option, the
/// model shape, the data fingerprints) without the settings that may change across a restart.
/// </summary>
internal static class OptionsFingerprint
{
    // May differ on resume: the number of workers (elastic restart), where and how often checkpoints go, how often
    // validation is scored, simulated links, and the seed (compared on its own: a null Seed adopts the checkpoint's).
    // Lines of checkpoints written before the run plan that it no longer describes (the text column, the progress listener).
    private static readonly string[] Free =
    {
        "NumberOfWorkers",
        "CheckpointDirectory",
        "CheckpointInterval",
        "KeepCheckpoints",
        "EvaluationInterval",
        "LinkBandwidthBitsPerSecond",
        "LinkLatencyMilliseconds",
        "OnWorkerFailure", // what a failure does, not what training computes
        "ExchangeSecurity", // how exchanges travel, not what they carry (turned on or re-keyed on resume)
        "Seed",
        "effective seed",
        "TextColumnName", // retired lines
        "Progress",
    };

    public static string Of(RunPlan plan, int vocabularySize, long parameterCount, PackedWindows train, PackedWindows? validation,
        string initialWeights) =>
        WithoutFree(RankConsistency.Describe(plan, vocabularySize, parameterCount, train, validation, seed: 0, initialWeights));

    // Also applied to a saved fingerprint: one written before a setting became free still resumes.
    private static string WithoutFree(string description) =>
        string.Join("\n", description.Split('\n').Where(line => !Free.Any(name => line.StartsWith(name + " = ", StringComparison.Ordinal))));

    /// <summary>"name: checkpoint value → this run's value" for every line that differs.</summary>
    public static IReadOnlyList<string> Differences(string saved, string current)
    {
        var a = Parse(WithoutFree(saved));
        var b = Parse(WithoutFree(current));
        return a.Keys.Union(b.Keys).Distinct().OrderBy(k => k, StringComparer.Ordinal)
            .Where(k => a.GetValueOrDefault(k) != b.GetValueOrDefault(k))
            .Select(k => $"{k}: {a.GetValueOrDefault(k) ?? "(absent)"} in the checkpoint, {b.GetValueOrDefault(k) ?? "(absent)"} now")
            .ToArray();
    }

    private static Dictionary<string, string> Parse(string description)
    {
        var lines = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in description.Split('\n'))
        {
            int eq = line.IndexOf(" = ", StringComparison.Ordinal);
            if (eq > 0) lines[line[..eq]] = line[(eq + 3)..];
        }
        return lines;
    }
}
