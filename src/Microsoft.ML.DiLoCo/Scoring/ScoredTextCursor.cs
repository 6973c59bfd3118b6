using Microsoft.ML.Data;

namespace Microsoft.ML.DiLoCo.Scoring;

/// <summary>A cursor of <see cref="ScoredTextDataView"/>: moves with its input cursor and adds the score columns.</summary>
internal sealed class ScoredTextCursor : DataViewRowCursor
{
    private readonly DataViewRowCursor _input;
    private readonly ScoredRowColumns _columns;
    private bool _disposed;

    /// <param name="input">The input cursor; owned.</param>
    /// <param name="columns">Column access over <paramref name="input"/>; owned.</param>
    public ScoredTextCursor(DataViewRowCursor input, ScoredRowColumns columns)
    {
        _input = input;
        _columns = columns;
    }

    public override DataViewSchema Schema => _columns.Schema;
    public override long Position => _input.Position;
    public override long Batch => _input.Batch;
    public override bool MoveNext() => _input.MoveNext();
    public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();
    public override bool IsColumnActive(DataViewSchema.Column column) => _columns.IsColumnActive(column);
    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _columns.GetGetter<TValue>(column);

    protected override void Dispose(bool disposing)
    {
        if (_disposed)
            return;
        if (disposing)
        {
            _columns.Dispose();
            _input.Dispose();
        }
        _disposed = true;
        base.Dispose(disposing);
    }
}
