namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// When fragments are sent and applied (ALGORITHM.md, torchft's phase convention): fragment syncs are
/// staggered every Δt = H/P steps; a sync is launched τ steps before its boundary and applied on it.
/// With a warm-up (the seed's "synchronisation timing adjusted dynamically"), syncs whose boundary falls in the first W
/// steps use a smaller H₀ (Δt₀ = H₀/P): the replicas drift most early on. The schedule is a pure function of the step, so
/// every worker and rank computes the same one, and a resumed run continues it.
/// </summary>
internal sealed class SyncSchedule
{
    public SyncSchedule(int innerSteps, int numberOfFragments, int overlapSteps, int warmupSteps = 0, int warmupInnerSteps = 0)
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
        WarmupInterval = interval;
        if (warmupSteps < 0) throw new ArgumentOutOfRangeException("SyncWarmupSteps", warmupSteps, "SyncWarmupSteps must be 0 (no warm-up) or more.");
        if (warmupSteps == 0) return;
        if (warmupInnerSteps < numberOfFragments || warmupInnerSteps % numberOfFragments != 0 || innerSteps % warmupInnerSteps != 0)
            throw new ArgumentOutOfRangeException("SyncWarmupInnerSteps", warmupInnerSteps,
                $"SyncWarmupInnerSteps (H₀) must be a multiple of NumberOfFragments (P = {numberOfFragments}) that divides InnerSteps (H = {innerSteps}).");
        if (overlapSteps >= warmupInnerSteps / numberOfFragments)
            throw new ArgumentOutOfRangeException("SyncWarmupInnerSteps", warmupInnerSteps,
                $"OverlapSteps (τ = {overlapSteps}) must stay below H₀/P = {warmupInnerSteps / numberOfFragments} during the warm-up: raise SyncWarmupInnerSteps.");
        if (warmupSteps % innerSteps != 0)
            throw new ArgumentException($"SyncWarmupSteps (W = {warmupSteps}) must be a multiple of InnerSteps (H = {innerSteps}), so the warm-up ends on a sync of the last fragment.", "SyncWarmupSteps");
        WarmupSteps = warmupSteps;
        WarmupInterval = warmupInnerSteps / numberOfFragments;
    }

    /// <summary>H.</summary>
    public int InnerSteps { get; }

    /// <summary>P.</summary>
    public int NumberOfFragments { get; }

    /// <summary>τ.</summary>
    public int OverlapSteps { get; }

    /// <summary>Δt = H / P: steps between two consecutive fragment syncs.</summary>
    public int Interval { get; }

    /// <summary>W: syncs applied at steps ≤ W run every Δt₀ = H₀/P steps (0: no warm-up).</summary>
    public int WarmupSteps { get; }

    /// <summary>Δt₀ = H₀/P during the warm-up (Δt without one).</summary>
    public int WarmupInterval { get; }

    /// <summary>The spacing of the syncs whose boundary (apply step) is <paramref name="boundary"/>.</summary>
    private int IntervalAt(long boundary) => boundary <= WarmupSteps ? WarmupInterval : Interval;

    /// <summary>True when a sync is launched after inner step <paramref name="t"/> (1-based): (t + τ) mod Δt = 0 (Δt₀ in the warm-up).</summary>
    public bool IsLaunchStep(long t) => (t + OverlapSteps) % IntervalAt(t + OverlapSteps) == 0;

    /// <summary>True when no exchange is in flight after step <paramref name="s"/>: no launch in the τ steps up to it.</summary>
    public bool IsQuiescentAfter(long s)
    {
        for (long launch = s; launch > s - OverlapSteps && launch >= 1; launch--)
            if (IsLaunchStep(launch)) return false;
        return true;
    }

    /// <summary>The fragment of the k-th launch (k = 1, 2, …): (k − 1) mod P, from a counter every worker shares.</summary>
    public int FragmentOfLaunch(long k) => (int)((k - 1) % NumberOfFragments);

    /// <summary>The step at which a sync launched after step <paramref name="launchStep"/> is applied.</summary>
    public long ApplyStepOf(long launchStep) => launchStep + OverlapSteps;
}
