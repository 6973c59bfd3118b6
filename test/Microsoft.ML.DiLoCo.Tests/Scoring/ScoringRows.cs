namespace Microsoft.ML.DiLoCo.Tests.Scoring;

/// <summary>Input rows: an id to pass through and the text to score.</summary>
public sealed class TextRow
{
    public int Id { get; set; }
    public string Text { get; set; } = "";
}

/// <summary>Input rows with a column already called Loss (which the scores must hide).</summary>
public sealed class TextRowWithLoss
{
    public string Text { get; set; } = "";
    public double Loss { get; set; }
}

/// <summary>Output rows: the input columns and the three score columns.</summary>
public sealed class ScoredRow
{
    public int Id { get; set; }
    public string Text { get; set; } = "";
    public float Loss { get; set; }
    public float Perplexity { get; set; }
    public int TokenCount { get; set; }
}
