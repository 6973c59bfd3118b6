namespace DiLoCo.Configuration;

/// <summary>How a config sets text aside to score the model during training (the <c>validation</c> field).</summary>
public enum ValidationSplitKind
{
    /// <summary>No validation.</summary>
    None,
    /// <summary>A fraction of the documents, evenly spaced through the source (<see cref="ValidationSplitConfig.Fraction"/>).</summary>
    Fraction,
    /// <summary>Every N-th document, counting from 1 (<see cref="ValidationSplitConfig.Every"/>); the State of the Union's usual split is every 10th speech.</summary>
    EveryNth,
    /// <summary>A separate source (<see cref="ValidationSplitConfig.Data"/>); all of <c>data</c> trains.</summary>
    Source,
}

/// <summary>The validation split of a training config.</summary>
public sealed class ValidationSplitConfig
{
    /// <summary>The kind of split. Default <see cref="ValidationSplitKind.None"/>.</summary>
    public ValidationSplitKind Split { get; init; }

    /// <summary><see cref="ValidationSplitKind.Fraction"/>: the share of documents held out, in (0, 1).</summary>
    public double Fraction { get; init; }

    /// <summary><see cref="ValidationSplitKind.EveryNth"/>: N ≥ 2.</summary>
    public int Every { get; init; }

    /// <summary><see cref="ValidationSplitKind.Source"/>: the held-out text.</summary>
    public DataSourceConfig? Data { get; init; }

    /// <summary>
    /// Splits documents into training and validation: evenly spaced for a fraction (document i is held out when
    /// ⌊(i + 1)·f⌋ &gt; ⌊i·f⌋), the N-th, 2N-th, … for every-N-th. Deterministic; the order is kept.
    /// </summary>
    public (List<string> Train, List<string> Validation) Apply(IReadOnlyList<string> documents)
    {
        var train = new List<string>();
        var validation = new List<string>();
        for (int i = 0; i < documents.Count; i++)
        {
            bool heldOut = Split switch
            {
                ValidationSplitKind.Fraction => Math.Floor((i + 1) * Fraction) > Math.Floor(i * Fraction),
                ValidationSplitKind.EveryNth => (i + 1) % Every == 0,
                _ => false,
            };
            (heldOut ? validation : train).Add(documents[i]);
        }
        return (train, validation);
    }
}
