namespace DiLoCo.Benchmarks;

/// <summary>Summaries of repeated timings.</summary>
internal static class Statistics
{
    /// <summary>The middle value (the mean of the two middle values for an even count); NaN for none.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
