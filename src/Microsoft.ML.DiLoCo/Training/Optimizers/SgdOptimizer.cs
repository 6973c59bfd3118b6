using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Training.Optimizers;

/// <summary>
/// SGD, with optional Nesterov momentum, exactly as torch.optim.SGD(momentum=μ, nesterov=True) / TorchSharp's <c>optim.SGD</c>
/// compute it, op for op: v ← g on the first step, then v ← μ·v + g; θ ← θ − lr·(g + μ·v) (Nesterov) or θ ← θ − lr·v.
/// No dampening and no weight decay (the outer optimizer needs neither). See <see cref="TensorOptimizer"/> for why it is ours.
/// </summary>
internal sealed class SgdOptimizer : TensorOptimizer
{
    private readonly double _momentum;
    private readonly bool _nesterov;
    private readonly Tensor?[] _momentumBuffer;
    private readonly Scalar _momentumScalar, _one;

    public SgdOptimizer(IReadOnlyList<Parameter> parameters, double learningRate, double momentum = 0, bool nesterov = false)
        : base(parameters, learningRate)
    {
        if (!(momentum >= 0)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Momentum must be ≥ 0.");
        if (nesterov && momentum == 0) throw new ArgumentException("Nesterov momentum needs a momentum > 0.", nameof(nesterov));
        (_momentum, _nesterov) = (momentum, nesterov);
        _momentumBuffer = new Tensor?[parameters.Count];
        _momentumScalar = momentum.ToScalar();
        _one = 1.0.ToScalar();
    }

    /// <summary>The checkpoint name of SGD state (as TorchSharp's SGD wrote it before).</summary>
    public const string KindName = "SGD";

    public override string Kind => KindName;

    public override int BuffersPerParameter => 1;

    protected override void StepCore()
    {
        using var negativeLearningRate = (-LearningRate).ToScalar();
        for (int i = 0; i < Parameters.Count; i++)
        {
            var param = Parameters[i];
            var grad = param.grad;
            if (grad is null) continue;
            var update = grad;
            if (_momentum != 0)
            {
                var buffer = _momentumBuffer[i];
                if (buffer is null) _momentumBuffer[i] = buffer = grad.clone().detach().DetachFromDisposeScope();
                else buffer.mul_(_momentumScalar).add_(grad, _one);
                update = _nesterov ? grad.add(buffer, _momentumScalar) : buffer;
            }
            param.add_(update, negativeLearningRate);
        }
    }

    public override long StepsOf(int i) => 0;

    public override Tensor?[] BuffersOf(int i) => new[] { _momentumBuffer[i] };

    public override void SetState(int i, long steps, Tensor?[] buffers)
    {
        if (buffers.Length != BuffersPerParameter) throw new ArgumentException($"SGD keeps {BuffersPerParameter} buffer per parameter, not {buffers.Length}.", nameof(buffers));
        // A missing momentum buffer means "no step taken yet": the next step starts it from the gradient (torch's rule).
        if (buffers[0] is null) { _momentumBuffer[i]?.Dispose(); _momentumBuffer[i] = null; }
        else _momentumBuffer[i] = Adopt(_momentumBuffer[i], buffers[0]!, Parameters[i]);
    }

    public override void Reset()
    {
        for (int i = 0; i < _momentumBuffer.Length; i++) { _momentumBuffer[i]?.Dispose(); _momentumBuffer[i] = null; }
    }

    protected override void Dispose(bool disposing)
    {
        if (!disposing) return;
        foreach (var t in _momentumBuffer) t?.Dispose();
        _momentumScalar.Dispose();
        _one.Dispose();
    }
}
