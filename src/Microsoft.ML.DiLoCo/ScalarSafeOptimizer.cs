using Microsoft.ML.DiLoCo.Training.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.optim;

namespace Microsoft.ML.DiLoCo;

/// <summary>
/// AdamW, Adam or SGD for your own TorchSharp training loop, as a drop-in <see cref="optim.Optimizer"/> that cannot crash
/// at random. TorchSharp 0.107's own optimizers pass doubles where libtorch wants a <c>Scalar</c>; the finalizer can free
/// such a temporary while the native op still reads it, and a run dies with "Expected false to be true ... toFloat at
/// Scalar.h" (more often the more the process allocates: several workers on threads, for instance). This optimizer is
/// the library's own (the one its trainer uses), bit-identical to TorchSharp's on the same inputs, with every Scalar
/// kept alive. Use it wherever you would call <c>torch.optim.AdamW</c>, <c>Adam</c> or <c>SGD</c>, and pass it to
/// <see cref="StreamingDiLoCo"/> as usual.
/// </summary>
public sealed class ScalarSafeOptimizer : optim.Optimizer
{
    private readonly TensorOptimizer _optimizer;
    private readonly LearningRateController _learningRate;

    private ScalarSafeOptimizer(TensorOptimizer optimizer) : base(IntPtr.Zero)
    {
        _optimizer = optimizer;
        _learningRate = new LearningRateController(optimizer);
    }

    /// <summary>AdamW (decoupled weight decay), as <c>torch.optim.AdamW</c>.</summary>
    public static ScalarSafeOptimizer AdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weight_decay = 0.01) =>
        new(new AdamWOptimizer(parameters.ToArray(), lr, beta1, beta2, eps, weight_decay));

    /// <summary>Adam without weight decay, as <c>torch.optim.Adam</c> (the same update as AdamW with no decay).</summary>
    public static ScalarSafeOptimizer Adam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8) =>
        new(new AdamWOptimizer(parameters.ToArray(), lr, beta1, beta2, eps, weightDecay: 0));

    /// <summary>SGD with optional (Nesterov) momentum and no dampening or weight decay, as <c>torch.optim.SGD</c>.</summary>
    public static ScalarSafeOptimizer SGD(IEnumerable<Parameter> parameters, double lr, double momentum = 0, bool nesterov = false) =>
        new(new SgdOptimizer(parameters.ToArray(), lr, momentum, nesterov));

    /// <summary>One update; <paramref name="closure"/>, if given, is evaluated first with gradients enabled and its loss returned.</summary>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        Tensor? loss = null;
        if (closure is not null) using (enable_grad()) loss = closure();
        _optimizer.Step();
        return loss!;
    }

    /// <summary>Zeroes the gradients in place, as TorchSharp's optimizers do.</summary>
    public override void zero_grad() => _optimizer.ZeroGrad();

    /// <inheritdoc/>
    public override IEnumerable<Parameter> parameters() => _optimizer.Parameters;

    /// <summary>One group whose learning rate is the optimizer's (learning-rate schedulers set it).</summary>
    public override IEnumerable<ILearningRateController> ParamGroups => new[] { _learningRate };

    protected override void Dispose(bool disposing)
    {
        if (disposing) _optimizer.Dispose();
        base.Dispose(disposing);
    }

    private sealed class LearningRateController(TensorOptimizer optimizer) : ILearningRateController
    {
        public double LearningRate { get => optimizer.LearningRate; set => optimizer.LearningRate = value; }

        public double InitialLearningRate { get; set; } = optimizer.LearningRate;
    }
}
