namespace DiLoCo.Benchmarks;

/// <summary>The knobs of a benchmark run, printed into docs/benchmarks.md so every number names its settings.</summary>
internal sealed record BenchmarkSettings(int Steps, int InnerSteps, int Workers, int GlobalBatch, int Seeds, float[] LearningRates,
    int ValidationTokens, string OutputDirectory)
{
    public static BenchmarkSettings Quick(string output) => new(Steps: 240, InnerSteps: 40, Workers: 2, GlobalBatch: 32, Seeds: 1,
        LearningRates: new[] { 2e-3f }, ValidationTokens: 32768, output);

    public static BenchmarkSettings Full(string output) => new(Steps: 2000, InnerSteps: 40, Workers: 2, GlobalBatch: 32, Seeds: 3,
        LearningRates: new[] { 1e-3f, 2e-3f, 4e-3f }, ValidationTokens: 131072, output);
}
