using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ByomCharLstm;

/// <summary>A character-level LSTM language model, written the ordinary TorchSharp way (nothing from Microsoft.ML.DiLoCo).</summary>
public sealed class CharLstm : nn.Module<Tensor, Tensor>
{
    private readonly Embedding embed;
    private readonly LSTM lstm;
    private readonly Linear head;

    public CharLstm(int vocabularySize, int embeddingSize = 64, int hiddenSize = 128) : base(nameof(CharLstm))
    {
        embed = nn.Embedding(vocabularySize, embeddingSize);
        lstm = nn.LSTM(embeddingSize, hiddenSize, batchFirst: true);
        head = nn.Linear(hiddenSize, vocabularySize);
        RegisterComponents();
    }

    /// <summary>Logits of the next character at every position: [batch, length, vocabulary].</summary>
    public override Tensor forward(Tensor characters)
    {
        var (output, _, _) = lstm.forward(embed.forward(characters));
        return head.forward(output);
    }

    /// <summary>Mean next-character cross-entropy (nats).</summary>
    public Tensor Loss(Tensor inputs, Tensor targets)
    {
        var logits = forward(inputs);
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1));
    }
}
