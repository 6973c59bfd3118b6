namespace Microsoft.ML.DiLoCo.Scoring;

/// <summary>
/// The score of the text in a row's current position, computed at most once per position and only
/// when a score column is read. Owns the scorer it was given.
/// </summary>
internal interface IRowScore : IDisposable
{
    /// <summary>The score of the current row's text.</summary>
    TextScore Current { get; }
}
