using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML.Data;
using Microsoft.ML.DiLoCo.Model;
using Microsoft.ML.DiLoCo.Persistence;
using Microsoft.ML.DiLoCo.Scoring;
using Microsoft.ML.DiLoCo.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo;

/// <summary>
/// A fitted causal language model. <see cref="Transform"/> adds <c>Loss</c> (mean negative log-likelihood per
/// predicted token, nats), <c>Perplexity</c> and <c>TokenCount</c> columns for the text column; empty text scores
/// TokenCount 0 and NaN loss, and so does whitespace-only text. <see cref="Generate"/> continues a prompt. The weights are the outer parameters θ̂.
/// <c>mlContext.Model.Save(model, schema, path)</c> writes the whole model into one zip; <c>mlContext.Model.Load</c>
/// returns a <see cref="LanguageModelTransformer"/> again (cast it to generate). See docs/persistence.md.
/// Not IDisposable on purpose: ML.NET's PredictionEngine disposes a disposable transformer, which would free a
/// model that other engines still share; the native weights are released when the transformer is collected.
/// </summary>
public sealed class LanguageModelTransformer : ITransformer
{
    private readonly TransformerLanguageModel _model;
    private readonly LanguageModelTokenizer _tokenizer;
    private int _scoringStride;

    internal LanguageModelTransformer(TransformerLanguageModel model, LanguageModelTokenizer tokenizer, string textColumnName, TrainingReport? report)
    {
        _model = model;
        _model.eval(); // scoring and generation only: no dropout
        _tokenizer = tokenizer;
        TextColumnName = textColumnName;
        TrainingReport = report;
        _scoringStride = model.Options.ContextLength;
    }

    /// <summary>What training did and cost (null for a model that was not trained in this process).</summary>
    public TrainingReport? TrainingReport { get; }

    /// <summary>The text column this model reads.</summary>
    public string TextColumnName { get; }

    /// <summary>The tokenizer the model was trained with.</summary>
    public TokenizerKind Tokenizer => _tokenizer.Kind;

    /// <summary>A copy of the model's shape.</summary>
    public TransformerOptions ModelOptions => _model.Options.Clone();

    /// <summary>
    /// A file holding the 256-bit secret to sign the saved model with (HMAC-SHA256; docs/security.md): a reader with the secret
    /// refuses an altered file. Null: the <c>DILOCO_EXCHANGE_KEY</c> variable signs when set, else the file is not signed.
    /// A model trained with <see cref="ExchangeSecurity.Encrypted"/> starts with the trainer's <c>ExchangeKeyFile</c>.
    /// </summary>
    public string? SigningKeyFile { get; set; }

    /// <summary>Number of trainable parameters.</summary>
    public long ParameterCount => _model.ParameterCount;

    /// <summary>
    /// Where scoring (<see cref="Transform"/>, a PredictionEngine) and generation run: "cpu" (the default), "cuda" or
    /// "cuda:N". Setting it moves the weights there; set it before creating a PredictionEngine or scoring a data view.
    /// Sampling draws from <c>System.Random</c> on the CPU, so a seed gives the same tokens on any device.
    /// </summary>
    /// <exception cref="ArgumentException">Not a device, or CUDA is absent or has fewer devices (the message says which).</exception>
    public string Device
    {
        get => ModelDevice.ToString();
        set => _model.to(Runs.WorkerDevices.Parse(new[] { value }, nameof(Device))[0]);
    }

    private TorchSharp.torch.Device ModelDevice => _model.parameters().First().device;

    /// <summary>
    /// How far the scoring window advances over texts longer than the context (1..ContextLength; default
    /// ContextLength). Every token is scored once; a smaller stride gives each token more context and costs more.
    /// </summary>
    public int ScoringStride
    {
        get => _scoringStride;
        set
        {
            if (value < 1 || value > _model.Options.ContextLength)
                throw new ArgumentOutOfRangeException(nameof(ScoringStride), value, $"ScoringStride must be in 1..{_model.Options.ContextLength} (the context length).");
            _scoringStride = value;
        }
    }

