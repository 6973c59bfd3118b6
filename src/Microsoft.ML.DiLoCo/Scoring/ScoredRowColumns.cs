namespace Microsoft.ML.DiLoCo.Scoring;

/// <summary>
/// Column access for a row of <see cref="ScoreColumns.AddTo(DataViewSchema)"/>'s schema: input columns
/// (same indices) come from the input row, the score columns from a lazily computed <see cref="IRowScore"/>.
/// Shared by <see cref="ScoredTextCursor"/> and <see cref="ScoredTextRow"/>.
/// </summary>
internal sealed class ScoredRowColumns : IDisposable
{
    private readonly DataViewRow _input;
    private readonly bool[] _scoreActive;
    private readonly IRowScore? _score;

    /// <param name="schema">The output schema: the input's columns then the score columns.</param>
    /// <param name="input">The row the input columns come from.</param>
    /// <param name="scoreActive">Which score columns are active, in <see cref="ScoreColumns.Names"/> order.</param>
    /// <param name="score">The lazy score; null only when no score column is active. Owned.</param>
    public ScoredRowColumns(DataViewSchema schema, DataViewRow input, bool[] scoreActive, IRowScore? score)
    {
        Schema = schema;
        _input = input;
        _scoreActive = scoreActive;
        _score = score;
    }

    public DataViewSchema Schema { get; }

    private int InputCount => _input.Schema.Count;

    public bool IsColumnActive(DataViewSchema.Column column)
    {
        Check(column);
        return column.Index < InputCount
            ? _input.IsColumnActive(_input.Schema[column.Index])
            : _scoreActive[column.Index - InputCount];
    }

    public ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        Check(column);
        if (column.Index < InputCount)
            return _input.GetGetter<TValue>(_input.Schema[column.Index]);

        int scoreIndex = column.Index - InputCount;
        if (!_scoreActive[scoreIndex] || _score is null)
            throw new InvalidOperationException($"Column '{column.Name}' was not requested when this row/cursor was made.");
        var score = _score;
        Delegate getter = scoreIndex switch
        {
            0 => (ValueGetter<float>)((ref float value) => value = score.Current.Loss),
            1 => (ValueGetter<float>)((ref float value) => value = score.Current.Perplexity),
            _ => (ValueGetter<int>)((ref int value) => value = score.Current.TokenCount),
        };
        return getter as ValueGetter<TValue> ?? throw new InvalidOperationException(
            $"Column '{column.Name}' holds {ScoreColumns.Types[scoreIndex].RawType.Name}, not {typeof(TValue).Name}.");
    }

    /// <summary>
    /// Splits requested output columns into the input columns they need (the text column too when a score
    /// column is requested) and which score columns are active.
    /// </summary>
    public static List<DataViewSchema.Column> InputColumnsFor(IEnumerable<DataViewSchema.Column> outputColumns,
        DataViewSchema input, DataViewSchema.Column textColumn, out bool[] scoreActive)
    {
        ArgumentNullException.ThrowIfNull(outputColumns);
        var active = new bool[ScoreColumns.Count];
        var needed = new List<DataViewSchema.Column>();
        foreach (var column in outputColumns)
        {
            if (column.Index < 0 || column.Index >= input.Count + ScoreColumns.Count)
                throw new ArgumentOutOfRangeException(nameof(outputColumns), column.Name, "The column is not in the scored schema.");
            if (column.Index < input.Count)
                needed.Add(input[column.Index]);
            else
                active[column.Index - input.Count] = true;
        }
        if (active.Any(a => a) && !needed.Any(c => c.Index == textColumn.Index))
            needed.Add(textColumn);
        scoreActive = active;
        return needed;
    }

    private void Check(DataViewSchema.Column column)
    {
        if (column.Index < 0 || column.Index >= Schema.Count || Schema[column.Index].Name != column.Name)
            throw new ArgumentOutOfRangeException(nameof(column), column.Name, "The column does not belong to this row's schema.");
    }

    public void Dispose() => _score?.Dispose();
}
