using Microsoft.ML.Data;

namespace Microsoft.ML.DiLoCo.Data;

/// <summary>Reads the documents of a text column out of an <see cref="IDataView"/>.</summary>
internal static class TextColumnReader
{
    /// <summary>
    /// Returns the values of a text column that hold a non-whitespace character, in row order: empty, missing and
    /// whitespace-only rows are skipped, the rule scoring follows too (they score TokenCount 0). Other text is kept
    /// as it is, invalid UTF-16 included (the tokenizer reads a lone surrogate as U+FFFD). ML.NET represents both
    /// <see cref="string"/> and <see cref="ReadOnlyMemory{T}"/> of char members as <see cref="TextDataViewType"/>,
    /// so both are accepted.
    /// </summary>
    /// <exception cref="ArgumentException">The column does not exist, or is not a scalar text column.</exception>
    public static List<string> ReadDocuments(IDataView data, string columnName)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrEmpty(columnName);

        DataViewSchema.Column? column = data.Schema.GetColumnOrNull(columnName);
        if (column is null)
        {
            string available = string.Join(", ", data.Schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"));
            throw new ArgumentException(
                $"The data has no column '{columnName}'. Available columns: {(available.Length == 0 ? "(none)" : available)}.",
                nameof(columnName));
        }

        if (column.Value.Type is not TextDataViewType)
        {
            throw new ArgumentException(
                $"Column '{columnName}' has type {column.Value.Type}; a text (string) column is required.",
                nameof(columnName));
        }

        var documents = new List<string>();
        using DataViewRowCursor cursor = data.GetRowCursor(new[] { column.Value });
        ValueGetter<ReadOnlyMemory<char>> getter = cursor.GetGetter<ReadOnlyMemory<char>>(column.Value);
        ReadOnlyMemory<char> value = default;
        while (cursor.MoveNext())
        {
            getter(ref value);
            if (!value.Span.IsWhiteSpace())
            {
                documents.Add(value.ToString());
            }
        }

        return documents;
    }
}
