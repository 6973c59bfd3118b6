using System.Globalization;
using Microsoft.ML.DiLoCo.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Model;

/// <summary>
/// A decoder-only transformer language model in the GPT-2 mould (after nanoGPT's model.py):
/// token embedding (+ learned positions, or rotary positions inside attention), pre-norm blocks,
/// a final layer norm and an output head, tied to the token embedding by default.
/// Forward maps tokens [B, T] (int64, T ≤ ContextLength) to logits [B, T, V].
/// </summary>
/// <remarks>
/// Parameter names are stable: they key the fragment plan and the model file. With C = EmbeddingSize,
/// V = vocabulary size, N = ContextLength, R = MlpRatio and i = 0 … NumberOfLayers − 1:
/// <list type="table">
/// <listheader><term>name</term><description>shape (and when it exists)</description></listheader>
/// <item><term>token_embedding.weight</term><description>[V, C]</description></item>
/// <item><term>position_embedding.weight</term><description>[N, C] (learned positions only)</description></item>
/// <item><term>blocks.{i}.attention_norm.weight / .bias</term><description>[C] / [C]</description></item>
/// <item><term>blocks.{i}.attention.qkv.weight / .bias</term><description>[3C, C] / [3C] (rows: queries, keys, values)</description></item>
/// <item><term>blocks.{i}.attention.output.weight / .bias</term><description>[C, C] / [C]</description></item>
/// <item><term>blocks.{i}.mlp_norm.weight / .bias</term><description>[C] / [C]</description></item>
/// <item><term>blocks.{i}.mlp.up.weight / .bias</term><description>[R·C, C] / [R·C]</description></item>
/// <item><term>blocks.{i}.mlp.down.weight / .bias</term><description>[C, R·C] / [C]</description></item>
/// <item><term>final_norm.weight / .bias</term><description>[C] / [C]</description></item>
/// <item><term>head.weight</term><description>[V, C] (untied embeddings only; the head has no bias)</description></item>
/// </list>
/// Every <c>.bias</c> is absent when <see cref="TransformerOptions.Bias"/> is false. Rotary cos/sin tables are
/// neither parameters nor buffers nor state-dict entries (see <see cref="RotaryEmbedding"/>).
/// </remarks>
internal sealed class TransformerLanguageModel : nn.Module<Tensor, Tensor>
{
    private const double InitStd = 0.02;

    [ComponentName(Name = "token_embedding")]
    private readonly Embedding _tokenEmbedding;
    [ComponentName(Name = "position_embedding")]
    private readonly Embedding? _positionEmbedding;
    [ComponentName(Name = "blocks")]
    private readonly ModuleList<TransformerBlock> _blocks;
    [ComponentName(Name = "final_norm")]
    private readonly LayerNorm _finalNorm;
    [ComponentName(Name = "head")]
    private readonly Linear? _head;
    private readonly RotaryEmbedding? _rotary;  // not a module: its tables are neither parameters nor state

