using Microsoft.ML.DiLoCo.Model;

namespace Microsoft.ML.DiLoCo;

/// <summary>Fine-tuning: where the starting weights come from, and the checks that they fit the options.</summary>
public sealed partial class StreamingDiLoCoTrainer
{
    private static void ValidateInitialModel(Options o)
    {
        if (o.InitialModel is not null && o.InitialModelPath is not null)
            throw new ArgumentException("Set InitialModel or InitialModelPath, not both.", nameof(Options.InitialModelPath));
        if (o.InitialModelPath is not null && !File.Exists(o.InitialModelPath))
            throw new ArgumentException($"InitialModelPath = \"{o.InitialModelPath}\": no such file.", nameof(Options.InitialModelPath));
        if (o.InitialModel is not null) CheckFits(o.InitialModel, o, nameof(Options.InitialModel));
    }

    /// <summary>
    /// The starting weights (null: random ones). From a file: the loaded model, which the caller disposes; from
    /// <see cref="Options.InitialModel"/>: that model's own module, which the caller must not dispose.
    /// </summary>
    /// <exception cref="ArgumentException">The model's tokenizer or architecture differs from the options, or the file does not load.</exception>
    internal static (TransformerLanguageModel? Model, bool Owned) InitialWeights(Options o)
    {
        if (o.InitialModel is not null) return (o.InitialModel.Model, false);
        if (o.InitialModelPath is null) return (null, false);
        LanguageModelTransformer loaded;
        try { loaded = LanguageModelTransformer.Load(o.InitialModelPath); }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or FormatException)
        {
            throw new ArgumentException($"InitialModelPath = \"{o.InitialModelPath}\" does not load: {e.Message}", nameof(Options.InitialModelPath), e);
        }
        try { CheckFits(loaded, o, nameof(Options.InitialModelPath)); }
        catch { loaded.Model.Dispose(); throw; }
        return (loaded.Model, true);
    }

    private static void CheckFits(LanguageModelTransformer model, Options o, string option)
    {
        var differences = new List<string>();
        if (model.Tokenizer != o.Tokenizer) differences.Add($"Tokenizer is {model.Tokenizer} in the model but {o.Tokenizer} in the options");
        var theirs = model.ModelOptions;
        foreach (var property in typeof(TransformerOptions).GetProperties().Where(p => p.Name != nameof(TransformerOptions.Dropout))) // dropout may change
        {
            object? a = property.GetValue(theirs), b = property.GetValue(o.Model);
            if (!Equals(a, b)) differences.Add($"Model.{property.Name} is {a} in the model but {b} in the options");
        }
        if (differences.Count > 0)
            throw new ArgumentException($"{option}: the model to fine-tune does not fit the options ({string.Join("; ", differences)}). " +
                                        "Set Tokenizer and Model to the model's (LanguageModelTransformer.Tokenizer and .ModelOptions).", option);
    }
}
