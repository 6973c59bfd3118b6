using Microsoft.ML.DiLoCo.Training.Optimizers;
using TorchSharp.Modules;

namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// The inner optimizer of a worker: one of the library's optimizers over the replica's parameters, an optional
/// learning-rate schedule applied before each step, and optional gradient clipping.
/// </summary>
internal sealed record InnerOptimization(
    Func<IReadOnlyList<Parameter>, TensorOptimizer> CreateOptimizer,
    LearningRateSchedule? Schedule = null,
    double GradientClipNorm = 0)
{
    /// <summary>AdamW with decoupled weight decay on matrices only (embeddings and linear weights), as nanoGPT does.</summary>
    public static InnerOptimization AdamW(LearningRateSchedule schedule, double beta1, double beta2, double weightDecay, double gradientClipNorm)
    {
        return new InnerOptimization(parameters =>
        {
            // Decayed parameters first, then the rest: the order TorchSharp's two parameter groups had, so the optimizer
            // state of checkpoints written before keeps its meaning.
            var ordered = parameters.Where(p => p.dim() >= 2).Concat(parameters.Where(p => p.dim() < 2)).ToArray();
            var decay = ordered.Select(p => p.dim() >= 2 ? weightDecay : 0.0).ToArray();
            return new AdamWOptimizer(ordered, schedule.PeakLearningRate, beta1, beta2, 1e-8, decay);
        }, schedule, gradientClipNorm);
    }
}

/// <summary>
/// The outer optimizer: one optimizer per fragment over the global parameters θ̂ of that fragment,
/// stepped with the averaged pseudo-gradient as the gradient.
/// </summary>
internal sealed record OuterOptimization(Func<IReadOnlyList<Parameter>, TensorOptimizer> CreateOptimizer)
{
    /// <summary>SGD with Nesterov momentum, exactly torch.optim.SGD(nesterov=True): v ← μv + Δ̄; θ̂ ← θ̂ − η(Δ̄ + μv).</summary>
    public static OuterOptimization Nesterov(double learningRate, double momentum) =>
        new(parameters => new SgdOptimizer(parameters, learningRate, momentum, nesterov: momentum > 0));
}
