using Microsoft.ML.Data;

namespace Microsoft.ML.DiLoCo.Scoring;

/// <summary>
/// The columns a language model adds when it scores a text column: <c>Loss</c> and <c>Perplexity</c>
/// (<see cref="float"/>) and <c>TokenCount</c> (<see cref="int"/>), in that order after the input columns.
/// </summary>
internal static class ScoreColumns
{
    public const string Loss = "Loss";
    public const string Perplexity = "Perplexity";
    public const string TokenCount = "TokenCount";

    /// <summary>The added column names, in schema order.</summary>
    public static IReadOnlyList<string> Names { get; } = [Loss, Perplexity, TokenCount];

    /// <summary>Number of added columns.</summary>
    public const int Count = 3;

    /// <summary>The type of each added column, in <see cref="Names"/> order.</summary>
    public static IReadOnlyList<DataViewType> Types { get; } = [NumberDataViewType.Single, NumberDataViewType.Single, NumberDataViewType.Int32];

    /// <summary>
    /// The input columns (all kept, at the same indices) followed by the three score columns; an input
    /// column with a score column's name stays in the schema but is hidden, as ML.NET transforms do.
    /// </summary>
    public static DataViewSchema AddTo(DataViewSchema input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        for (int i = 0; i < Count; i++)
            builder.AddColumn(Names[i], Types[i]);
        return builder.ToSchema();
    }

    /// <summary>
    /// The estimator-time view of <see cref="AddTo(DataViewSchema)"/>: input columns with a score
    /// column's name are replaced by the score columns.
    /// </summary>
    public static SchemaShape AddTo(SchemaShape input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new SchemaShape(input.Where(c => !Names.Contains(c.Name)).Concat(ScoreShape.Value));
    }

    /// <summary>Throws unless <paramref name="schema"/> has a visible scalar text column <paramref name="columnName"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The column is missing (the message lists the columns there are).</exception>
    /// <exception cref="ArgumentException">The column is not scalar text (the message gives its type).</exception>
    public static void CheckTextColumn(DataViewSchema schema, string columnName)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentException.ThrowIfNullOrEmpty(columnName);
        var column = schema.GetColumnOrNull(columnName)
            ?? throw Missing(columnName, schema.Where(c => !c.IsHidden).Select(c => c.Name));
        if (column.Type is not TextDataViewType)
            throw NotText(columnName, column.Type.ToString() ?? "?");
    }

    /// <inheritdoc cref="CheckTextColumn(DataViewSchema, string)"/>
    public static void CheckTextColumn(SchemaShape schema, string columnName)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentException.ThrowIfNullOrEmpty(columnName);
        var matches = schema.Where(c => c.Name == columnName).ToList();
        if (matches.Count == 0)
            throw Missing(columnName, schema.Select(c => c.Name));
        var column = matches[^1];
        if (column.Kind != SchemaShape.Column.VectorKind.Scalar || column.ItemType is not TextDataViewType)
            throw NotText(columnName, column.Kind == SchemaShape.Column.VectorKind.Scalar
                ? column.ItemType.ToString() ?? "?"
                : $"{column.Kind} of {column.ItemType}");
    }

    private static ArgumentOutOfRangeException Missing(string columnName, IEnumerable<string> present) =>
        new(nameof(columnName), columnName,
            $"Text column '{columnName}' was not found in the input. Columns there: {string.Join(", ", present.Select(n => $"'{n}'"))}.");

    private static ArgumentException NotText(string columnName, string type) =>
        new($"Text column '{columnName}' has type {type}; it must be scalar text (string / ReadOnlyMemory<char>).", nameof(columnName));

    // SchemaShape.Column's constructor and SchemaShape.Create are internal to ML.NET. The public way to get
    // shape columns is an estimator's GetOutputSchema: a custom mapping that reads nothing and writes the
    // three score fields reports exactly those three columns.
    private static readonly Lazy<SchemaShape> ScoreShape = new(() =>
    {
        var ml = new MLContext();
        var estimator = ml.Transforms.CustomMapping<NoColumns, ScoreFields>((_, _) => { }, contractName: null);
        var shape = estimator.GetOutputSchema(new SchemaShape([]));
        return new SchemaShape(Names.Select(name => shape.Single(c => c.Name == name)));
    });

    /// <summary>Input of the schema-only custom mapping: no column.</summary>
    internal sealed class NoColumns;

    /// <summary>Output of the schema-only custom mapping: the score columns.</summary>
    internal sealed class ScoreFields
    {
        public float Loss { get; set; }
        public float Perplexity { get; set; }
        public int TokenCount { get; set; }
    }
}
