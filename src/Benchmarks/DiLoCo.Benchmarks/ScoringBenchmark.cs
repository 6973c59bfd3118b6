using System.Diagnostics;
using DiLoCo.Configuration;
using Microsoft.ML;
using Microsoft.ML.DiLoCo;
using Microsoft.ML.DiLoCo.Model;
using Microsoft.ML.DiLoCo.Scoring;
using Microsoft.ML.DiLoCo.Tokenization;
using TorchSharp;

namespace DiLoCo.Benchmarks;

/// <summary>How big the scoring benchmark is: rows of each case (about the same tokens in both by default), timed repetitions,
/// training steps of the model it scores with. The defaults keep the whole run near 5 minutes on 2 idle cores.</summary>
internal sealed record ScoringSettings(int LongRows = 32, int ShortRows = 256, int Repetitions = 5, int TrainingSteps = 60);

/// <summary>One way of scoring one batch of texts at one thread count: the seconds of each timed repetition.</summary>
/// <param name="Baseline">The forward-pass path this one is compared with (grouped the same way), or null for a forward pass itself.</param>
/// <param name="MaxLossDifference">Largest |loss − forward pass's loss| over the rows (checks that both computed the same thing).</param>
/// <param name="CpuSeconds">CPU time of this process (all its threads) per repetition: the work done, whatever else the machine runs.</param>
internal sealed record ScoringTiming(string Case, int Threads, string Path, string? Baseline, int Rows, long Tokens, double[] Seconds, double MaxLossDifference,
    double[] CpuSeconds);

/// <summary>Greedy generation of <c>NewTokens</c> after a <c>PromptTokens</c> prompt, with or without the key/value cache.</summary>
internal sealed record GenerationTiming(int Threads, int PromptTokens, int NewTokens, bool KeyValueCache, double[] Seconds);

/// <param name="LoadAverage">The machine's 1-minute load average (/proc/loadavg) before and after the timed part; null where unknown.</param>
/// <param name="OtherCpu">What other processes and the hypervisor took during the timed part; null where unknown.</param>
internal sealed record ScoringResults(long Parameters, int TrainingSteps, double TrainingSeconds, double TrainingLoss, ScoringSettings Settings,
    List<ScoringTiming> Scoring, List<GenerationTiming> Generation, double[]? LoadAverage = null, List<WindowBatchTiming>? WindowBatches = null,
    OtherCpuUse? OtherCpu = null);

/// <summary>
/// Scoring and generation throughput of a trained model (the quality benchmark's shape, trained briefly on the State of
/// the Union): the model's own forward pass on the windows the scorer builds, beside <c>Transform</c> read through
/// <c>CreateEnumerable</c>, a <c>PredictionEngine</c> row by row, and both again after <c>Model.Save</c> + <c>Model.Load</c>;
/// greedy generation with and without the key/value cache. Warm-up first, then repetitions interleaved across paths (so
/// a burst of load on a shared machine hits every path alike), at 1 torch thread and at all cores.
/// </summary>
internal static class ScoringBenchmark
{
    public const string ForwardBatched = "forward pass, 32 texts a call";
    public const string ForwardSingle = "forward pass, 1 text a call";
    public const string Scorer = "TransformerTextScorer, 32 texts a call";
    public const string ScorerSingle = "TransformerTextScorer, 1 text a call";
    public const string Transform = "Transform + CreateEnumerable";
    public const string Engine = "PredictionEngine, row by row";
    public const string LoadedTransform = "Transform after Save + Load";
    public const string LoadedEngine = "PredictionEngine after Save + Load";

    public const int PromptTokens = 64;
    public static readonly int[] NewTokens = { 64, 128, 256 };

