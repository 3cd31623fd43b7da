using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Parquet;
using Parquet.Schema;
using PathProbe.Primitives;
using PathProbe.Reports.Records;

namespace PathProbe.Cli.Records;

/// <summary>
/// Records as Parquet files (Parquet.Net), one folder per table under DIR (flows/, findings/, smtp/, dns/; README
/// "Records"). The caller's thread only appends records to a batch; a thread of its own writes row groups
/// (every <see cref="RowGroupRows"/> records) and closes files, so a slow disk does not stall the capture until 64
/// row groups or file closes wait for it (then the capture thread waits too).
/// A file is written under a temporary name (NAME.parquet.tmp) and renamed to NAME.parquet once closed and synced:
/// every *.parquet file is complete and readable even if the process is killed (SIGKILL) while the next one is being
/// written. <see cref="Rotate"/> (capture: hourly, on clock-hour boundaries, and on exit) closes the current files;
/// a table with no records in a period gets no file.
/// </summary>
public sealed class ParquetRecordWriter : IRecordSink, IDisposable
{
    public const int RowGroupRows = 10_000;

    private readonly string _directory;
    private readonly string _prefix;
    private readonly Dictionary<RecordTable, List<Record>> _batches = new();
    private readonly Dictionary<RecordTable, int> _fileRows = new();
    private readonly BlockingCollection<Action> _work = new(boundedCapacity: 64);
    private readonly Thread _thread;
    private readonly Dictionary<RecordTable, OpenFile> _open = new(); // writer thread only
    private readonly List<string> _files = new();
    private readonly Lock _lock = new();
    private int _sequence;
    private volatile string? _error;
    private bool _disposed;

    /// <param name="directory">DIR: created if missing.</param>
    public ParquetRecordWriter(string directory, RecordScope scope)
    {
        _directory = directory;
        _prefix = $"{FileSafe(scope.Host)}-{FileSafe(scope.CaptureId)}";
        Directory.CreateDirectory(directory);
        foreach (var t in RecordTables.Archived) Directory.CreateDirectory(Path.Combine(directory, t.ParquetName!));
        _thread = new Thread(Run) { IsBackground = true, Name = "pathprobe parquet" };
        _thread.Start();
    }

    /// <summary>The first write error (the records after it are not written), or null.</summary>
    public string? Error => _error;

    /// <summary>The finished files so far.</summary>
    public IReadOnlyList<string> Files { get { lock (_lock) return _files.ToArray(); } }

    public void Write(Record record)
    {
        if (record.Table.ParquetName is null || _disposed) return;
        if (!_batches.TryGetValue(record.Table, out var batch)) _batches[record.Table] = batch = new List<Record>();
        batch.Add(record);
        if (batch.Count >= RowGroupRows) HandOff(record.Table, close: false);
    }

    /// <summary>Closes the current files (each renamed to its final name once complete); the next records start new ones.</summary>
    public void Rotate()
    {
        foreach (var t in RecordTables.Archived) HandOff(t, close: true);
    }

    private void HandOff(RecordTable table, bool close)
    {
        var rows = _batches.GetValueOrDefault(table);
        if (rows is { Count: > 0 })
        {
            _batches[table] = new List<Record>();
            _fileRows[table] = _fileRows.GetValueOrDefault(table) + rows.Count;
            _work.Add(() => Append(table, rows));
        }
        if (close && _fileRows.GetValueOrDefault(table) > 0)
        {
            _fileRows[table] = 0;
            _work.Add(() => Close(table));
        }
    }

    private void Run()
    {
        foreach (var action in _work.GetConsumingEnumerable())
        {
            // Any failure (a full disk, a vanished directory, the library's own exceptions) stops the writing, never the
            // thread: it keeps taking work, so the capture thread never blocks on a full queue.
            try { action(); }
            catch (Exception e)
            {
                _error ??= $"{e.GetType().Name}: {e.Message}";
            }
        }
    }

    private sealed class OpenFile(string temp, string final, FileStream stream, ParquetWriter writer, DataField[] fields)
    {
        public string Temp => temp;
        public string Final => final;
        public FileStream Stream => stream;
        public ParquetWriter Writer => writer;
        public DataField[] Fields => fields;
    }

