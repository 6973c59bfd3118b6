using Microsoft.ML.DiLoCo;

namespace DiLoCo.Configuration;

/// <summary>Turns the JSON of a config into a <see cref="TrainingConfig"/>, field by field, with the ranges of docs/config.md.</summary>
internal static class TrainingConfigReader
{
    private static readonly string[] SourceNames = { "files", "folder", "table", "sotu" };
    private static readonly string[] SplitNames = { "none", "fraction", "everyNth", "source" };
    private static readonly string[] DocumentUnitNames = { "file", "line" };

    public static TrainingConfig Read(ConfigObject root, string baseDirectory)
    {
        int version = root.Int("version", min: 1, required: true)!.Value;
        if (version > TrainingConfig.CurrentVersion)
            throw root.Error("version", $"is {version}, newer than this library reads ({TrainingConfig.CurrentVersion}): update the diloco tool (DiLoCo.Configuration), or write version {TrainingConfig.CurrentVersion}.");
        string scenario = root.Choice("scenario", new[] { TrainingConfig.LanguageModelingScenario }, required: true)!;

        var options = new StreamingDiLoCoTrainer.Options();
        options.TextColumnName = root.String("textColumn") ?? options.TextColumnName;
        options.Tokenizer = root.Enum<TokenizerKind>("tokenizer") ?? options.Tokenizer;
        var data = ReadSource(root.Object("data", required: true)!);
        var validation = root.Object("validation") is { } v ? ReadValidation(v) : new ValidationSplitConfig();
        if (root.Object("model") is { } model) ReadModel(model, options.Model);
        if (root.Object("trainer") is { } trainer) ReadTrainer(trainer, options);
        if (root.String("initialModel") is { } initial) // fine-tuning: relative to the config file, like the data paths
        {
            options.InitialModelPath = Path.GetFullPath(initial, baseDirectory);
            if (!File.Exists(options.InitialModelPath))
                throw root.Error(root.FieldPath("initialModel"), $"no such model file: {options.InitialModelPath}.");
        }
        var output = root.Object("output") is { } o ? ReadOutput(o) : new OutputConfig();
        root.RejectUnknownFields();
        CheckTogether(root, options);

        return new TrainingConfig
        {
            Version = version,
            Scenario = scenario,
            Data = data,
            Validation = validation,
            Output = output,
            Trainer = options,
            BaseDirectory = baseDirectory,
        };
    }

    private static DataSourceConfig ReadSource(ConfigObject o)
    {
        string source = o.Choice("source", SourceNames, required: true)!;
        DataSourceConfig result;
        switch (source)
        {
            case "files":
                result = new DataSourceConfig { Source = DataSourceKind.Files, Paths = o.Strings("paths", required: true)!, DocumentPer = DocumentPer(o) };
                break;
            case "folder":
                result = new DataSourceConfig
                {
                    Source = DataSourceKind.Folder,
                    Path = o.String("path", required: true),
                    Pattern = o.String("pattern") ?? "*.txt",
                    Recursive = o.Bool("recursive") ?? false,
                    DocumentPer = DocumentPer(o),
                };
                break;
            case "table":
                string? separator = o.String("separator", allowEmpty: true);
                if (separator is not null && separator.Length != 1)
                    throw o.Error(o.FieldPath("separator"), $"must be one character (\"\\t\", \",\", \";\", \"|\"); got \"{separator}\".");
                result = new DataSourceConfig
                {
                    Source = DataSourceKind.Table,
                    Path = o.String("path", required: true),
                    Column = o.String("column", required: true),
                    Separator = separator?[0],
                };
                break;
            default:
                result = new DataSourceConfig { Source = DataSourceKind.Sotu, CacheDirectory = o.String("cacheDirectory") };
                break;
        }
        o.RejectUnknownFields();
        return new DataSourceConfig
        {
            Source = result.Source, Paths = result.Paths, Path = result.Path, Pattern = result.Pattern, Recursive = result.Recursive,
            DocumentPer = result.DocumentPer, Column = result.Column, Separator = result.Separator, CacheDirectory = result.CacheDirectory,
            JsonPath = o.Path,
        };
    }

    private static DocumentUnit DocumentPer(ConfigObject o) =>
        o.Choice("documentPer", DocumentUnitNames) == "line" ? DocumentUnit.Line : DocumentUnit.File;