    public static ScoringResults Run(ScoringSettings settings)
    {
        var (trainSpeeches, validSpeeches) = SotuCorpus.Load();
        var ml = new MLContext(seed: 1);
        var clock = Stopwatch.StartNew();
        var model = Train(ml, trainSpeeches, settings.TrainingSteps);
        double trainingSeconds = clock.Elapsed.TotalSeconds;
        double trainingLoss = model.TrainingReport!.MeanInnerLoss.TakeLast(10).Average();
        Console.WriteLine($"trained {settings.TrainingSteps} steps in {trainingSeconds:F0} s, training loss (last 10 steps) {trainingLoss:F3}");

        string validation = string.Join("\n", validSpeeches.Select(s => s.Text));
        var cases = new (string Name, string[] Texts)[]
        {
            ($"{settings.LongRows} rows × ~1 kB", Rows(validation, settings.LongRows, 1024)),
            ($"{settings.ShortRows} rows × ~100 B", Rows(validation, settings.ShortRows, 100)),
        };

        string zip = Path.Combine(Path.GetTempPath(), $"diloco-scoring-{Environment.ProcessId}.zip");
        var inputs = ml.Data.LoadFromEnumerable(cases[0].Texts.Select(t => new ModelInput { Text = t }));
        ml.Model.Save(model, inputs.Schema, zip);
        var loaded = (LanguageModelTransformer)ml.Model.Load(zip, out _);
        File.Delete(zip);

        var scoring = new List<ScoringTiming>();
        var generation = new List<GenerationTiming>();
        double? loadBefore = LoadAverage();
        var otherCpu = OtherCpuUse.Start();
        var threadCounts = new[] { 1, Environment.ProcessorCount }.Distinct().ToArray();
        foreach (int threads in threadCounts)
        {
            torch.set_num_threads(threads);
            foreach (var (name, texts) in cases)
                scoring.AddRange(TimeScoring(ml, model, loaded, name, texts, threads, settings.Repetitions));
            generation.AddRange(TimeGeneration(model, validation, threads, settings.Repetitions));
        }
        var windowBatches = ScoringBatchSweep.Run(settings.Repetitions, threadCounts);
        return new ScoringResults(model.ParameterCount, settings.TrainingSteps, trainingSeconds, trainingLoss,
            settings, scoring, generation, loadBefore is { } before && LoadAverage() is { } after ? [before, after] : null, windowBatches,
            otherCpu());
    }