    /// <summary>Builds the model and initialises its weights from torch's global generator (seed it with torch.manual_seed).</summary>
    public TransformerLanguageModel(TransformerOptions options, int vocabularySize) : base(nameof(TransformerLanguageModel))
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabularySize, 1);
        Options = options.Clone();
        VocabularySize = vocabularySize;

        int c = options.EmbeddingSize;
        _tokenEmbedding = nn.Embedding(vocabularySize, c);
        if (options.PositionEncoding == PositionEncoding.Learned)
            _positionEmbedding = nn.Embedding(options.ContextLength, c);
        else
            _rotary = new RotaryEmbedding(options.ContextLength, c / options.NumberOfHeads);
        _blocks = nn.ModuleList(Enumerable.Range(0, options.NumberOfLayers).Select(_ => new TransformerBlock(options)).ToArray());
        _finalNorm = nn.LayerNorm(c, bias: options.Bias);
        if (!options.TiedEmbeddings)
            _head = nn.Linear(c, vocabularySize, hasBias: false);
        RegisterComponents();  // under the [ComponentName] names, which are the documented parameter names

        InitializeWeights();
        ParameterCount = parameters().Sum(p => p.numel());
    }

    /// <summary>A copy of the options the model was built with.</summary>
    public TransformerOptions Options { get; }

    /// <summary>The number of token ids the model reads and predicts.</summary>
    public int VocabularySize { get; }

    /// <summary>The number of trainable scalars (a tied head counts once).</summary>
    public long ParameterCount { get; }

    /// <summary>The block a parameter belongs to ("blocks.3.mlp.up.weight" → 3), or null for parameters outside the blocks.</summary>
    public static int? BlockIndexOf(string parameterName)
    {
        ArgumentNullException.ThrowIfNull(parameterName);
        const string prefix = "blocks.";
        if (!parameterName.StartsWith(prefix, StringComparison.Ordinal))
            return null;
        int end = parameterName.IndexOf('.', prefix.Length);
        if (end < 0)
            return null;
        return int.TryParse(parameterName.AsSpan(prefix.Length, end - prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            ? index
            : null;
    }

    /// <summary>Logits [B, T, V] for tokens [B, T] (int64, 1 ≤ T ≤ ContextLength).</summary>
    public override Tensor forward(Tensor tokens)
    {
        CheckTokens(tokens);
        // Intermediates die here; autograd keeps what backward needs on its own.
        using var scope = NewDisposeScope();
        return Head(Body(Embed(tokens))).MoveToOuterDisposeScope();
    }

    private void CheckTokens(Tensor tokens)
    {
        if (tokens.dim() != 2 || tokens.dtype != ScalarType.Int64)
            throw new ArgumentException($"Tokens must be a 2-D int64 tensor [batch, time]; got {tokens.dtype} [{string.Join(", ", tokens.shape)}].", nameof(tokens));
        long time = tokens.shape[1];
        if (time < 1 || time > Options.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(tokens), time, $"The sequence length must be in [1, {Options.ContextLength}] (Model.ContextLength).");
    }

    /// <summary>The first piece of <see cref="forward"/>: token (+ learned position) embeddings [B, T, C] of tokens [B, T]
    /// (checked by the caller), with dropout. The speed benchmark times the three pieces one by one.</summary>
    internal Tensor Embed(Tensor tokens)
    {
        var x = _tokenEmbedding.forward(tokens);
        if (_positionEmbedding is not null)
            x = x.add(_positionEmbedding.weight!.narrow(0, 0, tokens.shape[1]), ConstantScalars.One);  // positions 0..T-1, broadcast over the batch
        if (Options.Dropout > 0 && training)
            x = nn.functional.dropout(x, Options.Dropout, training: true);
        return x;
    }

    /// <summary>The second piece of <see cref="forward"/>: the blocks and the final norm, [B, T, C] → [B, T, C].</summary>
    internal Tensor Body(Tensor x)
    {
        Tensor? cos = null, sin = null;
        if (_rotary is not null)
            (cos, sin) = _rotary.Tables(x.shape[1], x.device, x.dtype);
        foreach (var block in _blocks)
            x = block.forward(x, cos, sin);
        return _finalNorm.forward(x);
    }

    /// <summary>The last piece of <see cref="forward"/>: the output head (the tied embedding or its own matrix), [B, T, C] → logits [B, T, V].</summary>
    internal Tensor Head(Tensor x) => _head is null ? nn.functional.linear(x, _tokenEmbedding.weight!) : _head.forward(x);

    /// <summary>
    /// Logits [B, V] of the last of <paramref name="tokens"/> [B, t], which continue the <c>cache.Length</c> tokens
    /// already in <paramref name="cache"/> (positions cache.Length … +t−1); their keys and values are added to the
    /// cache. For inference (no dropout, call under no_grad): an empty cache takes a whole prompt, then one token a call.
    /// </summary>
    public Tensor ForwardCached(Tensor tokens, KeyValueCache cache)
    {
        if (tokens.dim() != 2 || tokens.dtype != ScalarType.Int64)
            throw new ArgumentException($"Tokens must be a 2-D int64 tensor [batch, time]; got {tokens.dtype} [{string.Join(", ", tokens.shape)}].", nameof(tokens));
        long time = tokens.shape[1];
        int start = cache.Length;
        if (time < 1 || start + time > Options.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(tokens), time, $"{start} cached plus {time} new tokens exceed the context length {Options.ContextLength}.");

        using var scope = NewDisposeScope();
        var x = _tokenEmbedding.forward(tokens);
        Tensor? cos = null, sin = null;
        if (_positionEmbedding is not null)
            x = x.add(_positionEmbedding.weight!.narrow(0, start, time), ConstantScalars.One);
        else
            (cos, sin) = _rotary!.Tables(start, time, x.device, x.dtype);
        for (int layer = 0; layer < _blocks.Count; layer++)
            x = _blocks[layer].ForwardCached(x, cos, sin, cache, layer);
        cache.Advance((int)time);
        x = _finalNorm.forward(x.narrow(1, time - 1, 1).squeeze(1));
        var logits = _head is null ? nn.functional.linear(x, _tokenEmbedding.weight!) : _head.forward(x);
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>Mean cross-entropy over every position of inputs [B, T] against targets [B, T] (the next tokens).</summary>
    public Tensor Loss(Tensor inputs, Tensor targets)
    {
        if (!inputs.shape.SequenceEqual(targets.shape))
            throw new ArgumentException($"Targets [{string.Join(", ", targets.shape)}] must have the shape of the inputs [{string.Join(", ", inputs.shape)}].", nameof(targets));
        using var scope = NewDisposeScope();
        var logits = forward(inputs);
        var loss = nn.functional.cross_entropy(logits.view(-1, VocabularySize), targets.reshape(-1));
        return loss.MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _rotary?.Dispose();
        base.Dispose(disposing);
    }

    // GPT-2: N(0, 0.02) for weights, zero biases, unit norms, and residual projections scaled by
    // 1/sqrt(2·layers) so the residual stream's variance does not grow with depth.
    private void InitializeWeights()
    {
        double residualStd = InitStd / Math.Sqrt(2.0 * Options.NumberOfLayers);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in named_parameters())
        {
            if (name.EndsWith(".bias", StringComparison.Ordinal))
                nn.init.zeros_(parameter);
            else if (name.EndsWith("norm.weight", StringComparison.Ordinal))
                nn.init.ones_(parameter);
            else if (name.EndsWith("attention.output.weight", StringComparison.Ordinal) || name.EndsWith("mlp.down.weight", StringComparison.Ordinal))
                nn.init.normal_(parameter, 0.0, residualStd);
            else
                nn.init.normal_(parameter, 0.0, InitStd);
        }
    }
}
