using System.Buffers;
using System.Text;
using System.Text.Json;
using PathProbe.Primitives;

namespace PathProbe.Reports.Records;

/// <summary>Where records go: NDJSON lines, Parquet files.</summary>
public interface IRecordSink
{
    void Write(Record record);
}

/// <summary>
/// Records as newline-delimited JSON (README "Records"; schemas/pathprobe.records-1.schema.json): one object per line,
/// <c>"type"</c> first, then every column of the record's table in order, nulls included, so <c>jq</c> sees the
/// same keys on every line of a type. One allocation of text per record, never per packet.
/// </summary>
public sealed class NdjsonRecordWriter(TextWriter output, bool flushEachLine = false) : IRecordSink
{
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);

    public void Write(Record record)
    {
        _buffer.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_buffer))
        {
            w.WriteStartObject();
            w.WriteString("type", record.Table.Type);
            WriteColumns(w, record);
            w.WriteEndObject();
        }
        output.Write(Encoding.UTF8.GetString(_buffer.WrittenSpan));
        output.Write('\n');
        if (flushEachLine) output.Flush();
    }

    /// <summary>The record's columns as properties of the current JSON object.</summary>
    public static void WriteColumns(Utf8JsonWriter w, Record record)
    {
        var columns = record.Table.Columns;
        for (int i = 0; i < columns.Count; i++)
        {
            var c = columns[i];
            object? v = record.Values[i];
            switch (v)
            {
                case null: w.WriteNull(c.Name); break;
                case string s when c.Kind == ColumnKind.Json:
                    w.WritePropertyName(c.Name);
                    w.WriteRawValue(s, skipInputValidation: true);
                    break;
                case string s: w.WriteString(c.Name, s); break;
                case long l: w.WriteNumber(c.Name, l); break;
                case double d: w.WriteNumber(c.Name, d); break;
                case bool b: w.WriteBoolean(c.Name, b); break;
                case Timestamp t: w.WriteString(c.Name, t.ToIso8601()); break;
                case long[] ls:
                    w.WriteStartArray(c.Name);
                    foreach (long l in ls) w.WriteNumberValue(l);
                    w.WriteEndArray();
                    break;
                case string[] ss:
                    w.WriteStartArray(c.Name);
                    foreach (string s in ss) w.WriteStringValue(s);
                    w.WriteEndArray();
                    break;
                default: throw new InvalidOperationException($"column {c.Name}: {v.GetType().Name}");
            }
        }
    }
}
