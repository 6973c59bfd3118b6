using System.Text.Json;

namespace Microsoft.ML.DiLoCo.Tests.Mpi;

/// <summary>
/// The bit-identity check of two runner outputs (θ̂'s SHA-256), which on failure says where the runs parted: the first step
/// at which inner losses differ, with every worker whose loss differs there, or that every loss agreed (the difference arose in a sync after the last inner step).
/// Mismatches seen in CI (sessions 9 and 10, see <see cref="InProcessReference"/>) could not be located from bare checksums.
/// </summary>
internal static class SameParameters
{
    /// <summary>Asserts that <paramref name="actual"/>'s θ̂ checksum equals <paramref name="expected"/>'s.</summary>
    public static void Assert(JsonElement expected, JsonElement actual, string what)
    {
        string? want = Checksum(expected), got = Checksum(actual);
        if (want == got) return;
        Microsoft.VisualStudio.TestTools.UnitTesting.Assert.Fail(
            $"{what}: θ̂ checksum {got} where {want} was expected (rank {Property(actual, "rank")}); {FirstDivergence(expected, actual)}.");
    }

    /// <summary>Where two runs' per-worker inner losses first differ, in words.</summary>
    public static string FirstDivergence(JsonElement expected, JsonElement actual)
    {
        if (!expected.TryGetProperty("losses", out var a) || !actual.TryGetProperty("losses", out var b)) return "no losses to compare";
        var left = a.EnumerateArray().Select(w => w.EnumerateArray().Select(Loss).ToArray()).ToArray();
        var right = b.EnumerateArray().Select(w => w.EnumerateArray().Select(Loss).ToArray()).ToArray();
        if (left.Length != right.Length) return $"the runs report {left.Length} and {right.Length} workers";
        int steps = left.Concat(right).Select(w => w.Length).DefaultIfEmpty(0).Max();
        for (int s = 0; s < steps; s++) // the earliest step wins, naming every worker that differs there (all of them point at θ̂)
        {
            var differing = Enumerable.Range(0, left.Length)
                .Where(w => s < left[w].Length && s < right[w].Length && BitConverter.DoubleToInt64Bits(left[w][s]) != BitConverter.DoubleToInt64Bits(right[w][s]))
                .Select(w => $"worker {w} {left[w][s]:R} vs {right[w][s]:R}").ToArray();
            if (differing.Length > 0)
                return $"the inner losses first differ at step {s + 1}, for {differing.Length} of {left.Length} workers: {string.Join(", ", differing)}";
        }
        return "every worker's inner loss agrees at every step, so the runs parted in the syncs that no later inner step saw (applied at the last step, or the final syncs)";
    }

    private static double Loss(JsonElement value) => value.ValueKind == JsonValueKind.Number ? value.GetDouble() : double.NaN;

    /// <summary>The θ̂ checksum a runner line reports.</summary>
    public static string? Checksum(JsonElement line) => line.GetProperty("checksum").GetString();

    /// <summary>A property of a runner line as text ("?" when absent).</summary>
    public static string Property(JsonElement line, string name) => line.TryGetProperty(name, out var v) ? v.ToString() : "?";
}
