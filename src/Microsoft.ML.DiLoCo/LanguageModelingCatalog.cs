using Microsoft.ML.Runtime;

namespace Microsoft.ML.DiLoCo;

/// <summary>Entry point for language modeling on an <see cref="MLContext"/>: <c>mlContext.LanguageModeling()</c>.</summary>
public static class MLContextLanguageModelingExtensions
{
    /// <summary>Trainers (and, later, evaluation) for causal language models.</summary>
    public static LanguageModelingCatalog LanguageModeling(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new LanguageModelingCatalog(mlContext);
    }
}

/// <summary>The language-modeling catalog, in the shape of ML.NET's other task catalogs.</summary>
public sealed class LanguageModelingCatalog
{
    internal LanguageModelingCatalog(MLContext mlContext)
    {
        Environment = mlContext;
        Trainers = new LanguageModelingTrainers(mlContext);
    }

    internal IHostEnvironment Environment { get; }

    /// <summary>The trainers of this catalog.</summary>
    public LanguageModelingTrainers Trainers { get; }
}

/// <summary>Language-model trainers.</summary>
public sealed class LanguageModelingTrainers
{
    private readonly IHostEnvironment _environment;

    internal LanguageModelingTrainers(IHostEnvironment environment) => _environment = environment;

    /// <summary>A Streaming DiLoCo trainer with every option.</summary>
    public StreamingDiLoCoTrainer StreamingDiLoCo(StreamingDiLoCoTrainer.Options options) => new(_environment, options);

    /// <summary>A Streaming DiLoCo trainer with the common options; everything else keeps its default.</summary>
    /// <param name="textColumnName">The text column (one row = one document).</param>
    /// <param name="numberOfWorkers">Model replicas [M].</param>
    /// <param name="innerSteps">Inner steps between syncs of a fragment [H].</param>
    /// <param name="trainingSteps">Total inner steps [T].</param>
    /// <param name="model">The transformer's shape (default: 4 layers, 128 wide, context 128).</param>
    /// <param name="tokenizer">The tokenizer.</param>
    public StreamingDiLoCoTrainer StreamingDiLoCo(string textColumnName = "Text", int numberOfWorkers = 2, int innerSteps = 100,
        int trainingSteps = 1000, TransformerOptions? model = null, TokenizerKind tokenizer = TokenizerKind.Bytes) =>
        new(_environment, new StreamingDiLoCoTrainer.Options
        {
            TextColumnName = textColumnName,
            NumberOfWorkers = numberOfWorkers,
            InnerSteps = innerSteps,
            TrainingSteps = trainingSteps,
            Model = model ?? new TransformerOptions(),
            Tokenizer = tokenizer,
        });
}
