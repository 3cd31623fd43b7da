using System.Buffers.Binary;
using System.Text;

namespace PathProbe.Telemetry.Tests.Support;

/// <summary>
/// A minimal protobuf wire-format reader for the OTLP messages the tests receive (opentelemetry-proto v1: logs,
/// metrics, common, resource). No generated code and no collector: each message is decoded into its fields by number,
/// and the helpers below walk ExportLogsServiceRequest and ExportMetricsServiceRequest by the field numbers of the
/// .proto files. Also compiled into PathProbe.LibPcap.Tests.
/// </summary>
public sealed class ProtoMessage
{
    private readonly Dictionary<int, List<object>> _fields = new();

    public static ProtoMessage Parse(ReadOnlySpan<byte> data)
    {
        var m = new ProtoMessage();
        int i = 0;
        while (i < data.Length)
        {
            ulong tag = Varint(data, ref i);
            int field = (int)(tag >> 3);
            object value = (int)(tag & 7) switch
            {
                0 => Varint(data, ref i),
                1 => Fixed64(data, ref i),
                2 => LengthDelimited(data, ref i),
                5 => Fixed32(data, ref i),
                var w => throw new FormatException($"wire type {w} at {i}"),
            };
            if (!m._fields.TryGetValue(field, out var list)) m._fields[field] = list = new List<object>();
            list.Add(value);
        }
        return m;
    }

    private static ulong Varint(ReadOnlySpan<byte> d, ref int i)
    {
        ulong v = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = d[i++];
            v |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return v;
        }
        throw new FormatException("varint too long");
    }

    private static ulong Fixed64(ReadOnlySpan<byte> d, ref int i) { ulong v = BinaryPrimitives.ReadUInt64LittleEndian(d[i..]); i += 8; return v; }
    private static uint Fixed32(ReadOnlySpan<byte> d, ref int i) { uint v = BinaryPrimitives.ReadUInt32LittleEndian(d[i..]); i += 4; return v; }

    private static byte[] LengthDelimited(ReadOnlySpan<byte> d, ref int i)
    {
        int n = checked((int)Varint(d, ref i));
        byte[] b = d.Slice(i, n).ToArray();
        i += n;
        return b;
    }

    public IEnumerable<ProtoMessage> Messages(int field) => Raw(field).Select(v => Parse((byte[])v));
    public ProtoMessage? Message(int field) => Messages(field).FirstOrDefault();
    public string? String(int field) => Raw(field).Select(v => Encoding.UTF8.GetString((byte[])v)).FirstOrDefault();
    public ulong? Number(int field) => Raw(field).Select(v => v is uint u ? u : (ulong)v).Cast<ulong?>().FirstOrDefault();
    public double? Double(int field) => Raw(field).Select(v => BitConverter.Int64BitsToDouble((long)(ulong)v)).Cast<double?>().FirstOrDefault();
    public IReadOnlyList<object> Raw(int field) => _fields.TryGetValue(field, out var l) ? l : [];

    /// <summary>Packed repeated fixed64 (histogram bucket counts).</summary>
    public IEnumerable<ulong> PackedFixed64(int field)
    {
        foreach (var v in Raw(field))
        {
            if (v is ulong one) { yield return one; continue; }
            var b = (byte[])v;
            for (int k = 0; k + 8 <= b.Length; k += 8) yield return BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(k));
        }
    }
}

/// <summary>OTLP's common.v1 AnyValue and KeyValue as .NET values.</summary>
public static class Otlp
{
    /// <summary>AnyValue: 1 string, 2 bool, 3 int64, 4 double, 5 array, 6 kvlist, 7 bytes.</summary>
    public static object? Value(ProtoMessage? any)
    {
        if (any is null) return null;
        if (any.String(1) is { } s) return s;
        if (any.Number(2) is { } b) return b != 0;
        if (any.Number(3) is { } l) return (long)l;
        if (any.Double(4) is { } d) return d;
        if (any.Message(5) is { } array) return array.Messages(1).Select(Value).ToArray();
        if (any.Message(6) is { } kv) return Attributes(kv, 1);
        return null;
    }

    /// <summary>Repeated KeyValue (1 key, 2 value) at <paramref name="field"/>.</summary>
    public static Dictionary<string, object?> Attributes(ProtoMessage m, int field) =>
        m.Messages(field).ToDictionary(kv => kv.String(1)!, kv => Value(kv.Message(2)));

    public sealed record LogRecord(ulong TimeUnixNano, int SeverityNumber, string? SeverityText, object? Body,
        Dictionary<string, object?> Attributes, Dictionary<string, object?> Resource, string? EventName);

    /// <summary>ExportLogsServiceRequest: 1 resource_logs → (1 resource (1 attributes), 2 scope_logs → 2 log_records).
    /// LogRecord: 1 time_unix_nano, 2 severity_number, 3 severity_text, 5 body, 6 attributes, 12 event_name.</summary>
    public static IEnumerable<LogRecord> LogRecords(byte[] request)
    {
        foreach (var rl in ProtoMessage.Parse(request).Messages(1))
        {
            var resource = rl.Message(1) is { } r ? Attributes(r, 1) : new Dictionary<string, object?>();
            foreach (var sl in rl.Messages(2))
                foreach (var lr in sl.Messages(2))
                    yield return new LogRecord(lr.Number(1) ?? 0, (int)(lr.Number(2) ?? 0), lr.String(3), Value(lr.Message(5)),
                        Attributes(lr, 6), resource, lr.String(12));
        }
    }

    public sealed record DataPoint(Dictionary<string, object?> Attributes, double Value, ulong Count, IReadOnlyList<ulong> Buckets);

    public sealed record Metric(string Name, string? Unit, string Type, IReadOnlyList<DataPoint> Points, Dictionary<string, object?> Resource);

    /// <summary>ExportMetricsServiceRequest: 1 resource_metrics → (1 resource, 2 scope_metrics → 2 metrics). Metric: 1 name,
    /// 3 unit, 5 gauge, 7 sum, 9 histogram (each: 1 data_points). NumberDataPoint: 7 attributes, 4 as_double, 6 as_int.
    /// HistogramDataPoint: 9 attributes, 4 count, 5 sum, 6 bucket_counts.</summary>
    public static IEnumerable<Metric> Metrics(byte[] request)
    {
        foreach (var rm in ProtoMessage.Parse(request).Messages(1))
        {
            var resource = rm.Message(1) is { } r ? Attributes(r, 1) : new Dictionary<string, object?>();
            foreach (var sm in rm.Messages(2))
                foreach (var m in sm.Messages(2))
                {
                    string name = m.String(1)!;
                    if (m.Message(7) is { } sum) yield return new Metric(name, m.String(3), "sum", Numbers(sum), resource);
                    else if (m.Message(5) is { } gauge) yield return new Metric(name, m.String(3), "gauge", Numbers(gauge), resource);
                    else if (m.Message(9) is { } h)
                        yield return new Metric(name, m.String(3), "histogram",
                            h.Messages(1).Select(p => new DataPoint(Attributes(p, 9), p.Double(5) ?? 0, p.Number(4) ?? 0, p.PackedFixed64(6).ToList())).ToList(),
                            resource);
                }
        }
    }

    private static List<DataPoint> Numbers(ProtoMessage m) =>
        m.Messages(1).Select(p => new DataPoint(Attributes(p, 7),
            p.Double(4) ?? (p.Number(6) is { } i ? (long)i : 0), 0, [])).ToList();
}
