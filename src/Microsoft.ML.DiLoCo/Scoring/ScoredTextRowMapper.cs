using Microsoft.ML.Data;

namespace Microsoft.ML.DiLoCo.Scoring;

/// <summary>
/// The row-to-row form of <see cref="ScoredTextDataView"/>, which <c>PredictionEngine</c> uses: each row it
/// makes follows its input row and scores the text lazily, once per input position.
/// </summary>
/// <remarks>Each <see cref="GetRow"/> call asks the factory for its own scorer (disposed with the row when disposable).</remarks>
internal sealed class ScoredTextRowMapper : IRowToRowMapper
{
    private readonly DataViewSchema.Column _textColumn;
    private readonly Func<ITextScorer> _scorerFactory;

    /// <param name="inputSchema">Schema of the rows this mapper will be given.</param>
    /// <param name="textColumnName">A visible scalar text column of <paramref name="inputSchema"/>.</param>
    /// <param name="scorerFactory">Gives a scorer for the exclusive use of one row object.</param>
    public ScoredTextRowMapper(DataViewSchema inputSchema, string textColumnName, Func<ITextScorer> scorerFactory)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ArgumentNullException.ThrowIfNull(scorerFactory);
        ScoreColumns.CheckTextColumn(inputSchema, textColumnName);
        InputSchema = inputSchema;
        OutputSchema = ScoreColumns.AddTo(inputSchema);
        _textColumn = inputSchema[textColumnName];
        _scorerFactory = scorerFactory;
    }

    public DataViewSchema InputSchema { get; }

    /// <summary>The input columns (same indices) followed by the score columns.</summary>
    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns) =>
        ScoredRowColumns.InputColumnsFor(dependingColumns, InputSchema, _textColumn, out _);

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Schema != InputSchema)
            throw new ArgumentException("The row's schema is not the schema this mapper was made for.", nameof(input));
        ScoredRowColumns.InputColumnsFor(activeColumns, InputSchema, _textColumn, out var scoreActive);

        IRowScore? score = null;
        if (scoreActive.Any(a => a))
        {
            if (!input.IsColumnActive(_textColumn))
                throw new ArgumentException($"Text column '{_textColumn.Name}' is not active in the input row.", nameof(input));
            var text = input.GetGetter<ReadOnlyMemory<char>>(_textColumn);
            var scorer = _scorerFactory() ?? throw new InvalidOperationException("The scorer factory returned null.");
            score = new RowScore(input, text, scorer);
        }
        return new ScoredTextRow(input, new ScoredRowColumns(OutputSchema, input, scoreActive, score));
    }
}