    private static double? LoadAverage()
    {
        try
        {
            return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    private static LanguageModelTransformer Train(MLContext ml, IReadOnlyList<SotuSpeech> speeches, int steps)
    {
        var train = ml.Data.LoadFromEnumerable(speeches.Take(60).Select(s => new ModelInput { Text = s.Text }));
        var options = new StreamingDiLoCoTrainer.Options
        {
            TextColumnName = nameof(ModelInput.Text),
            Tokenizer = TokenizerKind.Bytes,
            Model = new TransformerOptions { ContextLength = 128, EmbeddingSize = 128, NumberOfLayers = 4, NumberOfHeads = 4 },
            NumberOfWorkers = 1,
            Algorithm = TrainingAlgorithm.DiLoCo,
            InnerSteps = steps,
            TrainingSteps = steps,
            BatchSize = 16,
            InnerLearningRate = 2e-3f,
            WarmupSteps = Math.Max(1, steps / 10),
            Seed = 1,
        };
        return ml.LanguageModeling().Trainers.StreamingDiLoCo(options).Fit(train);
    }

    /// <summary>Consecutive pieces of <paramref name="text"/> of about <paramref name="length"/> characters, each ending before a space.</summary>
    internal static string[] Rows(string text, int count, int length)
    {
        var rows = new string[count];
        int start = 0;
        for (int i = 0; i < count; i++)
        {
            if (start + length >= text.Length) start = 0;
            int end = text.LastIndexOf(' ', start + length, length / 4);
            if (end <= start) end = start + length;
            rows[i] = text[start..end];
            start = end + 1;
        }
        return rows;
    }

    private static List<ScoringTiming> TimeScoring(MLContext ml, LanguageModelTransformer model, LanguageModelTransformer loaded,
        string name, string[] texts, int threads, int repetitions)
    {
        var tokenizer = LanguageModelTokenizer.Create(model.Tokenizer);
        var data = ml.Data.LoadFromEnumerable(texts.Select(t => new ModelInput { Text = t }));
        var rows = texts.Select(t => new ModelInput { Text = t }).ToArray();
        var memories = texts.Select(t => t.AsMemory()).ToArray();
        using var batched = new ScoringForwardPass(model.Model, tokenizer, texts, ScoredTextDataView.DefaultBatchSize, model.ScoringStride);
        using var single = new ScoringForwardPass(model.Model, tokenizer, texts, 1, model.ScoringStride);
        var scorer = new TransformerTextScorer(model.Model, tokenizer, model.ScoringStride);
        var engine = ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(model);
        var loadedEngine = ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(loaded);

        double[] Score(int textsPerCall)
        {
            var scores = new TextScore[texts.Length];
            for (int i = 0; i < texts.Length; i += textsPerCall)
            {
                int n = Math.Min(textsPerCall, texts.Length - i);
                scorer.Score(memories.AsSpan(i, n), scores.AsSpan(i, n));
            }
            return scores.Select(s => (double)s.Loss).ToArray();
        }
        // Each ML.NET path beside the scorer alone and the bare forward pass, grouped as that path groups texts.
        var paths = new (string Path, string? Baseline, Func<double[]> Run)[]
        {
            (ForwardBatched, null, batched.Run),
            (Scorer, ForwardBatched, () => Score(ScoredTextDataView.DefaultBatchSize)),
            (Transform, ForwardBatched, () => Enumerate(ml, model.Transform(data))),
            (LoadedTransform, ForwardBatched, () => Enumerate(ml, loaded.Transform(data))),
            (ForwardSingle, null, single.Run),
            (ScorerSingle, ForwardSingle, () => Score(1)),
            (Engine, ForwardSingle, () => rows.Select(r => (double)engine.Predict(r).Loss).ToArray()),
            (LoadedEngine, ForwardSingle, () => rows.Select(r => (double)loadedEngine.Predict(r).Loss).ToArray()),
        };

        // The warm-up runs, checked against the first (the bare forward pass): every path must compute the same losses.
        var warmUp = paths.Select(p => p.Run()).ToArray();
        var difference = warmUp.Select(losses => warmUp[0].Zip(losses, (a, b) => Math.Abs(a - b)).Max()).ToArray();
        var seconds = paths.Select(_ => new double[repetitions]).ToArray();
        var cpuSeconds = paths.Select(_ => new double[repetitions]).ToArray();
        // Each repetition starts one path later, so no path always runs right after the same neighbour.
        for (int r = 0; r < repetitions; r++)
            for (int k = 0; k < paths.Length; k++)
            {
                int p = (k + r) % paths.Length;
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                paths[p].Run();
                seconds[p][r] = clock.Elapsed.TotalSeconds;
                cpuSeconds[p][r] = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            }

        var timings = paths.Select((p, i) => new ScoringTiming(name, threads, p.Path, p.Baseline, texts.Length, batched.TokenCount, seconds[i], difference[i],
            cpuSeconds[i])).ToList();
        foreach (var t in timings)
            Console.WriteLine($"{name}, {threads} thread(s), {t.Path,-40}: {t.Tokens / Statistics.Median(t.Seconds),9:N0} tokens/s (max |Δloss| {t.MaxLossDifference:G2})");
        return timings;
    }

    private static double[] Enumerate(MLContext ml, IDataView scored) =>
        ml.Data.CreateEnumerable<ModelOutput>(scored, reuseRowObject: false).Select(o => (double)o.Loss).ToArray();

    private static List<GenerationTiming> TimeGeneration(LanguageModelTransformer model, string validation, int threads, int repetitions)
    {
        var tokenizer = LanguageModelTokenizer.Create(model.Tokenizer);
        var prompt = new[] { tokenizer.EndOfTextId }.Concat(tokenizer.Encode(validation).Take(PromptTokens - 1)).ToArray();
        var runs = NewTokens.SelectMany(n => new[] { true, false }.Select(cache => (NewTokens: n, Cache: cache))).ToArray();
        int Generate((int NewTokens, bool Cache) run) =>
            TextGeneration.Sample(model.Model, prompt, run.NewTokens, temperature: 0f, topK: 0, topP: 1f, seed: 1, torch.CPU, run.Cache).Count();
        var seconds = runs.Select(_ => new double[repetitions]).ToArray();
        foreach (var run in runs) Generate(run);
        for (int r = 0; r < repetitions; r++)
            for (int k = 0; k < runs.Length; k++)
            {
                int i = (k + r) % runs.Length;
                var clock = Stopwatch.StartNew();
                Generate(runs[i]);
                seconds[i][r] = clock.Elapsed.TotalSeconds;
            }
        var timings = runs.Select((run, i) => new GenerationTiming(threads, prompt.Length, run.NewTokens, run.Cache, seconds[i])).ToList();
        foreach (var t in timings)
            Console.WriteLine($"generation, {threads} thread(s), {t.NewTokens} new tokens, cache {(t.KeyValueCache ? "on " : "off")}: {t.NewTokens / Statistics.Median(t.Seconds):N0} tokens/s");
        return timings;
    }

    /// <summary>The input row of the PredictionEngine (the Model Builder consumption shape).</summary>
    internal sealed class ModelInput
    {
        public string Text { get; set; } = "";
    }

    /// <summary>The output row: the score columns the model adds.</summary>
    internal sealed class ModelOutput
    {
        public float Loss { get; set; }
        public float Perplexity { get; set; }
        public int TokenCount { get; set; }
    }
}