    /// <summary>
    /// How <c>mlContext.Model.Save</c> stores the weights: <see cref="WeightPrecision.Float32"/> (default; a loaded
    /// model scores bit-identically) or <see cref="WeightPrecision.BFloat16"/> (half the file; loaded weights are the
    /// FP32 weights rounded to bfloat16). A loaded model reports the precision its file used.
    /// </summary>
    public WeightPrecision SaveWeightsAs
    {
        get => _saveWeightsAs;
        set
        {
            if (!Enum.IsDefined(value))
                throw new ArgumentOutOfRangeException(nameof(SaveWeightsAs), value, "must be Float32 or BFloat16.");
            _saveWeightsAs = value;
        }
    }

    private WeightPrecision _saveWeightsAs = WeightPrecision.Float32;

    /// <summary>The trainer options the model was fitted with, as JSON (saved with the model; null when unknown).</summary>
    internal JsonObject? TrainingOptions { get; init; }

    internal TransformerLanguageModel Model => _model;

    /// <summary>Seeds for generation without <see cref="GenerationOptions.Seed"/>: the training or loading MLContext's.</summary>
    internal GenerationSeeds GenerationSeeds { get; set; } = GenerationSeeds.Unseeded;

    bool ITransformer.IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ScoreColumns.CheckTextColumn(inputSchema, TextColumnName);
        return ScoreColumns.AddTo(inputSchema);
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ScoreColumns.CheckTextColumn(input.Schema, TextColumnName);
        return new ScoredTextDataView(input, TextColumnName, CreateScorer);
    }

    IRowToRowMapper ITransformer.GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ScoreColumns.CheckTextColumn(inputSchema, TextColumnName);
        return new ScoredTextRowMapper(inputSchema, TextColumnName, CreateScorer);
    }

    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        MLNetModelContext.Save(ctx, (main, writeEntry) =>
            LanguageModelFile.Save(this, main, writeEntry, SigningKeyFile is null ? ModelSignature.CurrentSecret(nameof(SigningKeyFile))
                                                                                  : Communication.ExchangeSecret.Read(SigningKeyFile, nameof(SigningKeyFile))));

    /// <summary>
    /// Loads a model saved with <c>mlContext.Model.Save</c> (alone or as part of a pipeline). Same as
    /// <c>(LanguageModelTransformer)mlContext.Model.Load(path, out _)</c>, except that a bad file throws
    /// <see cref="InvalidDataException"/> itself; ML.NET reports it as the inner exception of a
    /// <see cref="System.Reflection.TargetInvocationException"/>, because it calls loaders by reflection.
    /// </summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="FormatException">The file is not a zip (for example, truncated).</exception>
    /// <exception cref="InvalidDataException">The zip is not a complete, consistent language model of a format this library reads
    /// (including any failure of ML.NET's reader on its own entries; the inner exception is ML.NET's).</exception>
    /// <param name="signingKeyFile">
    /// A 256-bit secret (as <see cref="StreamingDiLoCoTrainer.Options.ExchangeKeyFile"/>): the file must carry a matching
    /// HMAC-SHA256, else <see cref="InvalidDataException"/>. Without it, the <c>DILOCO_EXCHANGE_KEY</c> variable is used when set.
    /// </param>
    public static LanguageModelTransformer Load(string path, MLContext? mlContext = null, string? signingKeyFile = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"No model file at '{path}'.", path);
        ITransformer loaded;
        var previous = ModelSignature.ExplicitSecret;
        try
        {
            if (signingKeyFile is not null) ModelSignature.ExplicitSecret = Communication.ExchangeSecret.Read(signingKeyFile, nameof(signingKeyFile));
            loaded = (mlContext ?? new MLContext()).Model.Load(path, out _);
        }
        catch (System.Reflection.TargetInvocationException e) when (e.InnerException is InvalidDataException or FormatException)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
        catch (Exception e) when (e is not (InvalidDataException or FormatException or UnauthorizedAccessException or OutOfMemoryException))
        {
            // ML.NET's own entries (Schema, Model.key, the chain) fail in many ways when corrupted (found by fuzzing:
            // EndOfStreamException, a FileNotFoundException for an assembly named by a damaged Model.key, ...):
            // for this method they are all one thing, a file that is not a readable model.
            var cause = e is System.Reflection.TargetInvocationException { InnerException: { } inner } ? inner : e;
            throw new InvalidDataException($"'{path}' is not a readable ML.NET model file ({cause.GetType().Name}: {cause.Message})", cause);
        }
        finally
        {
            ModelSignature.ExplicitSecret = previous;
        }
        return loaded as LanguageModelTransformer
            ?? (loaded as IEnumerable<ITransformer>)?.OfType<LanguageModelTransformer>().LastOrDefault()
            ?? throw new InvalidDataException($"'{path}' holds a {loaded.GetType().Name} without a language model.");
    }

    /// <summary>
    /// Writes the outer parameters to a safetensors file, FP32, under the documented parameter names
    /// (docs/parameter-names.md), for PyTorch (<c>safetensors.torch.load_file</c>) or <see cref="ImportSafetensors"/>.
    /// The architecture is not in the file: keep <see cref="ModelOptions"/> and <see cref="Tokenizer"/> beside it.
    /// </summary>
    public void ExportSafetensors(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        SafetensorsInterchange.Export(_model, path);
    }

    /// <summary>
    /// Builds a model from a safetensors file holding exactly the parameters of <paramref name="architecture"/>
    /// (names as in docs/parameter-names.md, FP32), for example one exported by <see cref="ExportSafetensors"/> or
    /// saved from an equivalent PyTorch module.
    /// </summary>
    /// <exception cref="InvalidDataException">A tensor is missing, extra, not FP32, or of the wrong shape.</exception>
    public static LanguageModelTransformer ImportSafetensors(string path, TransformerOptions architecture, TokenizerKind tokenizer = TokenizerKind.Bytes, string textColumnName = "Text")
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentException.ThrowIfNullOrEmpty(textColumnName);
        architecture.Validate(nameof(architecture));
        var languageModelTokenizer = LanguageModelTokenizer.Create(tokenizer);
        var model = SafetensorsInterchange.Import(path, architecture.Clone(), languageModelTokenizer.VocabularySize);
        return new LanguageModelTransformer(model, languageModelTokenizer, textColumnName, report: null);
    }

    /// <summary>
    /// Continues <paramref name="prompt"/> (read as the start of a document) and returns the new text. Without
    /// <see cref="GenerationOptions.Seed"/>, sampling is seeded from the MLContext that trained or loaded the model:
    /// with <c>new MLContext(seed: s)</c> the same program generates the same texts on every run.
    /// </summary>
    public string Generate(string prompt, GenerationOptions? options = null)
    {
        var text = new StringBuilder();
        foreach (var piece in GenerateStreaming(prompt, options)) text.Append(piece);
        return text.ToString();
    }

    /// <summary>Like <see cref="Generate"/>, but yields the text as it is produced.</summary>
    public IEnumerable<string> GenerateStreaming(string prompt, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        options ??= new GenerationOptions();
        options.Validate();
        var promptIds = new[] { _tokenizer.EndOfTextId }.Concat(_tokenizer.Encode(prompt)).ToArray();
        return GenerateLazily(promptIds, options);
    }

    private IEnumerable<string> GenerateLazily(int[] promptIds, GenerationOptions options)
    {
        var generated = new List<int>();
        string emitted = "";
        int seed = options.Seed ?? GenerationSeeds.Next();
        foreach (int id in TextGeneration.Sample(_model, promptIds, options.MaxNewTokens, options.Temperature, options.TopK, options.TopP, seed, ModelDevice))
        {
            if (id == _tokenizer.EndOfTextId) break;
            generated.Add(id);
            string text = _tokenizer.Decode(generated.ToArray());
            // Hold back a trailing partial UTF-8 character (decoded as U+FFFD) until its bytes are complete.
            string stable = text.EndsWith('\uFFFD') ? text[..^1] : text;
            foreach (var stop in options.StopSequences)
            {
                int at = stable.IndexOf(stop, StringComparison.Ordinal);
                if (stop.Length > 0 && at >= 0)
                {
                    if (at > emitted.Length) yield return stable[emitted.Length..at];
                    yield break;
                }
            }
            if (stable.Length > emitted.Length && stable.StartsWith(emitted, StringComparison.Ordinal))
            {
                yield return stable[emitted.Length..];
                emitted = stable;
            }
        }
        string final = _tokenizer.Decode(generated.ToArray());
        if (final.Length > emitted.Length && final.StartsWith(emitted, StringComparison.Ordinal)) yield return final[emitted.Length..];
    }

    private ITextScorer CreateScorer() => new TransformerTextScorer(_model, _tokenizer, _scoringStride);

}
