using Microsoft.ML.Data;

namespace Microsoft.ML.DiLoCo.Scoring;

/// <summary>
/// A row of <see cref="ScoredTextRowMapper"/>: a live view of its input row (it follows the input's
/// position) with the score columns added. It does not own the input row.
/// </summary>
internal sealed class ScoredTextRow : DataViewRow
{
    private readonly DataViewRow _input;
    private readonly ScoredRowColumns _columns;
    private bool _disposed;

    /// <param name="input">The input row; not owned.</param>
    /// <param name="columns">Column access over <paramref name="input"/>; owned.</param>
    public ScoredTextRow(DataViewRow input, ScoredRowColumns columns)
    {
        _input = input;
        _columns = columns;
    }

    public override DataViewSchema Schema => _columns.Schema;
    public override long Position => _input.Position;
    public override long Batch => _input.Batch;
    public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();
    public override bool IsColumnActive(DataViewSchema.Column column) => _columns.IsColumnActive(column);
    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _columns.GetGetter<TValue>(column);

    protected override void Dispose(bool disposing)
    {
        if (_disposed)
            return;
        if (disposing)
            _columns.Dispose();
        _disposed = true;
        base.Dispose(disposing);
    }
}
