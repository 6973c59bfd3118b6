using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.DiLoCo;

namespace DiLoCo.Cli;

/// <summary>A model zip loaded with <c>mlContext.Model.Load</c>, and the name of the text column it reads.</summary>
internal sealed record SavedModel(MLContext MLContext, ITransformer Model, string TextColumnName)
{
    public static SavedModel Load(string path)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"The model file {full} does not exist.", full);
        var ml = new MLContext(seed: 1);
        ITransformer model = ml.Model.Load(full, out DataViewSchema inputSchema);
        string column = model is LanguageModelTransformer lm
            ? lm.TextColumnName
            : inputSchema.FirstOrDefault(c => c.Type is TextDataViewType).Name
              ?? throw new InvalidDataException($"The model in {full} reads no text column: it is not a language model.");
        return new SavedModel(ml, model, column);
    }

    /// <summary>The language model itself, for generation (a model saved by this library loads as one).</summary>
    public LanguageModelTransformer LanguageModel => Model as LanguageModelTransformer
        ?? throw new InvalidDataException($"The model is a {Model.GetType().Name}, not a LanguageModelTransformer: it cannot generate text.");
}
