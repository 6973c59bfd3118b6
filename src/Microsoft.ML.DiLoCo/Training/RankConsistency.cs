using System.Globalization;
using System.Reflection;
using System.Text;
using Microsoft.ML.DiLoCo.Communication;
using Microsoft.ML.DiLoCo.Data;

namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// The check every MPI rank makes before training: all ranks must run the same options on the same data with the
/// same model, or their θ̂ would silently diverge (or their exchanges deadlock on different schedules). Each rank
/// all-gathers a short canonical description (one "name = value" line per setting) instead of a bare hash, so
/// that the error can name what differs; every rank sees the same descriptions and so fails the same way.
/// </summary>
internal static class RankConsistency
{
    // Per-process settings that may legitimately differ between ranks.
    private static readonly HashSet<string> PerRank = new(StringComparer.Ordinal)
    {
        nameof(StreamingDiLoCoTrainer.Options.Devices),
        nameof(StreamingDiLoCoTrainer.Options.CancellationToken),
        nameof(StreamingDiLoCoTrainer.Options.ValidationSet),   // described by its windows below
        nameof(StreamingDiLoCoTrainer.Options.ExchangeTimeoutSeconds),
        nameof(StreamingDiLoCoTrainer.Options.ExchangeKeyFile),        // a path: the secret itself is never compared in the clear
        nameof(StreamingDiLoCoTrainer.Options.InitialModel),     // described by the digest of the weights below
        nameof(StreamingDiLoCoTrainer.Options.InitialModelPath), // (a path may differ between machines; the weights may not)
    };

    /// <summary>The canonical description: options (per-rank ones excluded), model shape and data fingerprints.</summary>
    public static string Describe(StreamingDiLoCoTrainer.Options o, int vocabularySize, long parameterCount,
        PackedWindows train, PackedWindows? validation, int seed, string initialWeights)
    {
        var lines = new List<string>();
        foreach (var field in typeof(StreamingDiLoCoTrainer.Options).GetFields(BindingFlags.Public | BindingFlags.Instance).OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            if (PerRank.Contains(field.Name) || field.Name == nameof(StreamingDiLoCoTrainer.Options.Model)) continue;
            lines.Add($"{field.Name} = {Format(field.GetValue(o))}");
        }
        foreach (var property in typeof(TransformerOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).OrderBy(p => p.Name, StringComparer.Ordinal))
            lines.Add($"Model.{property.Name} = {Format(property.GetValue(o.Model))}");
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

    private static string Format(object? value) => value switch
    {
        null => "null",
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        string s => s,
        System.Collections.IEnumerable e => "[" + string.Join(", ", e.Cast<object?>().Select(Format)) + "]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

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
