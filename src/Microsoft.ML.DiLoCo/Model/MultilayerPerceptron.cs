using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Model;

/// <summary>The position-wise feed-forward network of a block: <c>up</c> (C → ratio·C), GELU, <c>down</c> (ratio·C → C).</summary>
internal sealed class MultilayerPerceptron : nn.Module<Tensor, Tensor>
{
    private readonly Linear _up;
    private readonly Linear _down;

    public MultilayerPerceptron(TransformerOptions options) : base(nameof(MultilayerPerceptron))
    {
        long hidden = (long)options.MlpRatio * options.EmbeddingSize;
        _up = nn.Linear(options.EmbeddingSize, hidden, hasBias: options.Bias);
        _down = nn.Linear(hidden, options.EmbeddingSize, hasBias: options.Bias);
        register_module("up", _up);
        register_module("down", _down);
    }

    public override Tensor forward(Tensor x) => _down.forward(nn.functional.gelu(_up.forward(x)));
}
