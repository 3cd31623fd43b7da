using System.Text.Json;
using System.Text.Json.Nodes;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Reports;

namespace PathProbe.Cli.Commands.Capture;

/// <summary>
/// Newline-delimited JSON for live capture: one line per change of a finding, {"type":"finding","change":
/// "opened|updated|closed", ...the fields of the finding in the analysis JSON (same id across its changes)...}, and
/// at the end one line with the whole pathprobe.analysis/2 document plus "type":"summary". Findings are written by
/// <see cref="JsonReport.WriteFindingFields"/> itself, so the two formats cannot drift apart. Allocations are per
/// change of a finding, never per packet.
/// </summary>
public sealed class NdjsonWriter
{
    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };
    private readonly TextWriter _output;

    public NdjsonWriter(TextWriter output) => _output = output;

    public void WriteFinding(FindingEvent e)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("type", "finding");
            w.WriteString("change", e.Change switch { FindingChange.Opened => "opened", FindingChange.Closed => "closed", _ => "updated" });
            JsonReport.WriteFindingFields(w, e.Finding);
            w.WriteEndObject();
        }
        _output.Write(System.Text.Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length));
        _output.Write('\n');
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
