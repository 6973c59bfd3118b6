using Microsoft.ML.DiLoCo.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Model;

/// <summary>
/// One pre-norm transformer block: x + attention(attention_norm(x)), then x + mlp(mlp_norm(x)).
/// Forward takes x [B, T, C] and the rotary cos/sin tables [T, headSize] (null for learned positions).
/// </summary>
internal sealed class TransformerBlock : nn.Module<Tensor, Tensor?, Tensor?, Tensor>
{
    [ComponentName(Name = "attention_norm")]
    private readonly LayerNorm _attentionNorm;
    [ComponentName(Name = "attention")]
    private readonly CausalSelfAttention _attention;
    [ComponentName(Name = "mlp_norm")]
    private readonly LayerNorm _mlpNorm;
    [ComponentName(Name = "mlp")]
    private readonly MultilayerPerceptron _mlp;
    private readonly double _dropout;

    public TransformerBlock(TransformerOptions options) : base(nameof(TransformerBlock))
    {
        _dropout = options.Dropout;
        _attentionNorm = nn.LayerNorm(options.EmbeddingSize, bias: options.Bias);
        _attention = new CausalSelfAttention(options);
        _mlpNorm = nn.LayerNorm(options.EmbeddingSize, bias: options.Bias);
        _mlp = new MultilayerPerceptron(options);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor? cos, Tensor? sin)
    {
        x = x.add(ResidualDropout(_attention.forward(_attentionNorm.forward(x), cos, sin)), ConstantScalars.One);
        return x.add(ResidualDropout(_mlp.forward(_mlpNorm.forward(x))), ConstantScalars.One);
    }

    /// <summary>Inference with a key/value cache (see <see cref="CausalSelfAttention.ForwardCached"/>).</summary>
    public Tensor ForwardCached(Tensor x, Tensor? cos, Tensor? sin, KeyValueCache cache, int layer)
    {
        x = x.add(_attention.ForwardCached(_attentionNorm.forward(x), cos, sin, cache, layer), ConstantScalars.One);
        return x.add(_mlp.forward(_mlpNorm.forward(x)), ConstantScalars.One);
    }

    private Tensor ResidualDropout(Tensor x) =>
        _dropout > 0 && training ? nn.functional.dropout(x, _dropout, training: true) : x;
}
