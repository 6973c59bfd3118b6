namespace DiLoCo.Benchmarks;

/// <summary>
/// How the quality benchmark tunes the inner learning rate, the same way for every method. With
/// <see cref="BenchmarkSettings.GridOnEverySeed"/> every seed of every row runs the whole grid and the table shows the
/// rate with the best mean. Without it (the medium tier, to fit in hours on 2 cores) each headline row runs the grid on
/// seed 1 only, extended by the grid's ratio past whichever end won until a rate does worse (a line search, at most
/// <see cref="MaximumExtensions"/> steps), so the winner is bracketed; its other seeds run at the rate that won seed 1, and the ablation rows (changes to the final
/// method) run at the final method's winning rate.
/// </summary>
internal static class LearningRateTuning
{
    /// <summary>The row whose seed-1 winning rate the ablation rows run at.</summary>
    public const string FinalMethodRow = "+ FP4 (the paper's final method)";

    /// <summary>The grid rate with the lowest seed-1 validation loss for <paramref name="row"/>, or null before any ran.</summary>
    public static float? Winner(IEnumerable<QualityResult> results, string row) =>
        SeedOne(results, row).MinBy(r => r.FinalValidationLoss)?.InnerLearningRate;

    private static List<QualityResult> SeedOne(IEnumerable<QualityResult> results, string row) =>
        results.Where(r => r.Row == row && r.Seed == 1).ToList();

    /// <summary>Rates a row may try beyond the grid, on each side.</summary>
    public const int MaximumExtensions = 3;

    /// <summary>
    /// The next rate to try for <paramref name="row"/> when its seed-1 winner is the largest (or smallest) rate it tried:
    /// one grid step further that way; null when the winner is bracketed.
    /// </summary>
    public static float? Beyond(IEnumerable<QualityResult> results, string row, float[] grid)
    {
        var tried = SeedOne(results, row);
        if (grid.Length < 2 || tried.Count < 2) return null;
        return NextRate(tried.Select(r => (r.InnerLearningRate, r.FinalValidationLoss)).ToList(), GridStep(grid));
    }

    /// <summary>The ratio between neighbouring rates of a geometric grid, above 1 whichever order the grid is in.</summary>
    public static float GridStep(float[] grid) => MathF.Pow(grid.Max() / grid.Min(), 1f / (grid.Length - 1));

    /// <summary>
    /// The line search's next rate over one row's tried (rate, loss) pairs: <paramref name="step"/> past the winner when it
    /// is the largest or smallest rate tried, null when a rate was tried on each side of it (the winner is bracketed).
    /// The quality benchmark, the study's plan and the study's page all ask this one question.
    /// </summary>
    public static float? NextRate(IReadOnlyCollection<(float Rate, double Loss)> tried, float step)
    {
        float winner = tried.MinBy(t => t.Loss).Rate;
        return EdgeOf(tried, winner) switch { > 0 => winner * step, < 0 => winner / step, _ => null };
    }

    /// <summary>Whether the best of <paramref name="tried"/> has a rate tried on each side of it.</summary>
    public static bool IsBracketed(IReadOnlyCollection<(float Rate, double Loss)> tried) =>
        tried.Count >= 3 && EdgeOf(tried, tried.MinBy(t => t.Loss).Rate) == 0;

    /// <summary>+1 when <paramref name="rate"/> is the largest rate tried, −1 the smallest, 0 between.</summary>
    private static int EdgeOf(IReadOnlyCollection<(float Rate, double Loss)> tried, float rate) =>
        rate == tried.Max(t => t.Rate) ? 1 : rate == tried.Min(t => t.Rate) ? -1 : 0;

    /// <summary>
    /// The runs the table reports for one row: the learning rate with the most seeds (the tuned one), ties broken by the
    /// lowest mean loss (under a full grid every rate has every seed, so that is the best mean; a medium run resumed from
    /// an older one can hold 3 seeds at an untuned rate too, and the mean decides between them).
    /// </summary>
    public static List<QualityResult> Reported(IEnumerable<QualityResult> runsOfOneRow) =>
        runsOfOneRow.GroupBy(r => r.InnerLearningRate)
            .OrderByDescending(l => l.Count()).ThenBy(l => l.Average(r => r.FinalValidationLoss))
            .First().ToList();
}