    private static ValidationSplitConfig ReadValidation(ConfigObject o)
    {
        string split = o.Choice("split", SplitNames, required: true)!;
        var result = split switch
        {
            "fraction" => new ValidationSplitConfig { Split = ValidationSplitKind.Fraction, Fraction = o.Number("fraction", 0, 1, minExclusive: true, maxExclusive: true, required: true)!.Value },
            "everyNth" => new ValidationSplitConfig { Split = ValidationSplitKind.EveryNth, Every = o.Int("every", min: 2, required: true)!.Value },
            "source" => new ValidationSplitConfig { Split = ValidationSplitKind.Source, Data = ReadSource(o.Object("data", required: true)!) },
            _ => new ValidationSplitConfig(),
        };
        o.RejectUnknownFields();
        return result;
    }

    private static void ReadModel(ConfigObject o, TransformerOptions m)
    {
        m.ContextLength = o.Int("contextLength", min: 2, max: 1 << 20) ?? m.ContextLength;
        m.EmbeddingSize = o.Int("embeddingSize", min: 1, max: 1 << 16) ?? m.EmbeddingSize;
        m.NumberOfLayers = o.Int("numberOfLayers", min: 1, max: 1024) ?? m.NumberOfLayers;
        m.NumberOfHeads = o.Int("numberOfHeads", min: 1, max: 1024) ?? m.NumberOfHeads;
        m.MlpRatio = o.Int("mlpRatio", min: 1, max: 64) ?? m.MlpRatio;
        m.Dropout = (float?)o.Number("dropout", 0, 1, maxExclusive: true) ?? m.Dropout;
        m.TiedEmbeddings = o.Bool("tiedEmbeddings") ?? m.TiedEmbeddings;
        m.PositionEncoding = o.Enum<PositionEncoding>("positionEncoding") ?? m.PositionEncoding;
        m.Bias = o.Bool("bias") ?? m.Bias;
        o.RejectUnknownFields();
    }

    private static void ReadTrainer(ConfigObject o, StreamingDiLoCoTrainer.Options t)
    {
        t.Algorithm = o.Enum<TrainingAlgorithm>("algorithm") ?? t.Algorithm;
        t.NumberOfWorkers = o.Int("numberOfWorkers", min: 1, max: 4096) ?? t.NumberOfWorkers;
        t.Devices = o.Strings("devices") ?? t.Devices;
        t.InnerSteps = o.Int("innerSteps", min: 1) ?? t.InnerSteps;
        t.NumberOfFragments = o.Int("numberOfFragments", min: 1, max: 4096) ?? t.NumberOfFragments;
        t.FragmentPattern = o.Enum<FragmentPattern>("fragmentPattern") ?? t.FragmentPattern;
        t.NonBlockParameters = o.Enum<NonBlockParameterPlacement>("nonBlockParameters") ?? t.NonBlockParameters;
        t.OverlapSteps = o.Int("overlapSteps", min: 0) ?? t.OverlapSteps;
        t.MixingAlpha = (float?)o.Number("mixingAlpha", 0, 1) ?? t.MixingAlpha;
        t.WireFormat = o.Enum<WireFormat>("wireFormat") ?? t.WireFormat;
        t.Float4BlockSize = o.Int("float4BlockSize", min: 1) ?? t.Float4BlockSize;
        t.ErrorFeedback = o.Bool("errorFeedback") ?? t.ErrorFeedback;
        t.OuterLearningRate = (float?)o.Number("outerLearningRate", 0, 1000, minExclusive: true) ?? t.OuterLearningRate;
        t.OuterMomentum = (float?)o.Number("outerMomentum", 0, 1, maxExclusive: true) ?? t.OuterMomentum;
        t.FinalModel = o.Enum<FinalModel>("finalModel") ?? t.FinalModel;
        t.SyncWarmupSteps = o.Int("syncWarmupSteps", min: 0) ?? t.SyncWarmupSteps;
        t.SyncWarmupInnerSteps = o.Int("syncWarmupInnerSteps", min: 0) ?? t.SyncWarmupInnerSteps;
        t.InnerLearningRate = (float?)o.Number("innerLearningRate", 0, 1000, minExclusive: true) ?? t.InnerLearningRate;
        t.WarmupSteps = o.Int("warmupSteps", min: 0) ?? t.WarmupSteps;
        t.MinimumLearningRateRatio = (float?)o.Number("minimumLearningRateRatio", 0, 1) ?? t.MinimumLearningRateRatio;
        t.Beta1 = (float?)o.Number("beta1", 0, 1, maxExclusive: true) ?? t.Beta1;
        t.Beta2 = (float?)o.Number("beta2", 0, 1, maxExclusive: true) ?? t.Beta2;
        t.WeightDecay = (float?)o.Number("weightDecay", 0, double.PositiveInfinity) ?? t.WeightDecay;
        t.GradientClipNorm = (float?)o.Number("gradientClipNorm", 0, double.PositiveInfinity) ?? t.GradientClipNorm;
        t.BatchSize = o.Int("batchSize", min: 1) ?? t.BatchSize;
        t.TrainingSteps = o.Int("trainingSteps", min: 1) ?? t.TrainingSteps;
        t.EvaluationInterval = o.Int("evaluationInterval", min: 1) ?? t.EvaluationInterval;
        t.MaximumValidationTokens = o.Int("maximumValidationTokens", min: 1) ?? t.MaximumValidationTokens;
        t.Seed = o.Int("seed", min: int.MinValue) ?? t.Seed;
        t.Deterministic = o.Bool("deterministic") ?? t.Deterministic;
        t.Transport = o.Enum<Transport>("transport") ?? t.Transport;
        t.ExchangeTimeoutSeconds = o.Number("exchangeTimeoutSeconds", 0, double.PositiveInfinity) ?? t.ExchangeTimeoutSeconds;
        t.LinkBandwidthBitsPerSecond = o.Number("linkBandwidthBitsPerSecond", 0, double.PositiveInfinity) ?? t.LinkBandwidthBitsPerSecond;
        t.LinkLatencyMilliseconds = o.Number("linkLatencyMilliseconds", 0, double.PositiveInfinity) ?? t.LinkLatencyMilliseconds;
        t.CheckpointDirectory = o.String("checkpointDirectory") ?? t.CheckpointDirectory;
        t.CheckpointInterval = o.Int("checkpointInterval", min: 0) ?? t.CheckpointInterval;
        t.KeepCheckpoints = o.Int("keepCheckpoints", min: 1) ?? t.KeepCheckpoints;
        t.NonFiniteValuePolicy = o.Enum<NonFiniteValuePolicy>("nonFiniteValuePolicy") ?? t.NonFiniteValuePolicy;
        t.OnWorkerFailure = o.Enum<WorkerFailurePolicy>("onWorkerFailure") ?? t.OnWorkerFailure;
        t.ExchangeSecurity = o.Enum<ExchangeSecurity>("exchangeSecurity") ?? t.ExchangeSecurity;
        t.ExchangeKeyFile = o.String("exchangeKeyFile") ?? t.ExchangeKeyFile; // a path, never the key itself (docs/security.md)
        o.RejectUnknownFields();
    }