    private void Append(RecordTable table, List<Record> rows)
    {
        if (_error is not null) return;
        if (!_open.TryGetValue(table, out var file))
        {
            string stamp = DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
            string name = $"{_prefix}-{stamp}-{Interlocked.Increment(ref _sequence):D4}.parquet";
            string final = Path.Combine(_directory, table.ParquetName!, name);
            string temp = final + ".tmp";
            var fields = table.Columns.Select(Field).ToArray();
            var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16);
            var writer = ParquetWriter.CreateAsync(new ParquetSchema(fields), stream).GetAwaiter().GetResult();
            writer.CustomMetadata = new Dictionary<string, string> { ["schema"] = RecordTables.Schema, ["table"] = table.Type };
            _open[table] = file = new OpenFile(temp, final, stream, writer, fields);
        }
        using (var group = file.Writer.CreateRowGroup())
        {
            for (int i = 0; i < file.Fields.Length; i++) WriteColumn(group, file.Fields[i], table.Columns[i], i, rows);
        }
        file.Stream.Flush(flushToDisk: false);
    }

    private void Close(RecordTable table)
    {
        if (!_open.Remove(table, out var file)) return;
        file.Writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        file.Stream.Flush(flushToDisk: true);
        file.Stream.Dispose();
        File.Move(file.Temp, file.Final);
        lock (_lock) _files.Add(file.Final);
    }

    private static DataField Field(RecordColumn c) => c.Kind switch
    {
        ColumnKind.Integer => new DataField<long>(c.Name, nullable: true),
        ColumnKind.Number => new DataField<double>(c.Name, nullable: true),
        ColumnKind.Boolean => new DataField<bool>(c.Name, nullable: true),
        // Milliseconds: Parquet.Net 6.1.0 writes the min/max statistics of a microsecond timestamp column in
        // milliseconds, so DuckDB's row-group pruning drops every row of a time filter (a query "since last week"
        // returns nothing). Millisecond columns get correct statistics; the NDJSON keeps nanoseconds.
        ColumnKind.Time => new DateTimeDataField(c.Name, DateTimeFormat.Timestamp, isAdjustedToUTC: true, unit: DateTimeTimeUnit.Millis, isNullable: true),
        _ => new DataField<string>(c.Name, nullable: true),
    };

    private static void WriteColumn(ParquetRowGroupWriter group, DataField field, RecordColumn c, int index, List<Record> rows)
    {
        switch (c.Kind)
        {
            case ColumnKind.Integer:
                group.WriteAsync<long>(field, rows.Select(r => (long?)r.Values[index]).ToArray().AsMemory()).GetAwaiter().GetResult();
                break;
            case ColumnKind.Number:
                group.WriteAsync<double>(field, rows.Select(r => (double?)r.Values[index]).ToArray().AsMemory()).GetAwaiter().GetResult();
                break;
            case ColumnKind.Boolean:
                group.WriteAsync<bool>(field, rows.Select(r => (bool?)r.Values[index]).ToArray().AsMemory()).GetAwaiter().GetResult();
                break;
            case ColumnKind.Time:
                group.WriteAsync<DateTime>(field, rows.Select(r => r.Values[index] is Timestamp t ? ToDateTime(t) : (DateTime?)null).ToArray().AsMemory()).GetAwaiter().GetResult();
                break;
            default:
                group.WriteAsync(field, rows.Select(r => Text(r.Values[index])).ToArray()).GetAwaiter().GetResult();
                break;
        }
    }

    /// <summary>Lists as space-separated text (DuckDB: string_split(x, ' ')); JSON as its text.</summary>
    private static string? Text(object? v) => v switch
    {
        null => null,
        string s => s,
        long[] ls => string.Join(' ', ls.Select(l => l.ToString(CultureInfo.InvariantCulture))),
        string[] ss => string.Join(' ', ss),
        _ => Convert.ToString(v, CultureInfo.InvariantCulture),
    };

    private static DateTime ToDateTime(Timestamp t) => DateTime.UnixEpoch.AddTicks(t.UnixNanoseconds / 100);

    /// <summary>A host name or capture id as part of a file name: letters, digits, '.', '_' and '-' kept.</summary>
    internal static string FileSafe(string s)
    {
        var sb = new StringBuilder(Math.Min(s.Length, 64));
        foreach (char ch in s)
        {
            if (sb.Length == 64) break;
            sb.Append(char.IsAsciiLetterOrDigit(ch) || ch is '.' or '_' or '-' ? ch : '_');
        }
        return sb.Length == 0 ? "_" : sb.ToString();
    }

    /// <summary>Closes every file and stops the writer thread.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        Rotate();
        _disposed = true;
        _work.CompleteAdding();
        _thread.Join();
        _work.Dispose();
    }
}
