using Microsoft.ML.Runtime;

namespace Microsoft.ML.DiLoCo.Persistence;

/// <summary>
/// ML.NET's entry point for loading a saved <see cref="LanguageModelTransformer"/>. The build weaves
/// <c>[assembly: LoadableClass(typeof(LanguageModelTransformer), typeof(LanguageModelLoader), null,
/// typeof(SignatureLoadModel), "Language model", "DiLoCoLanguageModel")]</c> into the compiled library
/// (build/ModelLoaderWeaving.targets: the attribute type is internal to ML.NET, so C# cannot write it), and
/// ML.NET's component catalog then finds <see cref="Create"/> by name and parameter types.
/// </summary>
internal static class LanguageModelLoader
{
    private const string ExchangeSecretOption = "DILOCO_EXCHANGE_KEY";

    /// <summary>Called by ML.NET with its (internal) ModelLoadContext, hence <c>object</c>.</summary>
    private static LanguageModelTransformer Create(IHostEnvironment env, object ctx)
    {
        ArgumentNullException.ThrowIfNull(env);
        byte[]? secret = ModelSignature.CurrentSecret(ExchangeSecretOption); // with a key configured, only signed files load
        var model = MLNetModelContext.Load(ctx, (main, tryReadEntry) => LanguageModelFile.Load(main, tryReadEntry, secret));
        model.GenerationSeeds = GenerationSeeds.From(env); // MLContext(seed: s) makes generation repeat from run to run
        return model;
    }
}
