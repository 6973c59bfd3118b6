using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DiLoCo.Tests.Byom;

/// <summary>torchft's fixture as a user would write it: two scalar weights starting at 1.0; the loss 2·(a + b) has gradient 2 for each.</summary>
internal sealed class TwoScalars : nn.Module
{
    public TwoScalars() : base(nameof(TwoScalars))
    {
        a = new Parameter(ones(1), requires_grad: true);
        b = new Parameter(ones(1), requires_grad: true);
        RegisterComponents();
    }

#pragma warning disable IDE1006 // TorchSharp registers fields under their names
    private readonly Parameter a;
    private readonly Parameter b;
#pragma warning restore IDE1006

    public Tensor Loss() => (a.sum() + b.sum()) * 2;

    public float A => a.item<float>();

    public float B => b.item<float>();
}

/// <summary>A small regression MLP written the ordinary TorchSharp way (three top-level children).</summary>
internal sealed class SmallMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear input;
    private readonly Linear hidden;
    private readonly Linear output;

    public SmallMlp(int features = 8, int width = 32) : base(nameof(SmallMlp))
    {
        input = nn.Linear(features, width);
        hidden = nn.Linear(width, width);
        output = nn.Linear(width, 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => output.forward(nn.functional.tanh(hidden.forward(nn.functional.tanh(input.forward(x)))));
}

/// <summary>A tiny LSTM sequence model (embedding, LSTM, head), as in the example.</summary>
internal sealed class TinyLstm : nn.Module<Tensor, Tensor>
{
    private readonly Embedding embed;
    private readonly LSTM lstm;
    private readonly Linear head;

    public TinyLstm(int vocabulary = 8, int width = 16) : base(nameof(TinyLstm))
    {
        embed = nn.Embedding(vocabulary, width);
        lstm = nn.LSTM(width, width, batchFirst: true);
        head = nn.Linear(width, vocabulary);
        RegisterComponents();
    }

    public override Tensor forward(Tensor tokens)
    {
        var (output, _, _) = lstm.forward(embed.forward(tokens));
        return head.forward(output);
    }
}