    private static OutputConfig ReadOutput(ConfigObject o)
    {
        var defaults = new OutputConfig();
        // An explicit null skips a file; a missing field keeps the default name.
        string? File(string name, string? fallback) => o.IsPresent(name) ? o.String(name) : fallback;
        var result = new OutputConfig
        {
            Directory = o.String("directory") ?? defaults.Directory,
            Model = File("model", defaults.Model),
            Report = File("report", defaults.Report),
            LossCurve = File("lossCurve", defaults.LossCurve),
        };
        o.RejectUnknownFields();
        return result;
    }

    /// <summary>Runs the trainer's own checks (the ones across fields, e.g. H a multiple of P) and names the JSON field.</summary>
    private static void CheckTogether(ConfigObject root, StreamingDiLoCoTrainer.Options options)
    {
        try
        {
            // Validate() runs the trainer's own checks and reads no data.
            options.Validate();
        }
        catch (ArgumentException e)
        {
            string option = e.ParamName ?? "";
            string field = option switch
            {
                nameof(StreamingDiLoCoTrainer.Options.TextColumnName) => "textColumn",
                nameof(StreamingDiLoCoTrainer.Options.Tokenizer) => "tokenizer",
                nameof(StreamingDiLoCoTrainer.Options.Model) => "model",
                _ when option.StartsWith("Model.", StringComparison.Ordinal) => "model." + ConfigObject.Camel(option["Model.".Length..]),
                "" => "trainer",
                _ => "trainer." + ConfigObject.Camel(option),
            };
            string problem = e.Message.Split(" (Parameter '", 2)[0];
            if (e is ArgumentOutOfRangeException { ActualValue: { } actual } && !problem.Contains("Actual value", StringComparison.Ordinal))
                problem += $" Got {actual}.";
            throw root.Error(field, problem.Replace(Environment.NewLine, " "), e);
        }
    }
}
