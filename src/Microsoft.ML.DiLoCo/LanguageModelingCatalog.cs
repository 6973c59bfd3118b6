using Microsoft.ML.Data;
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

    /// <summary>
    /// Token-weighted loss, perplexity and bits per byte of data scored by a <see cref="LanguageModelTransformer"/>
    /// (its Loss and TokenCount columns). Rows with no predicted token (empty text) are skipped.
    /// </summary>
    /// <param name="data">The output of <see cref="LanguageModelTransformer.Transform"/>.</param>
    /// <param name="textColumnName">The text column that was scored, for bits per byte.</param>
    /// <param name="lossColumnName">The loss column.</param>
    /// <param name="tokenCountColumnName">The token-count column.</param>
    /// <exception cref="ArgumentException">A column is missing or of the wrong type (as ML.NET's evaluators, an
    /// <see cref="ArgumentOutOfRangeException"/> for a missing one); the message names it.</exception>
    public LanguageModelMetrics Evaluate(IDataView data, string textColumnName = "Text",
        string lossColumnName = Scoring.ScoreColumns.Loss, string tokenCountColumnName = Scoring.ScoreColumns.TokenCount)
    {
        ArgumentNullException.ThrowIfNull(data);
        var loss = RequireColumn(data, lossColumnName, NumberDataViewType.Single);
        var count = RequireColumn(data, tokenCountColumnName, NumberDataViewType.Int32);
        var text = RequireColumn(data, textColumnName, TextDataViewType.Instance);

        using var cursor = data.GetRowCursor([loss, count, text]);
        var getLoss = cursor.GetGetter<float>(loss);
        var getCount = cursor.GetGetter<int>(count);
        var getText = cursor.GetGetter<ReadOnlyMemory<char>>(text);
        float rowLoss = 0;
        int rowCount = 0;
        ReadOnlyMemory<char> rowText = default;
        double nats = 0;
        long tokens = 0, bytes = 0, rows = 0;
        while (cursor.MoveNext())
        {
            getCount(ref rowCount);
            if (rowCount <= 0) continue;
            getLoss(ref rowLoss);
            nats += (double)rowLoss * rowCount;
            tokens += rowCount;
            rows++;
            getText(ref rowText);
            bytes += System.Text.Encoding.UTF8.GetByteCount(rowText.Span);
        }
        double mean = tokens == 0 ? double.NaN : nats / tokens;
        double bitsPerByte = bytes == 0 ? double.NaN : nats / Math.Log(2) / bytes;
        return new LanguageModelMetrics(mean, Math.Exp(mean), bitsPerByte, tokens, rows);
    }

    private static DataViewSchema.Column RequireColumn(IDataView data, string name, DataViewType type)
    {
        var column = data.Schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(data), $"The scored data has no column '{name}': pass the output of LanguageModelTransformer.Transform (and the name of the text column it scored).");
        if (!column.Type.Equals(type))
            throw new ArgumentException($"Column '{name}' has type {column.Type}; {type} is required.", nameof(data));
        return column;
    }
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
