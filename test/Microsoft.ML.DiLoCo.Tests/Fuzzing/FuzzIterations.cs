using System.Globalization;

namespace Microsoft.ML.DiLoCo.Tests.Fuzzing;

/// <summary>
/// How many mutated inputs a fuzz test tries: its small default in the normal suite, or <c>DILOCO_FUZZ_ITERATIONS</c>
/// for a long run (docs/reliability.md). A long run also lifts the time cap the default run keeps.
/// </summary>
internal static class FuzzIterations
{
    public const string Variable = "DILOCO_FUZZ_ITERATIONS";

    public static int Or(int defaultIterations) =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } text
            ? int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture)
            : defaultIterations;

    /// <summary>True when the iteration count came from the environment (a long run).</summary>
    public static bool IsLongRun => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 };
}
