using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Model;

/// <summary>
/// Rotary position embedding (RoPE, Su et al. 2021) in the "rotate half" layout of GPT-NeoX and LLaMA:
/// channel i of the first half of a head pairs with channel i of the second half.
/// </summary>
internal static class RotaryEmbedding
{
    private const double Base = 10000.0;

    /// <summary>The cos and sin tables, each [contextLength, headSize], for positions 0..contextLength-1.</summary>
    public static (Tensor Cos, Tensor Sin) CreateTables(int contextLength, int headSize)
    {
        using var scope = NewDisposeScope();
        var inverseFrequency = 1.0 / pow(Base, arange(0, headSize, 2, dtype: ScalarType.Float64) / headSize);
        var angles = outer(arange(contextLength, dtype: ScalarType.Float64), inverseFrequency);  // [T, headSize/2]
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
        return x * cos + rotated * sin;
    }
}
