namespace Microsoft.ML.DiLoCo.Scoring;

/// <summary>
/// An input <see cref="IDataView"/> plus the score columns of <see cref="ScoreColumns"/>, computed from one
/// text column by an <see cref="ITextScorer"/>. Lazy: a row's text is scored only when one of its score
/// columns is read, and at most once per row.
/// </summary>
/// <remarks>
/// Threading: each cursor asks the factory for its own scorer (and disposes it with the cursor when the
/// scorer is disposable), so cursors may run on different threads. When the scorer is an
/// <see cref="ITextBatchScorer"/> and the cursor is not shuffled, the cursor opens a second input cursor and
/// scores up to <see cref="BatchSize"/> texts per call (see <see cref="ReadAheadRowScore"/>).
/// </remarks>
internal sealed class ScoredTextDataView : IDataView
{
    /// <summary>Texts per batch-scorer call unless told otherwise.</summary>
    public const int DefaultBatchSize = 32;

    private readonly IDataView _input;
    private readonly DataViewSchema.Column _textColumn;
    private readonly Func<ITextScorer> _scorerFactory;

    /// <param name="input">The data to score.</param>
    /// <param name="textColumnName">A visible scalar text column of <paramref name="input"/>.</param>
    /// <param name="scorerFactory">Gives a scorer for the exclusive use of one cursor; called once per cursor that reads a score column.</param>
    /// <param name="batchSize">Most texts per call to a batch scorer (1 turns read-ahead off).</param>
    public ScoredTextDataView(IDataView input, string textColumnName, Func<ITextScorer> scorerFactory, int batchSize = DefaultBatchSize)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(scorerFactory);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ScoreColumns.CheckTextColumn(input.Schema, textColumnName);
        _input = input;
        _textColumn = input.Schema[textColumnName];
        _scorerFactory = scorerFactory;
        BatchSize = batchSize;
        Schema = ScoreColumns.AddTo(input.Schema);
    }

    /// <summary>Most texts per call to a batch scorer.</summary>
    public int BatchSize { get; }

    public DataViewSchema Schema { get; }

    public bool CanShuffle => _input.CanShuffle;

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var inputColumns = ScoredRowColumns.InputColumnsFor(columnsNeeded, _input.Schema, _textColumn, out var scoreActive);
        var cursor = _input.GetRowCursor(inputColumns, rand);
        try
        {
            var score = scoreActive.Any(a => a) ? CreateScore(cursor, shuffled: rand is not null) : null;
            return new ScoredTextCursor(cursor, new ScoredRowColumns(Schema, cursor, scoreActive, score));
        }
        catch
        {
            cursor.Dispose();
            throw;
        }
    }

    /// <summary>One cursor: scoring state is per cursor, and ML.NET accepts fewer cursors than asked for.</summary>
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private IRowScore CreateScore(DataViewRowCursor cursor, bool shuffled)
    {
        var scorer = _scorerFactory() ?? throw new InvalidOperationException("The scorer factory returned null.");
        var text = cursor.GetGetter<ReadOnlyMemory<char>>(_textColumn);
        // A shuffled cursor's order cannot be replayed by a second cursor, so it scores row by row.
        if (scorer is ITextBatchScorer batchScorer && BatchSize > 1 && !shuffled)
        {
            var ahead = _input.GetRowCursor([_textColumn]);
            return new ReadAheadRowScore(cursor, text, batchScorer, ahead, ahead.GetGetter<ReadOnlyMemory<char>>(_textColumn), BatchSize);
        }
        return new RowScore(cursor, text, scorer);
    }
}
