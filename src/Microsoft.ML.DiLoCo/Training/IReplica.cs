using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// What one worker trains: an ordered parameter list (the same layout on every worker) and a loss on the
/// worker's next batch. The engine knows nothing else about the model, so the golden-vector tests drive the
/// real engine with two scalar weights and the trainer drives it with a transformer.
/// </summary>
internal interface IReplica : IDisposable
{
    IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Tokens (or examples) consumed by one call of <see cref="NextLoss"/>; for throughput reports.</summary>
    long TokensPerStep { get; }

    /// <summary>Forward pass on this worker's next batch: a scalar loss that requires grad.</summary>
    Tensor NextLoss();
}
