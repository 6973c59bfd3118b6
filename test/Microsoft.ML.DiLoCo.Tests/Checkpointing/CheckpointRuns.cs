using Microsoft.ML.DiLoCo.Runs;
using Microsoft.ML.DiLoCo.Data;
using Microsoft.ML.DiLoCo.Model;
using Microsoft.ML.DiLoCo.Tests.EndToEnd;
using Microsoft.ML.DiLoCo.Tokenization;
using Microsoft.ML.DiLoCo.Training;

namespace Microsoft.ML.DiLoCo.Tests.Checkpointing;

/// <summary>Tiny whole-transformer runs for the checkpoint tests, driven below Fit so that a test can stop at a step.</summary>
internal static class CheckpointRuns
{
    private static readonly PackedWindows Windows = new(
        TokenStream.Build(SyntheticText.Documents(30, 8, seed: 5).Select(d => d.Text), LanguageModelTokenizer.Create(TokenizerKind.Bytes)), 16);

    /// <summary>M = 2, H = 8, P = 2 (Δt = 4), τ = 1, α = 0.5, FP4 with error feedback, T = 32: every piece of state matters.</summary>
    public static StreamingDiLoCoTrainer.Options Options(string? directory = null) => new()
    {
        Model = new TransformerOptions { ContextLength = 16, EmbeddingSize = 16, NumberOfLayers = 2, NumberOfHeads = 2 },
        NumberOfWorkers = 2,
        InnerSteps = 8,
        NumberOfFragments = 2,
        OverlapSteps = 1,
        MixingAlpha = 0.5f,
        WireFormat = WireFormat.Float4E3M0,
        ErrorFeedback = true,
        InnerLearningRate = 3e-3f,
        WarmupSteps = 4,
        BatchSize = 4,
        TrainingSteps = 32,
        EvaluationInterval = 1000,
        Seed = 11,
        CheckpointDirectory = directory,
        CheckpointInterval = 4,
    };

    /// <summary>Trains; <paramref name="afterStep"/> sees every step of worker 0 (to cancel at a chosen step).</summary>
    /// <param name="onLog">Sees each log message as it is written (e.g. to time it).</param>
    public static (float[] Global, TrainingReport Report) Train(StreamingDiLoCoTrainer.Options o, List<string>? log = null, Action<long>? afterStep = null, Action<string>? onLog = null)
    {
        var (model, report) = LanguageModelTrainingRun.Train(StreamingDiLoCoTrainer.Plan(o), new RunInputs(257, Windows, null, o.Seed ?? 0),
            new RunHooks(message => { onLog?.Invoke(message); lock (log ?? new List<string>()) log?.Add(message); },
                p => afterStep?.Invoke(p.Step), o.CancellationToken, o.InjectedWorkerFault));
        using (model)
            return (model.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray(), report);
    }

    public static string NewDirectory()
    {
        string path = Path.Combine(Path.GetTempPath(), "diloco-ckpt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        Created.Enqueue(path);
        return path;
    }

    /// <summary>Every folder <see cref="NewDirectory"/> made in this test run (deleted at its end: CheckpointDirectoriesCleanup).</summary>
    internal static readonly System.Collections.Concurrent.ConcurrentQueue<string> Created = new();

    public static void AssertBitIdentical(float[] expected, float[] actual, string what)
    {
        Assert.AreEqual(expected.Length, actual.Length, what);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what} differs at index {i}: {expected[i]:R} vs {actual[i]:R}");
    }
}
