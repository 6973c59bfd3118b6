namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// When fragments are sent and applied (ALGORITHM.md, torchft's phase convention): fragment syncs are
/// staggered every Δt = H/P steps; a sync is launched τ steps before its boundary and applied on it.
/// </summary>
internal sealed class SyncSchedule
{
    public SyncSchedule(int innerSteps, int numberOfFragments, int overlapSteps)
    {
        if (numberOfFragments < 1)
            throw new ArgumentOutOfRangeException("NumberOfFragments", numberOfFragments, "NumberOfFragments must be at least 1.");
        if (innerSteps < 1)
            throw new ArgumentOutOfRangeException("InnerSteps", innerSteps, "InnerSteps (H) must be at least 1.");
        if (innerSteps % numberOfFragments != 0)
            throw new ArgumentException($"InnerSteps (H = {innerSteps}) must be a multiple of NumberOfFragments (P = {numberOfFragments}).", "InnerSteps");
        int interval = innerSteps / numberOfFragments;
        if (overlapSteps < 0 || overlapSteps >= interval)
            throw new ArgumentOutOfRangeException("OverlapSteps", overlapSteps,
                $"OverlapSteps (τ) must be in 0..{interval - 1} (below H/P = {interval}: one fragment in flight at a time).");
        InnerSteps = innerSteps;
        NumberOfFragments = numberOfFragments;
        OverlapSteps = overlapSteps;
        Interval = interval;
    }

    /// <summary>H.</summary>
    public int InnerSteps { get; }

    /// <summary>P.</summary>
    public int NumberOfFragments { get; }

    /// <summary>τ.</summary>
    public int OverlapSteps { get; }

    /// <summary>Δt = H / P: steps between two consecutive fragment syncs.</summary>
    public int Interval { get; }

    /// <summary>True when a sync is launched after inner step <paramref name="t"/> (1-based): (t + τ) mod Δt = 0.</summary>
    public bool IsLaunchStep(long t) => (t + OverlapSteps) % Interval == 0;

    /// <summary>The fragment of the k-th launch (k = 1, 2, …): (k − 1) mod P, from a counter every worker shares.</summary>
    public int FragmentOfLaunch(long k) => (int)((k - 1) % NumberOfFragments);

    /// <summary>The step at which a sync launched after step <paramref name="launchStep"/> is applied.</summary>
    public long ApplyStepOf(long launchStep) => launchStep + OverlapSteps;
}
