namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// The partition of a parameter list into fragments that are synchronised one at a time
/// (ALGORITHM.md, "Fragments"). A pure function of the model shape and the options, so every worker
/// computes the same plan. Fragments hold parameter indices in the order of the parameter list.
/// </summary>
internal sealed class FragmentPlan
{
    private FragmentPlan(int[][] fragments, string[] names, int parameterCount)
    {
        Fragments = fragments;
        Names = names;
        ParameterCount = parameterCount;
    }

    /// <summary>Parameter indices of each fragment.</summary>
    public IReadOnlyList<int[]> Fragments { get; }

    /// <summary>A human-readable name per fragment (for reports), e.g. "blocks 0,3" or "non-block".</summary>
    public IReadOnlyList<string> Names { get; }

    public int Count => Fragments.Count;

    public int ParameterCount { get; }

    /// <summary>A plan given explicitly (tests, custom models). Every parameter must appear exactly once.</summary>
    public static FragmentPlan Explicit(int parameterCount, params int[][] fragments)
    {
        var seen = new bool[parameterCount];
        foreach (var fragment in fragments)
        {
            if (fragment.Length == 0) throw new ArgumentException("A fragment must hold at least one parameter.", nameof(fragments));
            foreach (int i in fragment)
            {
                if (i < 0 || i >= parameterCount) throw new ArgumentOutOfRangeException(nameof(fragments), $"Parameter index {i} is outside 0..{parameterCount - 1}.");
                if (seen[i]) throw new ArgumentException($"Parameter {i} appears in more than one fragment.", nameof(fragments));
                seen[i] = true;
            }
        }
        int missing = Array.IndexOf(seen, false);
        if (missing >= 0) throw new ArgumentException($"Parameter {missing} is in no fragment.", nameof(fragments));
        return new FragmentPlan(fragments, fragments.Select((f, p) => $"fragment {p}").ToArray(), parameterCount);
    }

    /// <summary>
    /// Groups whole transformer blocks into fragments. <paramref name="numberOfFragments"/> is P, the total:
    /// with <see cref="NonBlockParameterPlacement.OwnFragment"/> the non-block parameters form fragment 0 and
    /// there are P − 1 block fragments; P = 1 puts every parameter in one fragment (plain DiLoCo).
    /// </summary>
    public static FragmentPlan ForBlocks(
        IReadOnlyList<string> parameterNames,
        Func<string, int?> blockIndexOf,
        int numberOfBlocks,
        int numberOfFragments,
        FragmentPattern pattern,
        NonBlockParameterPlacement nonBlockPlacement,
        string optionName = "NumberOfFragments")
    {
        if (numberOfFragments < 1)
            throw new ArgumentOutOfRangeException(optionName, numberOfFragments, $"{optionName} must be at least 1.");
        if (numberOfFragments == 1)
        {
            return new FragmentPlan(new[] { Enumerable.Range(0, parameterNames.Count).ToArray() }, new[] { "all parameters" }, parameterNames.Count);
        }

        int blockFragments = nonBlockPlacement == NonBlockParameterPlacement.OwnFragment ? numberOfFragments - 1 : numberOfFragments;
        if (blockFragments > numberOfBlocks)
        {
            int max = nonBlockPlacement == NonBlockParameterPlacement.OwnFragment ? numberOfBlocks + 1 : numberOfBlocks;
            throw new ArgumentOutOfRangeException(optionName, numberOfFragments,
                $"{optionName} = {numberOfFragments} asks for {blockFragments} block fragments but the model has {numberOfBlocks} blocks; allowed range 1..{max} (non-block parameters: {nonBlockPlacement}).");
        }

        // Which block fragment each block belongs to.
        var blockToFragment = new int[numberOfBlocks];
        for (int b = 0; b < numberOfBlocks; b++)
        {
            blockToFragment[b] = pattern == FragmentPattern.Strided
                ? b % blockFragments
                : (int)((long)b * blockFragments / numberOfBlocks); // contiguous runs, sizes differ by at most one
        }

        int offset = nonBlockPlacement == NonBlockParameterPlacement.OwnFragment ? 1 : 0;
        int nonBlockFragment = nonBlockPlacement switch
        {
            NonBlockParameterPlacement.OwnFragment => 0,
            NonBlockParameterPlacement.FirstFragment => 0,
            _ => blockFragments - 1,
        };

        var members = Enumerable.Range(0, numberOfFragments).Select(_ => new List<int>()).ToArray();
        for (int i = 0; i < parameterNames.Count; i++)
        {
            int? block = blockIndexOf(parameterNames[i]);
            if (block is int b)
            {
                if (b < 0 || b >= numberOfBlocks) throw new ArgumentException($"Parameter '{parameterNames[i]}' names block {b}, outside 0..{numberOfBlocks - 1}.");
                members[offset + blockToFragment[b]].Add(i);
            }
            else
            {
                members[nonBlockFragment].Add(i);
            }
        }

        var names = new string[numberOfFragments];
        if (offset == 1) names[0] = "non-block";
        for (int f = 0; f < blockFragments; f++)
        {
            var blocks = Enumerable.Range(0, numberOfBlocks).Where(b => blockToFragment[b] == f);
            string label = "blocks " + string.Join(",", blocks);
            if (offset == 0 && f == nonBlockFragment) label += " + non-block";
            names[offset + f] = label;
        }

        return new FragmentPlan(members.Select(m => m.ToArray()).ToArray(), names, parameterNames.Count);
    }
}
