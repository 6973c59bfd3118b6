using Microsoft.ML.DiLoCo;

namespace DiLoCo.Benchmarks;

/// <summary>One row of the quality benchmark: a method and the options that differ from the shared baseline.</summary>
internal sealed record QualityRow(string Name, Action<StreamingDiLoCoTrainer.Options> Configure, bool Headline = false);

/// <summary>
/// The run matrix of issue 5, mirroring the paper's ablations: every row trains on the same tokens with the same
/// global batch (M × B) and the same number of steps, and is evaluated on the outer parameters.
/// </summary>
internal static class QualityMatrix
{
    public static IReadOnlyList<QualityRow> Rows(int h) => new QualityRow[]
    {
        new("Data-parallel", o => { o.Algorithm = TrainingAlgorithm.DataParallel; }, Headline: true),
        new($"DiLoCo (H = {h})", o => { o.Algorithm = TrainingAlgorithm.DiLoCo; o.InnerSteps = h; o.WireFormat = WireFormat.Float32; }, Headline: true),
        new("Streaming DiLoCo, no overlap (τ = 0, α = 0, FP32)", o => Streaming(o, h, tau: 0, alpha: 0f, WireFormat.Float32)),
        new("+ overlap (τ = 1, α = 0.5, FP32)", o => Streaming(o, h, tau: 1, alpha: 0.5f, WireFormat.Float32)),
        new(LearningRateTuning.FinalMethodRow, o => Streaming(o, h, tau: 1, alpha: 0.5f, WireFormat.Float4E3M0), Headline: true),
        new("final method, α = 0", o => Streaming(o, h, tau: 1, alpha: 0f, WireFormat.Float4E3M0)),
        new("final method, sequential fragments", o => { Streaming(o, h, tau: 1, alpha: 0.5f, WireFormat.Float4E3M0); o.FragmentPattern = FragmentPattern.Sequential; }),
        new("final method + error feedback", o => { Streaming(o, h, tau: 1, alpha: 0.5f, WireFormat.Float4E3M0); o.ErrorFeedback = true; }),
        new("final method, H = 100", o => Streaming(o, 100, tau: 1, alpha: 0.5f, WireFormat.Float4E3M0), Headline: true),
        // M = 4 with the same global batch: each worker takes a quarter of it.
        new("final method, M = 4", o => { Streaming(o, h, tau: 1, alpha: 0.5f, WireFormat.Float4E3M0); o.BatchSize = o.BatchSize * o.NumberOfWorkers / 4; o.NumberOfWorkers = 4; }),
    };

    private static void Streaming(StreamingDiLoCoTrainer.Options o, int h, int tau, float alpha, WireFormat format)
    {
        o.Algorithm = TrainingAlgorithm.StreamingDiLoCo;
        o.InnerSteps = h;
        o.OverlapSteps = tau;
        o.MixingAlpha = alpha;
        o.WireFormat = format;
    }
}
