namespace Microsoft.ML.DiLoCo.Runs;

/// <summary>
/// The fragments of a user's module, as parameter indices into its trainable <c>named_parameters()</c> list: the
/// default strided grouping of top-level names, or the user's own lists of names and module paths.
/// Pure functions of the names and the options, so every worker computes the same partition.
/// </summary>
internal static class ModuleFragments
{
    /// <summary>The first segment of a parameter name: "lstm.weight_ih_l0" → "lstm"; "bias" → "bias".</summary>
    public static string TopLevelName(string parameterName)
    {
        int dot = parameterName.IndexOf('.');
        return dot < 0 ? parameterName : parameterName[..dot];
    }

    /// <summary>
    /// Top-level names in order of first appearance; fragment p holds the parameters under the names at positions
    /// p, p + P, p + 2P, … (the paper's strided rule, with top-level children in the place of blocks).
    /// </summary>
    public static (int[][] Fragments, string[] Names) Strided(IReadOnlyList<string> parameterNames, int numberOfFragments)
    {
        var units = new List<string>();
        var unitOf = new int[parameterNames.Count];
        for (int i = 0; i < parameterNames.Count; i++)
        {
            string top = TopLevelName(parameterNames[i]);
            int u = units.IndexOf(top);
            if (u < 0) { u = units.Count; units.Add(top); }
            unitOf[i] = u;
        }
        if (numberOfFragments > units.Count)
            throw new ArgumentOutOfRangeException(nameof(StreamingDiLoCoOptions.NumberOfFragments), numberOfFragments,
                $"NumberOfFragments = {numberOfFragments} but the module has {units.Count} top-level names with trainable parameters " +
                $"({string.Join(", ", units)}); allowed range 1..{units.Count}, or pass your own Fragments.");

        var fragments = Enumerable.Range(0, numberOfFragments)
            .Select(p => Enumerable.Range(0, parameterNames.Count).Where(i => unitOf[i] % numberOfFragments == p).ToArray())
            .ToArray();
        var names = Enumerable.Range(0, numberOfFragments)
            .Select(p => string.Join(", ", units.Where((_, u) => u % numberOfFragments == p)))
            .ToArray();
        return (fragments, names);
    }

    /// <summary>
    /// The user's fragments: each entry is a parameter name or a module path (a prefix followed by '.').
    /// Every parameter must be matched exactly once, and every entry must match something.
    /// </summary>
    public static (int[][] Fragments, string[] Names) Explicit(IReadOnlyList<string> parameterNames, IReadOnlyList<IReadOnlyList<string>> fragments)
    {
        const string option = nameof(StreamingDiLoCoOptions.Fragments);
        var owner = new int[parameterNames.Count];
        var entryOf = new string[parameterNames.Count];
        Array.Fill(owner, -1);
        for (int p = 0; p < fragments.Count; p++)
        {
            var entries = fragments[p] ?? throw new ArgumentNullException(option, $"Fragments[{p}] is null.");
            if (entries.Count == 0) throw new ArgumentException($"Fragments[{p}] is empty: a fragment must hold at least one parameter.", option);
            foreach (string entry in entries)
            {
                if (string.IsNullOrEmpty(entry)) throw new ArgumentException($"Fragments[{p}] holds an empty name.", option);
                bool matched = false;
                for (int i = 0; i < parameterNames.Count; i++)
                {
                    string name = parameterNames[i];
                    if (name != entry && !name.StartsWith(entry + ".", StringComparison.Ordinal)) continue;
                    matched = true;
                    if (owner[i] >= 0)
                        throw new ArgumentException(
                            $"Parameter '{name}' appears more than once in Fragments: as '{entryOf[i]}' in fragment {owner[i]} and as '{entry}' in fragment {p}.", option);
                    owner[i] = p;
                    entryOf[i] = entry;
                }
                if (!matched)
                    throw new ArgumentException($"Fragments[{p}] names '{entry}', which matches no trainable parameter of the module.", option);
            }
        }
        int missing = Array.IndexOf(owner, -1);
        if (missing >= 0)
            throw new ArgumentException($"Parameter '{parameterNames[missing]}' is in no fragment: every trainable parameter must appear in exactly one of Fragments.", option);

        var result = Enumerable.Range(0, fragments.Count)
            .Select(p => Enumerable.Range(0, parameterNames.Count).Where(i => owner[i] == p).ToArray())
            .ToArray();
        return (result, fragments.Select(f => string.Join(", ", f)).ToArray());
    }
}
