namespace Microsoft.ML.DiLoCo.Model;

/// <summary>
/// The names and shapes that <see cref="TransformerLanguageModel"/> gives its parameters, computed from the options
/// alone (docs/parameter-names.md), in <c>named_parameters()</c> order. Readers of model files compare a file
/// against it before they allocate anything.
/// </summary>
internal static class ParameterLayout
{
    /// <summary>Every parameter's name and shape; throws <see cref="OverflowException"/> for absurd sizes.</summary>
    public static IReadOnlyList<(string Name, long[] Shape)> Of(TransformerOptions options, int vocabularySize)
    {
        long c = options.EmbeddingSize, v = vocabularySize, n = options.ContextLength, hidden = checked(options.MlpRatio * c);
        bool bias = options.Bias;
        var list = new List<(string, long[])> { ("token_embedding.weight", [v, c]) };
        if (options.PositionEncoding == PositionEncoding.Learned)
            list.Add(("position_embedding.weight", [n, c]));
        for (int i = 0; i < options.NumberOfLayers; i++)
        {
            string p = $"blocks.{i}.";
            Add(list, p + "attention_norm", [c], bias, c);
            Add(list, p + "attention.qkv", [checked(3 * c), c], bias, checked(3 * c));
            Add(list, p + "attention.output", [c, c], bias, c);
            Add(list, p + "mlp_norm", [c], bias, c);
            Add(list, p + "mlp.up", [hidden, c], bias, hidden);
            Add(list, p + "mlp.down", [c, hidden], bias, c);
        }
        Add(list, "final_norm", [c], bias, c);
        if (!options.TiedEmbeddings)
            list.Add(("head.weight", [v, c]));
        return list;
    }

    /// <summary>The number of scalars in all parameters, checked for overflow.</summary>
    public static long ElementCount(IEnumerable<(string Name, long[] Shape)> layout) =>
        layout.Aggregate(0L, (sum, p) => checked(sum + Elements(p.Shape)));

    public static long Elements(long[] shape) => shape.Aggregate(1L, (product, d) => checked(product * d));

    private static void Add(List<(string, long[])> list, string module, long[] weightShape, bool bias, long biasSize)
    {
        list.Add((module + ".weight", weightShape));
        if (bias)
            list.Add((module + ".bias", [biasSize]));
    }
}
