using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Reports;

namespace PathProbe.Cli.Commands.Capture;

/// <summary>
/// Newline-delimited JSON for live capture: one line per finding as it is detected, {"type":"finding", ...the fields of
/// a finding in the analysis JSON...}, and at the end one line with the whole pathprobe.analysis/1 document plus
/// "type":"summary". Findings are rendered by <see cref="JsonReport"/> itself (through a one-finding carrier analysis),
/// so the two formats cannot drift apart. Findings are rare: the allocations here are per finding, never per packet.
/// </summary>
public sealed class NdjsonWriter
{
    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };
    private readonly TextWriter _output;
    private readonly CaptureAnalysis _carrier = new Engine().Complete(new InputSummary { Path = "" });

    public NdjsonWriter(TextWriter output) => _output = output;

    public void WriteFinding(Finding finding)
    {
        _carrier.Findings.Clear();
        _carrier.Findings.Add(finding);
        var doc = Render([_carrier], indented: false);
        var node = doc["findings"]![0]!.AsObject();
        var line = new JsonObject { ["type"] = "finding" };
        foreach (var kv in node.ToList())
        {
            node.Remove(kv.Key);
            line[kv.Key] = kv.Value;
        }
        WriteLine(line);
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
        WriteLine(line);
    }

    /// <summary>The pathprobe.analysis/1 document of <paramref name="analyses"/> as a mutable tree (to add live-only fields).</summary>
    public static JsonObject Render(IReadOnlyList<CaptureAnalysis> analyses, bool indented)
    {
        using var ms = new MemoryStream();
        JsonReport.Write(ms, analyses, indented);
        return JsonNode.Parse(ms.GetBuffer().AsSpan(0, (int)ms.Length))!.AsObject();
    }

    private void WriteLine(JsonObject line)
    {
        _output.Write(line.ToJsonString(Compact));
        _output.Write('\n');
        _output.Flush();
    }
}
