namespace PathProbe.Reports.Records;

/// <summary>How a column's values are stored: the NDJSON value and the Parquet column type follow from it.</summary>
public enum ColumnKind : byte
{
    /// <summary>JSON string; Parquet UTF-8 string.</summary>
    Text,
    /// <summary>JSON integer; Parquet INT64.</summary>
    Integer,
    /// <summary>JSON number; Parquet DOUBLE.</summary>
    Number,
    /// <summary>JSON boolean; Parquet BOOLEAN.</summary>
    Boolean,
    /// <summary>JSON ISO 8601 UTC string with nanoseconds; Parquet TIMESTAMP (milliseconds, UTC).</summary>
    Time,
    /// <summary>JSON array of integers; Parquet text, the numbers separated by spaces (DuckDB: string_split(x, ' ')).</summary>
    IntegerList,
    /// <summary>JSON array of strings; Parquet text, the strings separated by spaces.</summary>
    TextList,
    /// <summary>JSON object (written as is); Parquet text holding the same JSON (DuckDB: json_extract, x::JSON).</summary>
    Json,
}

/// <summary>One column of a record table: its name (snake_case, the same in NDJSON and Parquet), kind, and meaning
/// (README "Records", the JSON Schema's descriptions).</summary>
public sealed record RecordColumn(string Name, ColumnKind Kind, string Description, bool Nullable = true);

/// <summary>
/// One kind of record (Zeek's log: conn, smtp, dns...). The columns are declared once here; the NDJSON writer, the
/// Parquet writer, the JSON Schema (schemas/pathprobe.records-1.schema.json) and the README's column lists all follow
/// this declaration.
/// </summary>
public sealed class RecordTable
{
    private readonly Dictionary<string, int> _index;

    public RecordTable(string type, string? parquetName, string description, IReadOnlyList<RecordColumn> columns)
    {
        Type = type;
        ParquetName = parquetName;
        Description = description;
        Columns = columns;
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < columns.Count; i++) _index.Add(columns[i].Name, i);
    }

    /// <summary>The record's "type" in NDJSON ("flow", "finding", "smtp", "dns", "input").</summary>
    public string Type { get; }
    /// <summary>The folder of its Parquet files under --parquet DIR, or null when it is not archived.</summary>
    public string? ParquetName { get; }
    public string Description { get; }
    public IReadOnlyList<RecordColumn> Columns { get; }

    public int IndexOf(string column) =>
        _index.TryGetValue(column, out int i) ? i : throw new ArgumentException($"table {Type} has no column {column}", nameof(column));
}

/// <summary>One record: a table and one value per column (null, string, long, double, bool, Timestamp, long[],
/// string[], or a JSON text for <see cref="ColumnKind.Json"/>). Built when a flow, finding or transaction ends,
/// never per packet.</summary>
public sealed class Record
{
    public Record(RecordTable table)
    {
        Table = table;
        Values = new object?[table.Columns.Count];
    }

    public RecordTable Table { get; }
    public object?[] Values { get; }

    public object? this[string column] => Values[Table.IndexOf(column)];

    /// <summary>Sets a column, checking the value against the column's kind (a mistake is a programming error).</summary>
    public Record Set(string column, object? value)
    {
        int i = Table.IndexOf(column);
        var c = Table.Columns[i];
        bool ok = value switch
        {
            null => c.Nullable,
            string => c.Kind is ColumnKind.Text or ColumnKind.Json,
            long => c.Kind == ColumnKind.Integer,
            double => c.Kind == ColumnKind.Number,
            bool => c.Kind == ColumnKind.Boolean,
            Primitives.Timestamp => c.Kind == ColumnKind.Time,
            long[] => c.Kind == ColumnKind.IntegerList,
            string[] => c.Kind == ColumnKind.TextList,
            _ => false,
        };
        if (!ok) throw new ArgumentException($"column {Table.Type}.{column} ({c.Kind}) cannot hold {value?.GetType().Name ?? "null"}");
        Values[i] = value;
        return this;
    }
}
