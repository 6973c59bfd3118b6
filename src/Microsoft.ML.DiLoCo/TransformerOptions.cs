namespace Microsoft.ML.DiLoCo;

/// <summary>
/// The shape of the decoder-only transformer (GPT-2 style, pre-norm blocks).
/// The defaults give a small model that trains on a CPU with the byte vocabulary.
/// </summary>
public sealed class TransformerOptions
{
    /// <summary>The longest token sequence the model sees at once (at least 2). Default 128.</summary>
    public int ContextLength { get; set; } = 128;

    /// <summary>The width of the residual stream, d_model (at least 1, a multiple of <see cref="NumberOfHeads"/>). Default 128.</summary>
    public int EmbeddingSize { get; set; } = 128;

    /// <summary>The number of transformer blocks (at least 1). Default 4.</summary>
    public int NumberOfLayers { get; set; } = 4;

    /// <summary>The number of attention heads per block (at least 1; must divide <see cref="EmbeddingSize"/>). Default 4.</summary>
    public int NumberOfHeads { get; set; } = 4;

    /// <summary>The hidden width of each MLP as a multiple of <see cref="EmbeddingSize"/> (at least 1). Default 4.</summary>
    public int MlpRatio { get; set; } = 4;

    /// <summary>The dropout probability on embeddings, attention weights and residual branches, in [0, 1). Default 0.</summary>
    public float Dropout { get; set; }

    /// <summary>Whether the output head shares its weight with the token embedding (GPT-2). Default true.</summary>
    public bool TiedEmbeddings { get; set; } = true;

    /// <summary>How token positions are encoded: a learned embedding or rotary embeddings on queries and keys. Default learned.</summary>
    public PositionEncoding PositionEncoding { get; set; } = PositionEncoding.Learned;

    /// <summary>Whether linear layers and layer norms have bias terms. Default true.</summary>
    public bool Bias { get; set; } = true;

    /// <summary>Returns a copy of these options.</summary>
    public TransformerOptions Clone() => (TransformerOptions)MemberwiseClone();

    /// <summary>Throws when an option is out of range; messages name the option as <c>{prefix}.{Name}</c>.</summary>
    internal void Validate(string prefix = "Model")
    {
        if (ContextLength < 2)
            throw new ArgumentOutOfRangeException($"{prefix}.{nameof(ContextLength)}", ContextLength, "must be at least 2.");
        if (EmbeddingSize < 1)
            throw new ArgumentOutOfRangeException($"{prefix}.{nameof(EmbeddingSize)}", EmbeddingSize, "must be at least 1.");
        if (NumberOfLayers < 1)
            throw new ArgumentOutOfRangeException($"{prefix}.{nameof(NumberOfLayers)}", NumberOfLayers, "must be at least 1.");
        if (NumberOfHeads < 1)
            throw new ArgumentOutOfRangeException($"{prefix}.{nameof(NumberOfHeads)}", NumberOfHeads, "must be at least 1.");
        if (EmbeddingSize % NumberOfHeads != 0)
            throw new ArgumentException(
                $"{prefix}.{nameof(NumberOfHeads)} ({NumberOfHeads}) must divide {prefix}.{nameof(EmbeddingSize)} ({EmbeddingSize}).",
                $"{prefix}.{nameof(NumberOfHeads)}");
        if (PositionEncoding == PositionEncoding.Rotary && (EmbeddingSize / NumberOfHeads) % 2 != 0)
            throw new ArgumentException(
                $"{prefix}.{nameof(PositionEncoding)} = Rotary needs an even head size; " +
                $"{prefix}.{nameof(EmbeddingSize)} / {prefix}.{nameof(NumberOfHeads)} = {EmbeddingSize / NumberOfHeads}.",
                $"{prefix}.{nameof(PositionEncoding)}");
        if (!Enum.IsDefined(PositionEncoding))
            throw new ArgumentOutOfRangeException($"{prefix}.{nameof(PositionEncoding)}", PositionEncoding, "is not a defined value.");
        if (!(Dropout >= 0f && Dropout < 1f))
            throw new ArgumentOutOfRangeException($"{prefix}.{nameof(Dropout)}", Dropout, "must be in [0, 1).");
        if (MlpRatio < 1)
            throw new ArgumentOutOfRangeException($"{prefix}.{nameof(MlpRatio)}", MlpRatio, "must be at least 1.");
    }
}
