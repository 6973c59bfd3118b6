namespace Microsoft.ML.DiLoCo.Scoring;

/// <summary>
/// A scorer that scores several texts in one call (one forward pass over a padded batch is much
/// faster than one per text). When a factory's scorer implements it, <see cref="ScoredTextDataView"/>
/// reads up to its batch size of texts ahead and scores them together.
/// </summary>
internal interface ITextBatchScorer : ITextScorer
{
    /// <summary>
    /// Scores <paramref name="texts"/>[i] into <paramref name="results"/>[i]; both spans have the same length.
    /// Each result must match what <see cref="ITextScorer.Score"/> gives for that text alone (up to float rounding).
    /// </summary>
    void Score(ReadOnlySpan<ReadOnlyMemory<char>> texts, Span<TextScore> results);
}
