using Microsoft.ML.Runtime;

namespace Microsoft.ML.DiLoCo;

/// <summary>
/// Where <see cref="LanguageModelTransformer.Generate"/> takes its sampling seed when <see cref="GenerationOptions.Seed"/>
/// is not set: from the MLContext that trained or loaded the model, as ML.NET components do. With
/// <c>new MLContext(seed: s)</c> a program's sequence of Generate calls repeats from run to run; without a seed the
/// context's random source is itself random. Calls draw in turn from one <see cref="Random"/>, under a lock
/// (several threads may generate with one model).
/// </summary>
internal sealed class GenerationSeeds
{
    private readonly Random? _random;
    private readonly Lock _gate = new();

    private GenerationSeeds(Random? random) => _random = random;

    /// <summary>For a model made without an MLContext (e.g. <see cref="LanguageModelTransformer.ImportSafetensors"/>): a fresh random seed per call.</summary>
    public static GenerationSeeds Unseeded { get; } = new(null);

    /// <summary>A source derived from <paramref name="environment"/>'s random numbers (one draw from it, now).</summary>
    public static GenerationSeeds From(IHostEnvironment environment) => new(environment.Register(nameof(GenerationSeeds)).Rand);

    public int Next()
    {
        if (_random is null) return Random.Shared.Next();
        lock (_gate) return _random.Next();
    }
}
