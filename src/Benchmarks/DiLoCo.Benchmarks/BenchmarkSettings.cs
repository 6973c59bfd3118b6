namespace DiLoCo.Benchmarks;

/// <summary>The knobs of a benchmark run, printed into docs/benchmarks.md so every number names its settings.</summary>
internal sealed record BenchmarkSettings(string Name, int Steps, int InnerSteps, int Workers, int GlobalBatch, int Seeds, float[] LearningRates,
    int ValidationTokens, string OutputDirectory, bool GridOnEverySeed = false)
{
    /// <summary>Minutes: one seed, one learning rate, 240 steps (6 rounds per fragment at H = 40).</summary>
    public static BenchmarkSettings Quick(string output) => new("quick", Steps: 240, InnerSteps: 40, Workers: 2, GlobalBatch: 32, Seeds: 1,
        LearningRates: new[] { 2e-3f }, ValidationTokens: 32768, output);

    /// <summary>About 3 hours on 2 cores: 800 steps (20 rounds per fragment at H = 40), a learning-rate line search on
    /// seed 1 of each headline row (0.002 and 0.004, then ×2 steps the way that wins), 3 seeds for the headline rows at
    /// their tuned rate (<see cref="LearningRateTuning"/>).</summary>
    public static BenchmarkSettings Medium(string output) => new("medium", Steps: 800, InnerSteps: 40, Workers: 2, GlobalBatch: 32, Seeds: 3,
        LearningRates: new[] { 2e-3f, 4e-3f }, ValidationTokens: 65536, output);

    /// <summary>Many hours on 2 cores: 2000 steps, 3 seeds, and the inner learning-rate grid for every row.</summary>
    public static BenchmarkSettings Full(string output) => new("full", Steps: 2000, InnerSteps: 40, Workers: 2, GlobalBatch: 32, Seeds: 3,
        LearningRates: new[] { 1e-3f, 2e-3f, 4e-3f }, ValidationTokens: 131072, output, GridOnEverySeed: true);

    public static BenchmarkSettings FromArguments(string[] args, string output) =>
        args.Contains("--full") ? Full(output) : args.Contains("--medium") ? Medium(output) : Quick(output);
}
