using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Model;

/// <summary>
/// Multi-head causal self-attention: one fused projection to queries, keys and values (<c>qkv</c>),
/// PyTorch's fused causal attention kernel, and an output projection (<c>output</c>).
/// Forward takes x [B, T, C] and, for rotary positions, cos and sin tables [T, headSize] (null otherwise).
/// </summary>
internal sealed class CausalSelfAttention : nn.Module<Tensor, Tensor?, Tensor?, Tensor>
{
    [ComponentName(Name = "qkv")]
    private readonly Linear _qkv;
    [ComponentName(Name = "output")]
    private readonly Linear _output;
    private readonly int _heads;
    private readonly double _dropout;

    public CausalSelfAttention(TransformerOptions options) : base(nameof(CausalSelfAttention))
    {
        _heads = options.NumberOfHeads;
        _dropout = options.Dropout;
        _qkv = nn.Linear(options.EmbeddingSize, 3L * options.EmbeddingSize, hasBias: options.Bias);
        _output = nn.Linear(options.EmbeddingSize, options.EmbeddingSize, hasBias: options.Bias);
        RegisterComponents();  // under the [ComponentName] names (the documented parameter names)
    }

    public override Tensor forward(Tensor x, Tensor? cos, Tensor? sin)
    {
        var (batch, time, channels) = (x.shape[0], x.shape[1], x.shape[2]);
        // [B, T, 3C] -> [3, B, heads, T, headSize]: a view; the attention kernel accepts strided inputs.
        var qkv = _qkv.forward(x).view(batch, time, 3, _heads, channels / _heads).permute(2, 0, 3, 1, 4);
        var (q, k, v) = (qkv[0], qkv[1], qkv[2]);
        if (cos is not null && sin is not null)
        {
            q = RotaryEmbedding.Apply(q, cos, sin);
            k = RotaryEmbedding.Apply(k, cos, sin);
        }
        var attended = nn.functional.scaled_dot_product_attention(q, k, v, p: training ? _dropout : 0.0, is_casual: true);
        var merged = attended.transpose(1, 2).reshape(batch, time, channels);
        return _output.forward(merged);
    }

    /// <summary>
    /// Inference with a key/value cache: x [B, t, C] holds the tokens at positions cache.Length … +t−1 (cos and sin
    /// are the tables for those positions). Either the cache is empty (a prompt, causal within itself) or t = 1
    /// (one new token that sees every cached position).
    /// </summary>
    public Tensor ForwardCached(Tensor x, Tensor? cos, Tensor? sin, KeyValueCache cache, int layer)
    {
        var (batch, time, channels) = (x.shape[0], x.shape[1], x.shape[2]);
        if (cache.Length > 0 && time != 1)
            throw new ArgumentException("After the prompt, a cached forward takes one token at a time.", nameof(x));
        var qkv = _qkv.forward(x).view(batch, time, 3, _heads, channels / _heads).permute(2, 0, 3, 1, 4);
        var (q, k, v) = (qkv[0], qkv[1], qkv[2]);
        if (cos is not null && sin is not null)
        {
            q = RotaryEmbedding.Apply(q, cos, sin);
            k = RotaryEmbedding.Apply(k, cos, sin);
        }
        var (keys, values) = cache.Append(layer, k, v);
        var attended = nn.functional.scaled_dot_product_attention(q, keys, values, is_casual: time > 1);
        var merged = attended.transpose(1, 2).reshape(batch, time, channels);
        return _output.forward(merged);
    }
}
