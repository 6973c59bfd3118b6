using Microsoft.ML.DiLoCo.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Model;

/// <summary>
/// Rotary position embedding (RoPE, Su et al. 2021) in the "rotate half" layout of GPT-NeoX and LLaMA:
/// channel i of the first half of a head pairs with channel i of the second half.
/// </summary>
/// <remarks>
/// The cos/sin tables are precomputed once and deliberately kept out of the module's buffers: TorchSharp 0.107's
/// <c>Module.to</c> does not move non-persistent buffers, and persistent ones would land in the state dict.
/// Instead the tables follow the activations: the first call on another device or type moves them there.
/// </remarks>
internal sealed class RotaryEmbedding : IDisposable
{
    private const double Base = 10000.0;
    private Tensor _cos;  // [contextLength, headSize]
    private Tensor _sin;

    public RotaryEmbedding(int contextLength, int headSize)
    {
        (_cos, _sin) = CreateTables(contextLength, headSize);
        _cos.DetachFromDisposeScope();
        _sin.DetachFromDisposeScope();
    }

    /// <summary>Rows 0..time-1 of the tables, on the given device and type.</summary>
    public (Tensor Cos, Tensor Sin) Tables(long time, Device device, ScalarType dtype) => Tables(0, time, device, dtype);

    /// <summary>Rows start..start+time-1 of the tables (the positions of tokens after a cached prefix).</summary>
    public (Tensor Cos, Tensor Sin) Tables(long start, long time, Device device, ScalarType dtype)
    {
        if (_cos.device_type != device.type || _cos.device_index != device.index || _cos.dtype != dtype)
        {
            var (cos, sin) = (_cos.to(dtype, device).DetachFromDisposeScope(), _sin.to(dtype, device).DetachFromDisposeScope());
            _cos.Dispose();
            _sin.Dispose();
            (_cos, _sin) = (cos, sin);
        }
        return (_cos.narrow(0, start, time), _sin.narrow(0, start, time));
    }

    /// <summary>The cos and sin tables, each [contextLength, headSize], for positions 0..contextLength-1.</summary>
    public static (Tensor Cos, Tensor Sin) CreateTables(int contextLength, int headSize)
    {
        using var scope = NewDisposeScope();
        // Explicit Scalars kept alive by using (ConstantScalars says why); the ops are those of 1 / Base^(arange(0, d, 2) / d).
        using Scalar zero = 0.ToScalar(), two = 2.ToScalar(), size = headSize.ToScalar(), positions = contextLength.ToScalar(), one = 1.0.ToScalar();
        var inverseFrequency = pow(Base, arange(zero, size, two, dtype: ScalarType.Float64).div(size)).reciprocal().mul(one); // Base: a 0-d tensor
        var angles = outer(arange(zero, positions, ConstantScalars.One, dtype: ScalarType.Float64), inverseFrequency);  // [T, headSize/2]
        var doubled = cat([angles, angles], dim: -1);                                             // [T, headSize]
        var cosTable = doubled.cos().to(ScalarType.Float32);
        var sinTable = doubled.sin().to(ScalarType.Float32);
        return (cosTable.MoveToOuterDisposeScope(), sinTable.MoveToOuterDisposeScope());
    }

    /// <summary>Rotates queries or keys [B, heads, T, headSize] by their positions; cos and sin are [T, headSize].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        var halves = x.chunk(2, dim: -1);
        var rotated = cat([-halves[1], halves[0]], dim: -1);
        return (x * cos).add(rotated * sin, ConstantScalars.One);
    }

    public void Dispose()
    {
        _cos.Dispose();
        _sin.Dispose();
    }
}
