using System.Reflection;
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
        ITransformer model;
        DataViewSchema inputSchema;
        try
        {
            model = ml.Model.Load(full, out inputSchema);
        }
        catch (Exception e) when (FileProblem(e) is { } cause)
        {
            throw new InvalidDataException($"The model file {full} cannot be loaded: {cause.Message}", cause);
        }
        string column = model is LanguageModelTransformer lm
            ? lm.TextColumnName
            : inputSchema.FirstOrDefault(c => c.Type is TextDataViewType).Name
              ?? throw new InvalidDataException($"The model in {full} reads no text column: it is not a language model.");
        return new SavedModel(ml, model, column);
    }

    /// <summary>What is wrong with the file, or null: ML.NET calls the model's loader by reflection, so the file's own problem is the inner exception.</summary>
    private static Exception? FileProblem(Exception e)
    {
        if (e is TargetInvocationException { InnerException: { } inner }) e = inner;
        return e is InvalidDataException or FormatException ? e : null;
    }

    /// <summary>The language model itself, for generation (a model saved by this library loads as one).</summary>
    public LanguageModelTransformer LanguageModel => Model as LanguageModelTransformer
        ?? throw new InvalidDataException($"The model is a {Model.GetType().Name}, not a LanguageModelTransformer: it cannot generate text.");
}
