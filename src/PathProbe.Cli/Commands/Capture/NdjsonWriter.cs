using System.Text.Json;
using System.Text.Json.Nodes;
using PathProbe.Pipeline;
using PathProbe.Reports;

namespace PathProbe.Cli.Commands.Capture;

/// <summary>
/// capture --ndjson's own line after the records (<see cref="PathProbe.Reports.Records.RecordFeed"/> with an <see cref="PathProbe.Reports.Records.NdjsonRecordWriter"/>
/// writes the finding, flow, smtp, dns and input records, as analyze --ndjson does): the final line with the whole
/// pathprobe.analysis/2 document plus "type":"summary".
/// </summary>
public sealed class NdjsonWriter
{
    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };
    private readonly TextWriter _output;

    public NdjsonWriter(TextWriter output) => _output = output;

    /// <summary>The final line: the analysis document with "type":"summary" first.</summary>
    public void WriteSummary(JsonObject analysis)
    {
        var line = new JsonObject { ["type"] = "summary" };
        foreach (var kv in analysis.ToList())
        {
            analysis.Remove(kv.Key);
            line[kv.Key] = kv.Value;
        }
        _output.Write(line.ToJsonString(Compact));
        _output.Write('\n');
        _output.Flush();
    }

    /// <summary>The pathprobe.analysis/2 document of <paramref name="analyses"/> as a mutable tree (to add live-only fields).</summary>
    public static JsonObject Render(IReadOnlyList<CaptureAnalysis> analyses, bool indented)
    {
        using var ms = new MemoryStream();
        JsonReport.Write(ms, analyses, indented);
        return JsonNode.Parse(ms.GetBuffer().AsSpan(0, (int)ms.Length))!.AsObject();
    }
}
