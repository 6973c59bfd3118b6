using Microsoft.ML.DiLoCo.Runs;
using Microsoft.ML.Data;
using Microsoft.ML.DiLoCo.Data;
using Microsoft.ML.DiLoCo.Scoring;
using Microsoft.ML.DiLoCo.Tokenization;
using Microsoft.ML.DiLoCo.Training;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.DiLoCo;

/// <summary>
/// An ML.NET estimator that fits a decoder-only transformer language model on a text column with
/// Streaming DiLoCo (Douillard et al., arXiv 2501.18512), or with the DiLoCo and data-parallel baselines.
/// Create it with <c>mlContext.LanguageModeling().Trainers.StreamingDiLoCo(options)</c>.
/// </summary>
public sealed partial class StreamingDiLoCoTrainer : IEstimator<LanguageModelTransformer>
{
    private readonly IHostEnvironment _environment;
    private readonly IHost _host;
    private readonly Options _options;
    private readonly RunPlan _plan;

    internal StreamingDiLoCoTrainer(IHostEnvironment environment, Options options)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(options);
        _environment = environment;
        _host = environment.Register(nameof(StreamingDiLoCoTrainer));
        _options = options.Clone();
        _plan = Plan(_options); // invalid options fail here, before any data is read
    }

    /// <summary>A copy of the options this trainer was created with.</summary>
    public Options TrainerOptions => _options.Clone();

    /// <summary>Trains on the text column of <paramref name="input"/> and returns the fitted model (the outer parameters θ̂).</summary>
    public LanguageModelTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        // mlContext.CancelExecution() stops training as Options.CancellationToken does: the engine sees one linked token.
        using var cancellation = new ContextCancellation([_environment, _host], _options.CancellationToken);
        var o = _options;
        ScoreColumns.CheckTextColumn(input.Schema, o.TextColumnName);
        if (o.ValidationSet is not null) ScoreColumns.CheckTextColumn(o.ValidationSet.Schema, o.TextColumnName);

        using var ch = _host.Start("Training");
        var tokenizer = LanguageModelTokenizer.Create(o.Tokenizer);
        var train = ReadWindows(input, tokenizer, "training data");
        var validation = o.ValidationSet is null ? null : ReadWindows(o.ValidationSet, tokenizer, "ValidationSet");
        if (train.Count < o.NumberOfWorkers)
            throw new ArgumentException($"Column '{o.TextColumnName}' of the training data holds {train.Count} windows of {o.Model.ContextLength + 1} tokens: fewer than NumberOfWorkers = {o.NumberOfWorkers}. Add text or lower Model.ContextLength.", nameof(input));
        int seed = o.Seed ?? _host.Rand.Next();

        TrainingProgress? latest = null;
        long logEvery = Math.Max(1, o.TrainingSteps / 20);
        using var pch = _host.StartProgressChannel("Streaming DiLoCo training");
        pch.SetHeader(new ProgressHeader(new[] { "loss", "tokens/s", "bytes sent" }, new[] { "step" }), entry =>
        {
            var p = Volatile.Read(ref latest);
            if (p is null) return;
            entry.SetProgress(0, p.Step, p.TotalSteps);
            entry.SetMetric(0, p.Loss);
            entry.SetMetric(1, p.TokensPerSecond);
            entry.SetMetric(2, p.BytesSent);
        });

        var (initial, ownsInitial) = InitialWeights(o);
        using var ownedInitial = ownsInitial ? initial : null;
        var inputs = new RunInputs(tokenizer.VocabularySize, train, validation, seed, initial?.parameters().ToArray());
        var (model, report) = LanguageModelTrainingRun.Train(_plan, inputs, new RunHooks(message => ch.Info(MessageSensitivity.None, message),
            p =>
            {
                Volatile.Write(ref latest, p);
                o.Progress?.Report(new TrainingProgressUpdate(p.Step, p.TotalSteps, p.Loss, p.TokensPerSecond, p.BytesSent, p.Elapsed) { ValidationLoss = p.ValidationLoss });
                cancellation.Poll(); // before the engine next reads the token: the same stop as a token cancelled here
                // MLContext users see progress through ml.Log (ML.NET's progress channel has no public reader).
                if (p.Step % logEvery == 0 || p.Step == p.TotalSteps)
                    ch.Info(MessageSensitivity.None, $"step {p.Step}/{p.TotalSteps}: loss {p.Loss:F3}, {p.TokensPerSecond:N0} tokens/s, sent {p.BytesSent:N0} bytes, ETA {p.EstimatedRemaining:hh\\:mm\\:ss}");
            }, cancellation.Token, o.InjectedWorkerFault));
        ch.Info(MessageSensitivity.None, report.Summarize());
        return new LanguageModelTransformer(model, tokenizer, o.TextColumnName, report)
        {
            TrainingOptions = Persistence.TrainingOptionsJson.From(o),
            GenerationSeeds = GenerationSeeds.From(_host), // drawn after the training seed: training is unchanged
            SigningKeyFile = o.ExchangeSecurity == ExchangeSecurity.Encrypted ? o.ExchangeKeyFile : null,
        };
    }

    /// <summary>The input schema plus the Loss, Perplexity and TokenCount columns that the fitted model adds.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ScoreColumns.CheckTextColumn(inputSchema, _options.TextColumnName);
        return ScoreColumns.AddTo(inputSchema);
    }

    private PackedWindows ReadWindows(IDataView data, LanguageModelTokenizer tokenizer, string what)
    {
        string column = _options.TextColumnName;
        var documents = TextColumnReader.ReadDocuments(data, column);
        if (documents.Count == 0)
            throw new ArgumentException($"Column '{column}' of the {what} holds no text (every row is empty).", what == "ValidationSet" ? nameof(Options.ValidationSet) : "input");
        var tokens = TokenStream.Build(documents, tokenizer);
        try
        {
            return new PackedWindows(tokens, _options.Model.ContextLength);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Column '{column}' of the {what} is too short for one training window: {e.Message}",
                what == "ValidationSet" ? nameof(Options.ValidationSet) : "input", e);
        }
    }
}
