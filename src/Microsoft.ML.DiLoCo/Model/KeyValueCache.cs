using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Model;

/// <summary>
/// Keys and values of every attention layer for the tokens read so far, so that generation feeds one new token
/// per step instead of the whole prefix. Buffers are allocated once for the full context ([batch, heads,
/// ContextLength, headSize] per layer) on the model's device and type; <see cref="Length"/> says how much is filled.
/// </summary>
internal sealed class KeyValueCache : IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;

    public KeyValueCache(TransformerLanguageModel model, long batch = 1)
    {
        var o = model.Options;
        var reference = model.parameters().First();
        long[] shape = [batch, o.NumberOfHeads, o.ContextLength, o.EmbeddingSize / o.NumberOfHeads];
        _keys = Enumerable.Range(0, o.NumberOfLayers).Select(_ => zeros(shape, reference.dtype, reference.device).DetachFromDisposeScope()).ToArray();
        _values = Enumerable.Range(0, o.NumberOfLayers).Select(_ => zeros(shape, reference.dtype, reference.device).DetachFromDisposeScope()).ToArray();
        Capacity = o.ContextLength;
    }

    /// <summary>How many positions are cached (the position of the next token).</summary>
    public int Length { get; private set; }

    /// <summary>The most positions the cache holds: the model's context length.</summary>
    public int Capacity { get; }

    /// <summary>Stores keys and values [batch, heads, t, headSize] of layer <paramref name="layer"/> at positions
    /// Length … Length + t − 1 and returns all cached keys and values up to them (views).</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        long t = keys.shape[2];
        if (Length + t > Capacity)
            throw new InvalidOperationException($"The key/value cache holds {Capacity} positions; {Length} are used and {t} more do not fit.");
        _keys[layer].narrow(2, Length, t).copy_(keys);
        _values[layer].narrow(2, Length, t).copy_(values);
        return (_keys[layer].narrow(2, 0, Length + t), _values[layer].narrow(2, 0, Length + t));
    }

    /// <summary>Marks <paramref name="count"/> more positions as filled (after every layer appended them).</summary>
    public void Advance(int count) => Length += count;

    /// <summary>Forgets every cached position.</summary>
    public void Clear() => Length = 0;

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values))
            t.Dispose();
    }
}
