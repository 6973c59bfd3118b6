namespace Microsoft.ML.DiLoCo.Scoring;

/// <summary>Scores the current row's text on first request, one text per scorer call.</summary>
internal sealed class RowScore : IRowScore
{
    private readonly DataViewRow _row;
    private readonly ValueGetter<ReadOnlyMemory<char>> _text;
    private readonly ITextScorer _scorer;
    private long _position = long.MinValue;
    private TextScore _score;
    private ReadOnlyMemory<char> _buffer;

    /// <param name="row">The row whose position keys the cache.</param>
    /// <param name="text">Getter of the text column on <paramref name="row"/>.</param>
    /// <param name="scorer">Used from this object's thread only; disposed with it when disposable.</param>
    public RowScore(DataViewRow row, ValueGetter<ReadOnlyMemory<char>> text, ITextScorer scorer)
    {
        _row = row;
        _text = text;
        _scorer = scorer;
    }

    public TextScore Current
    {
        get
        {
            long position = _row.Position;
            if (position != _position)
            {
                _text(ref _buffer);
                _score = _scorer.Score(_buffer);
                _position = position;
            }
            return _score;
        }
    }

    public void Dispose() => (_scorer as IDisposable)?.Dispose();
}
