using Microsoft.ML.DiLoCo.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Training.Optimizers;

/// <summary>
/// AdamW (Loshchilov and Hutter) exactly as torch.optim.AdamW / TorchSharp's <c>optim.AdamW</c> compute it, op for op:
/// θ ← θ·(1 − lr·λ); m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²; θ ← θ − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε).
/// λ is per parameter (decay on matrices only, as nanoGPT). See <see cref="TensorOptimizer"/> for why it is ours.
/// </summary>
internal sealed class AdamWOptimizer : TensorOptimizer
{
    private readonly double _beta1, _beta2, _eps;
    private readonly double[] _weightDecay;
    private readonly long[] _steps;
    private readonly Tensor?[] _expAvg, _expAvgSq, _denominator;
    // Constant factors: created once, alive as long as the optimizer (never a temporary Scalar).
    private readonly Scalar _beta1Scalar, _oneMinusBeta1, _beta2Scalar, _oneMinusBeta2, _epsScalar;

    /// <param name="weightDecay">λ for parameter i (decoupled); the same length as <paramref name="parameters"/>.</param>
    public AdamWOptimizer(IReadOnlyList<Parameter> parameters, double learningRate, double beta1, double beta2, double eps, IReadOnlyList<double> weightDecay)
        : base(parameters, learningRate)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "β1 must be in [0, 1).");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "β2 must be in [0, 1).");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "ε must be ≥ 0.");
        if (weightDecay.Count != parameters.Count) throw new ArgumentException($"{weightDecay.Count} weight decays for {parameters.Count} parameters.", nameof(weightDecay));
        if (weightDecay.Any(d => !(d >= 0))) throw new ArgumentOutOfRangeException(nameof(weightDecay), "Weight decay must be ≥ 0.");
        (_beta1, _beta2, _eps) = (beta1, beta2, eps);
        _weightDecay = weightDecay.ToArray();
        int n = parameters.Count;
        _steps = new long[n];
        _expAvg = new Tensor?[n];
        _expAvgSq = new Tensor?[n];
        _denominator = new Tensor?[n];
        _beta1Scalar = beta1.ToScalar();
        _oneMinusBeta1 = (1 - beta1).ToScalar();
        _beta2Scalar = beta2.ToScalar();
        _oneMinusBeta2 = (1 - beta2).ToScalar();
        _epsScalar = eps.ToScalar();
    }

    /// <summary>The same λ for every parameter.</summary>
    public AdamWOptimizer(IReadOnlyList<Parameter> parameters, double learningRate, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : this(parameters, learningRate, beta1, beta2, eps, Enumerable.Repeat(weightDecay, parameters.Count).ToArray())
    {
    }

    /// <summary>The checkpoint name of AdamW state (as TorchSharp's AdamW wrote it before).</summary>
    public const string KindName = "AdamW";

    public override string Kind => KindName;

    public override int BuffersPerParameter => 3;

    protected override void StepCore()
    {
        double lr = LearningRate;
        for (int i = 0; i < Parameters.Count; i++)
        {
            var param = Parameters[i];
            var grad = param.grad;
            if (grad is null) continue;
            long step = ++_steps[i];
            var expAvg = _expAvg[i] ??= zeros_like(param).DetachFromDisposeScope();
            var expAvgSq = _expAvgSq[i] ??= zeros_like(param).DetachFromDisposeScope();
            var denominator = _denominator[i] ??= zeros_like(param).DetachFromDisposeScope();

            double biasCorrection1 = 1 - Math.Pow(_beta1, step);
            double biasCorrection2 = 1 - Math.Pow(_beta2, step);
            using var decay = (1 - lr * _weightDecay[i]).ToScalar();
            using var sqrtBiasCorrection2 = Math.Sqrt(biasCorrection2).ToScalar();
            using var negativeStepSize = (-(lr / biasCorrection1)).ToScalar();

            param.mul_(decay);
            expAvg.mul_(_beta1Scalar).add_(grad, _oneMinusBeta1);
            expAvgSq.mul_(_beta2Scalar).addcmul_(grad, grad, _oneMinusBeta2);
            // denom = √v / √(1 − β2^t) + ε, into a buffer kept between steps (no allocation per step).
            denominator.copy_(expAvgSq).sqrt_().div_(sqrtBiasCorrection2).add_(_epsScalar, ConstantScalars.One);
            param.addcdiv_(expAvg, denominator, negativeStepSize);
        }
    }

    public override long StepsOf(int i) => _steps[i];

    public override Tensor?[] BuffersOf(int i) => new[] { _expAvg[i], _expAvgSq[i], null };

    public override void SetState(int i, long steps, Tensor?[] buffers)
    {
        if (buffers.Length != BuffersPerParameter) throw new ArgumentException($"AdamW keeps {BuffersPerParameter} buffers per parameter, not {buffers.Length}.", nameof(buffers));
        if (buffers[2] is not null) throw new InvalidDataException("The state holds AMSGrad's max_exp_avg_sq, which this AdamW does not use.");
        _steps[i] = steps;
        _expAvg[i] = Place(_expAvg[i], buffers[0], Parameters[i]);
        _expAvgSq[i] = Place(_expAvgSq[i], buffers[1], Parameters[i]);
    }

    // A saved buffer is copied in; a missing one means "not allocated yet", which is the same as zeros for AdamW.
    private static Tensor? Place(Tensor? live, Tensor? saved, Tensor parameter)
    {
        if (saved is not null) return Adopt(live, saved, parameter);
        using (no_grad()) live?.zero_();
        return live;
    }

    public override void Reset()
    {
        using var _ = no_grad();
        Array.Clear(_steps);
        foreach (var t in _expAvg) t?.zero_();
        foreach (var t in _expAvgSq) t?.zero_();
    }

    protected override void Dispose(bool disposing)
    {
        if (!disposing) return;
        foreach (var t in _expAvg.Concat(_expAvgSq).Concat(_denominator)) t?.Dispose();
        foreach (var s in new[] { _beta1Scalar, _oneMinusBeta1, _beta2Scalar, _oneMinusBeta2, _epsScalar }) s.Dispose();
    }
}
