using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Training;

/// <summary>
/// The inner optimizer of a worker: any TorchSharp optimizer over the replica's parameters, an optional
/// learning-rate schedule applied to every parameter group before each step, and optional gradient clipping.
/// </summary>
internal sealed record InnerOptimization(
    Func<IReadOnlyList<Parameter>, optim.Optimizer> CreateOptimizer,
    LearningRateSchedule? Schedule = null,
    double GradientClipNorm = 0)
{
    /// <summary>AdamW with decoupled weight decay on matrices only (embeddings and linear weights), as nanoGPT does.</summary>
    public static InnerOptimization AdamW(IReadOnlyList<string> parameterNames, LearningRateSchedule schedule,
        double beta1, double beta2, double weightDecay, double gradientClipNorm)
    {
        return new InnerOptimization(parameters =>
        {
            var decay = new List<Parameter>();
            var noDecay = new List<Parameter>();
            for (int i = 0; i < parameters.Count; i++)
                (parameters[i].dim() >= 2 ? decay : noDecay).Add(parameters[i]);
            var groups = new List<AdamW.ParamGroup>
            {
                new(decay, new AdamW.Options { LearningRate = schedule.PeakLearningRate, weight_decay = weightDecay, beta1 = beta1, beta2 = beta2 }),
            };
            if (noDecay.Count > 0)
                groups.Add(new(noDecay, new AdamW.Options { LearningRate = schedule.PeakLearningRate, weight_decay = 0, beta1 = beta1, beta2 = beta2 }));
            return optim.AdamW(groups, schedule.PeakLearningRate, beta1, beta2, 1e-8, weightDecay);
        }, schedule, gradientClipNorm);
    }
}

/// <summary>
/// The outer optimizer: one TorchSharp optimizer per fragment over the global parameters θ̂ of that fragment,
/// stepped with the averaged pseudo-gradient as the gradient.
/// </summary>
internal sealed record OuterOptimization(Func<IReadOnlyList<Parameter>, optim.Optimizer> CreateOptimizer)
{
    /// <summary>SGD with Nesterov momentum, exactly torch.optim.SGD(nesterov=True): v ← μv + Δ̄; θ̂ ← θ̂ − η(Δ̄ + μv).</summary>
    public static OuterOptimization Nesterov(double learningRate, double momentum) =>
        new(parameters => momentum > 0
            ? optim.SGD(parameters, learningRate, momentum, dampening: 0, weight_decay: 0, nesterov: true)
            : optim.SGD(parameters, learningRate));
}
