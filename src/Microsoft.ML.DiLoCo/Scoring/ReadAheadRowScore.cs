namespace Microsoft.ML.DiLoCo.Scoring;

/// <summary>
/// Scores the current row's text in batches: when a row's score is first needed, a second cursor over the
/// same input (the read-ahead cursor) supplies that row's text and up to <c>batchSize − 1</c> following
/// texts, and a batch scorer scores them in one call. Every result is used only if the batched text equals
/// the row's own text; on the first mismatch (an input whose cursors do not repeat the same rows) it falls
/// back to scoring row by row, so the output is right either way.
/// </summary>
internal sealed class ReadAheadRowScore : IRowScore
{
    private readonly DataViewRow _row;
    private readonly ValueGetter<ReadOnlyMemory<char>> _rowText;
    private readonly ITextBatchScorer _scorer;
    private readonly DataViewRowCursor _ahead;
    private readonly ValueGetter<ReadOnlyMemory<char>> _aheadText;
    private readonly ReadOnlyMemory<char>[] _batch;
    private readonly TextScore[] _batchScores;
    private long _batchStart = long.MinValue;
    private int _batchCount;
    private bool _inStep = true;

    private long _position = long.MinValue;
    private TextScore _score;
    private ReadOnlyMemory<char> _buffer;

    /// <param name="row">The row whose position keys the cache (the main cursor).</param>
    /// <param name="rowText">Getter of the text column on <paramref name="row"/>.</param>
    /// <param name="scorer">Used from this object's thread only; disposed with it when disposable.</param>
    /// <param name="ahead">A fresh, unshuffled cursor over the same input with the text column active; owned.</param>
    /// <param name="aheadText">Getter of the text column on <paramref name="ahead"/>.</param>
    /// <param name="batchSize">Most texts per scorer call (at least 1).</param>
    public ReadAheadRowScore(DataViewRow row, ValueGetter<ReadOnlyMemory<char>> rowText, ITextBatchScorer scorer,
        DataViewRowCursor ahead, ValueGetter<ReadOnlyMemory<char>> aheadText, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _row = row;
        _rowText = rowText;
        _scorer = scorer;
        _ahead = ahead;
        _aheadText = aheadText;
        _batch = new ReadOnlyMemory<char>[batchSize];
        _batchScores = new TextScore[batchSize];
    }

    public TextScore Current
    {
        get
        {
            long position = _row.Position;
            if (position != _position)
            {
                _rowText(ref _buffer);
                _score = TryFromBatch(position, _buffer.Span, out var batched) ? batched : _scorer.Score(_buffer);
                _position = position;
            }
            return _score;
        }
    }

    private bool TryFromBatch(long position, ReadOnlySpan<char> text, out TextScore score)
    {
        score = default;
        if (!_inStep)
            return false;
        if ((position < _batchStart || position >= _batchStart + _batchCount) && !FillFrom(position))
            return _inStep = false;
        int i = (int)(position - _batchStart);
        if (!text.SequenceEqual(_batch[i].Span))
            return _inStep = false;
        score = _batchScores[i];
        return true;
    }

    // Moves the read-ahead cursor to `position` and scores the texts from there on; false when the
    // read-ahead cursor has no such row.
    private bool FillFrom(long position)
    {
        while (_ahead.Position < position)
        {
            if (!_ahead.MoveNext())
                return false;
        }
        if (_ahead.Position != position)
            return false;

        int count = 0;
        do
        {
            ReadOnlyMemory<char> text = default;
            _aheadText(ref text);
            // A copy: the read-ahead cursor may reuse the memory behind a text once it moves on.
            _batch[count++] = text.ToString().AsMemory();
        }
        while (count < _batch.Length && _ahead.MoveNext());

        _scorer.Score(_batch.AsSpan(0, count), _batchScores.AsSpan(0, count));
        _batchStart = position;
        _batchCount = count;
        return true;
    }

    public void Dispose()
    {
        _ahead.Dispose();
        (_scorer as IDisposable)?.Dispose();
    }
}
