using DiLoCo.Configuration;
using Microsoft.ML.DiLoCo.Tests.Configuration;

namespace Microsoft.ML.DiLoCo.Tests.Fuzzing;

/// <summary>
/// Mutates the example configs (fixed seed) and parses each: it must parse or throw TrainingConfigException (with a
/// message naming a field or the line), never another exception, never hang.
/// </summary>
[TestClass]
public sealed class ConfigReaderFuzzTests
{
    private static readonly TimeSpan TimeCap = TimeSpan.FromSeconds(8);

    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void MutatedConfigsFailOnlyWithTrainingConfigException()
    {
        string configs = Path.Combine(TrainingConfigTests.RepositoryRoot(), "src", "Examples", "configs");
        var seeds = new[] { "tiny.json", "sotu.json" }.Select(name => File.ReadAllText(Path.Combine(configs, name))).ToArray();
        foreach (var seed in seeds) TrainingConfig.Parse(seed, configs); // the starting points are valid

        int iterations = FuzzIterations.Or(5000), parsed = 0, refused = 0;
        var random = new Random(7_2026);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < iterations && (FuzzIterations.IsLongRun || clock.Elapsed < TimeCap); i++)
        {
            string text = seeds[random.Next(seeds.Length)];
            int edits = 1 + random.Next(3);
            var hows = new List<string>();
            for (int e = 0; e < edits && text.Length > 0; e++)
            {
                text = JsonTextMutation.Mutate(text, random, out string how);
                hows.Add(how);
            }
            try
            {
                TrainingConfig.Parse(text, configs);
                parsed++;
            }
            catch (TrainingConfigException e)
            {
                Assert.IsFalse(string.IsNullOrWhiteSpace(e.Problem), $"iteration {i} ({string.Join("; ", hows)}): empty message");
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"iteration {i} ({string.Join("; ", hows)}): {e.GetType().Name}: {e.Message}\n{text}");
            }
        }
        Assert.IsTrue(refused > 100, $"the mutations reach the reader's checks: {refused} refused, {parsed} parsed");
        Console.WriteLine($"{parsed + refused} mutated configs: {parsed} parsed, {refused} refused");
    }
}
