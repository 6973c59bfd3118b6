using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Training.Optimizers;

/// <summary>
/// An optimizer of the library's own over TorchSharp parameters: the inner AdamW and the outer (Nesterov) SGD.
/// </summary>
/// <remarks>
/// Why not TorchSharp's optimizers: their <c>step()</c> passes doubles where libtorch wants a <c>Scalar</c>
/// (<c>t.add_(g, alpha: 1 - beta1)</c>). The implicit <c>Scalar</c> is garbage as soon as its handle has been read, so its
/// finalizer can free the native value while the op still reads it: a worker dies at random with "toFloat at Scalar.h"
/// (ENVIRONMENT.md, issue 12). Here every Scalar is created explicitly and outlives the native calls that read it:
/// the constant ones are fields disposed with the optimizer, the per-step ones are <c>using</c> locals around the step.
/// The formulas and the order of the tensor ops are TorchSharp's (= torch's single-tensor path), so results are bit-identical.
/// </remarks>
internal abstract class TensorOptimizer : IDisposable
{
    protected TensorOptimizer(IReadOnlyList<Parameter> parameters, double learningRate)
    {
        if (!(learningRate >= 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be ≥ 0.");
        Parameters = parameters.ToArray();
        LearningRate = learningRate;
    }

    /// <summary>The parameters, in the order their state is stored.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>The rate of the next <see cref="Step"/> (the inner schedule sets it before every step).</summary>
    public double LearningRate { get; set; }

    /// <summary>The name a checkpoint stores this optimizer's state under ("AdamW" or "SGD").</summary>
    public abstract string Kind { get; }

    /// <summary>The number of state buffers per parameter (AdamW: exp_avg, exp_avg_sq, max_exp_avg_sq; SGD: momentum).</summary>
    public abstract int BuffersPerParameter { get; }

    /// <summary>One update of every parameter that has a gradient.</summary>
    public void Step()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        StepCore();
    }

    protected abstract void StepCore();

    /// <summary>Zeroes the gradients in place, as TorchSharp's <c>zero_grad()</c> does (a parameter without a gradient keeps none).</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters)
        {
            using var grad = p.grad;
            grad?.zero_();
        }
    }

    /// <summary>Parameter <paramref name="i"/>'s step count (0 where the optimizer keeps none).</summary>
    public abstract long StepsOf(int i);

    /// <summary>Parameter <paramref name="i"/>'s live state buffers (null where not allocated yet); length <see cref="BuffersPerParameter"/>.</summary>
    public abstract Tensor?[] BuffersOf(int i);

    /// <summary>Sets parameter <paramref name="i"/>'s step count and buffers (copied in; null drops or zeroes a buffer).</summary>
    public abstract void SetState(int i, long steps, Tensor?[] buffers);

    /// <summary>Forgets all state: the optimizer starts afresh on its current parameters.</summary>
    public abstract void Reset();

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);

    /// <summary>Copies <paramref name="source"/> into <paramref name="live"/>, or into a new tensor shaped like <paramref name="parameter"/>.</summary>
    protected static Tensor Adopt(Tensor? live, Tensor source, Tensor parameter)
    {
        using var _ = no_grad();
        if (live is null)
        {
            live = zeros_like(parameter).DetachFromDisposeScope();
        }
        live.copy_(source);
        return live;
    }
}
