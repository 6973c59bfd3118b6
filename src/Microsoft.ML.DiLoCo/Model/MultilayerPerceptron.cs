using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Model;

/// <summary>The position-wise feed-forward network of a block: <c>up</c> (C → ratio·C), GELU, <c>down</c> (ratio·C → C).</summary>
internal sealed class MultilayerPerceptron : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "up")]
    private readonly Linear _up;
    [ComponentName(Name = "down")]
    private readonly Linear _down;

    public MultilayerPerceptron(TransformerOptions options) : base(nameof(MultilayerPerceptron))
    {
        long hidden = (long)options.MlpRatio * options.EmbeddingSize;
        _up = nn.Linear(options.EmbeddingSize, hidden, hasBias: options.Bias);
        _down = nn.Linear(hidden, options.EmbeddingSize, hasBias: options.Bias);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => _down.forward(nn.functional.gelu(_up.forward(x)));
}
