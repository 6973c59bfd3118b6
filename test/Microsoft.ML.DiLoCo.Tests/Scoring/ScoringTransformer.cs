using Microsoft.ML.Data;
using Microsoft.ML.DiLoCo.Scoring;

namespace Microsoft.ML.DiLoCo.Tests.Scoring;

/// <summary>The least ITransformer that puts the scoring edge under ML.NET's own PredictionEngine.</summary>
internal sealed class ScoringTransformer(string textColumnName, Func<ITextScorer> scorerFactory) : ITransformer
{
    public bool IsRowToRowMapper => true;

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ScoreColumns.CheckTextColumn(inputSchema, textColumnName);
        return ScoreColumns.AddTo(inputSchema);
    }

    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) =>
        new ScoredTextRowMapper(inputSchema, textColumnName, scorerFactory);

    public IDataView Transform(IDataView input) => new ScoredTextDataView(input, textColumnName, scorerFactory);

    void ICanSaveModel.Save(ModelSaveContext ctx) => throw new NotSupportedException("Test transformer.");
}
