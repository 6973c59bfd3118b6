namespace Microsoft.ML.DiLoCo.Scoring;

/// <summary>
/// Scores one text with a language model. An instance is used by one thread at a time:
/// the ML.NET edge (<see cref="ScoredTextDataView"/>, <see cref="ScoredTextRowMapper"/>) asks a
/// <c>Func&lt;ITextScorer&gt;</c> factory for a fresh scorer per cursor or per row object, and disposes it
/// with that cursor/row when it implements <see cref="IDisposable"/>. A factory may hand out light wrappers
/// around one shared model, as long as each wrapper keeps its own mutable state (buffers, caches).
/// </summary>
internal interface ITextScorer
{
    /// <summary>Scores <paramref name="text"/>; empty text gives <see cref="TextScore.Empty"/>.</summary>
    TextScore Score(ReadOnlyMemory<char> text);
}
