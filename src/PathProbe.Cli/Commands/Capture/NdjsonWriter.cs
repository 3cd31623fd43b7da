using System.Text.Json;
using System.Text.Json.Nodes;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Reports;
using PathProbe.Reports.Records;

namespace PathProbe.Cli.Commands.Capture;

/// <summary>
/// capture --ndjson's own lines around the records (<see cref="RecordFeed"/>, <see cref="NdjsonRecordWriter"/>: the
/// finding, flow, smtp, dns and input records analyze --ndjson writes): the final line with the whole
/// pathprobe.analysis/2 document plus "type":"summary". <see cref="WriteFinding"/> writes one finding change as its
/// record (the fields of findings[] in the analysis JSON, plus host, capture_id, change, uids...). Allocations are per
/// change of a finding, never per packet.
/// </summary>
public sealed class NdjsonWriter
{
    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };
    private readonly TextWriter _output;
    private readonly RecordFeed _feed;

    public NdjsonWriter(TextWriter output, RecordScope? scope = null)
    {
        _output = output;
        _feed = new RecordFeed(scope ?? new RecordScope(Environment.MachineName, "live"), new NdjsonRecordWriter(output), null);
    }

    /// <summary>One change of a finding as a finding record with its "change".</summary>
    public void WriteFinding(FindingEvent e)
    {
        _feed.FindingChanged(e);
        _output.Flush();
    }

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
