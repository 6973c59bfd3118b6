using Microsoft.ML.DiLoCo.Data;
using Microsoft.ML.DiLoCo.Training;

namespace Microsoft.ML.DiLoCo.Checkpointing;

/// <summary>
/// What a checkpoint must agree on with the run that resumes it: the rank-consistency description (every option, the
/// model shape, the data fingerprints) without the settings that may change across a restart.
/// </summary>
internal static class OptionsFingerprint
{
    // May differ on resume: the number of workers (elastic restart), where and how often checkpoints go, how often and how
    // much validation is scored, simulated links, the progress listener (a resumed tool or test may listen differently), and
    // the seed (compared on its own: a null Seed adopts the checkpoint's).
    private static readonly string[] Free =
    {
        nameof(StreamingDiLoCoTrainer.Options.NumberOfWorkers),
        nameof(StreamingDiLoCoTrainer.Options.CheckpointDirectory),
        nameof(StreamingDiLoCoTrainer.Options.CheckpointInterval),
        nameof(StreamingDiLoCoTrainer.Options.KeepCheckpoints),
        nameof(StreamingDiLoCoTrainer.Options.EvaluationInterval),
        nameof(StreamingDiLoCoTrainer.Options.LinkBandwidthBitsPerSecond),
        nameof(StreamingDiLoCoTrainer.Options.LinkLatencyMilliseconds),
        nameof(StreamingDiLoCoTrainer.Options.OnWorkerFailure), // what a failure does, not what training computes
        nameof(StreamingDiLoCoTrainer.Options.ExchangeSecurity), // how exchanges travel, not what they carry (turned on or re-keyed on resume)
        nameof(StreamingDiLoCoTrainer.Options.Progress),
        nameof(StreamingDiLoCoTrainer.Options.Seed),
        "effective seed",
    };

    public static string Of(StreamingDiLoCoTrainer.Options o, int vocabularySize, long parameterCount, PackedWindows train, PackedWindows? validation,
        string initialWeights) =>
        WithoutFree(RankConsistency.Describe(o, vocabularySize, parameterCount, train, validation, seed: 0, initialWeights));

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
