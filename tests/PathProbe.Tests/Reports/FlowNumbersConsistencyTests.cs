using System.Text.Json;
using PathProbe.Cli.Tui.Model;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Reports;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Reports;

/// <summary>
/// One number per fact: on every bundled capture, each per-flow number in every finding equals the flow's own number
/// in flows[] (retransmissions and data segments per direction, the RTT, the resends of the lost packet, the bytes of
/// the message sent), a count over several flows is the sum over exactly the flows the finding lists, and the flow
/// table and the TUI read the same numbers.
/// </summary>
public sealed class FlowNumbersConsistencyTests
{
    public static IEnumerable<object[]> Captures() => TestPaths.BundledCaptures().Select(f => new object[] { Path.GetFileName(f) });

    [Theory]
    [MemberData(nameof(Captures))]
    public void Analyze_BundledCapture_EveryPerFlowNumberInFindingsIsTheFlowsOwn(string name)
    {
        var a = FileAnalyzer.Analyze(Path.Combine(TestPaths.Captures, name));
        using var doc = JsonDocument.Parse(JsonSchemaTests.Render(a));
        var flows = doc.RootElement.GetProperty("flows").EnumerateArray().ToDictionary(f => f.GetProperty("id").GetInt32());
        int checkedNumbers = 0;
        foreach (var finding in doc.RootElement.GetProperty("findings").EnumerateArray())
        {
            string kind = finding.GetProperty("kind").GetString()!;
            var ev = finding.GetProperty("evidence");
            var listed = finding.GetProperty("flows").EnumerateArray().Select(x => x.GetInt32()).ToHashSet();
            foreach (var item in Objects(ev).Where(o => o.TryGetProperty("flow", out _)))
            {
                int id = item.GetProperty("flow").GetInt32();
                Assert.True(listed.Contains(id), $"{name} {kind}: evidence names flow {id}, which the finding does not list");
                var flow = flows[id];
                string where = $"{name} {kind} flow {id}";
                Assert.True(JsonElement.DeepEquals(flow.GetProperty("client"), item.GetProperty("client")), where);
                Assert.True(JsonElement.DeepEquals(flow.GetProperty("server"), item.GetProperty("server")), where);
                checkedNumbers++;
                if (item.TryGetProperty("retransmissions", out var r))
                {
                    var tcp = flow.GetProperty("tcp");
                    Assert.Equal(tcp.GetProperty("c2s").GetProperty("retransmissions").GetInt64(), r.GetProperty("c2s").GetInt64());
                    Assert.Equal(tcp.GetProperty("s2c").GetProperty("retransmissions").GetInt64(), r.GetProperty("s2c").GetInt64());
                    var d = item.GetProperty("dataSegments");
                    Assert.Equal(tcp.GetProperty("c2s").GetProperty("dataSegments").GetInt64(), d.GetProperty("c2s").GetInt64());
                    Assert.Equal(tcp.GetProperty("s2c").GetProperty("dataSegments").GetInt64(), d.GetProperty("s2c").GetInt64());
                    Assert.Equal(tcp.GetProperty("rtt").ToString(), item.GetProperty("rtt").ToString());
                    checkedNumbers += 5;
                }
                if (item.TryGetProperty("resends", out var resends) && item.TryGetProperty("direction", out var dir))
                {
                    var series = flow.GetProperty("tcp").GetProperty(dir.GetString()!);
                    long own = series.TryGetProperty("longestRetransmissionSeries", out var s) ? s.GetProperty("resends").GetInt64() : 0;
                    Assert.True(own == resends.GetInt64(), $"{where}: resends {resends} in the finding, {own} in the flow");
                    checkedNumbers++;
                }
                foreach (var pos in Objects(item).Where(o => o.TryGetProperty("messageBytes", out _) && o.TryGetProperty("transaction", out var t) && t.ValueKind == JsonValueKind.Number))
                {
                    int tx = pos.GetProperty("transaction").GetInt32();
                    var own = flow.GetProperty("smtp").GetProperty("transactions")[tx - 1];
                    Assert.True(own.GetProperty("messageBytes").GetInt64() == pos.GetProperty("messageBytes").GetInt64(),
                        $"{where}: message bytes {pos.GetProperty("messageBytes")} in the finding, {own.GetProperty("messageBytes")} in the flow");
                    Assert.Equal(own.GetProperty("messageBytesApproximate").GetBoolean(), pos.GetProperty("messageBytesApproximate").GetBoolean());
                    checkedNumbers++;
                }
            }
            // A count over several flows is the sum over exactly the flows listed.
            if (ev.TryGetProperty("flows", out var items) && ev.TryGetProperty("retransmissions", out var total))
            {
                var each = items.EnumerateArray().Where(i => i.TryGetProperty("retransmissions", out _)).ToList();
                Assert.Equal(each.Sum(i => i.GetProperty("retransmissions").GetProperty("c2s").GetInt64()), total.GetProperty("c2s").GetInt64());
                Assert.Equal(each.Sum(i => i.GetProperty("retransmissions").GetProperty("s2c").GetInt64()), total.GetProperty("s2c").GetInt64());
                if (ev.TryGetProperty("dataSegments", out var data))
                    Assert.Equal(each.Sum(i => i.GetProperty("dataSegments").GetProperty("c2s").GetInt64()), data.GetProperty("c2s").GetInt64());
                if (ev.TryGetProperty("resends", out var sum))
                    Assert.Equal(each.Sum(i => i.GetProperty("resends").GetInt64()), sum.GetInt64());
                checkedNumbers++;
            }
        }
        // The flow table and the TUI read the same numbers as the JSON: the TUI's row (FlowRows, from FlowFacts) and every
        // number cell of its flow table read as the report's row.
        var text = new StringWriter();
        TextReport.Write(text, [a], new TextReport.Options { Width = 1000, MaxFlowRows = 1000 });
        var lines = text.ToString().Split('\n').SkipWhile(l => !l.StartsWith("  ID ", StringComparison.Ordinal)).Skip(1)
            .Where(l => l.Length > 0).ToDictionary(l => int.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]));
        var rows = lines.ToDictionary(kv => kv.Key, kv => kv.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        string[] sameAsReport = ["duration", "packets", "bytes", "retx", "rtt ms", "mss c/s", "max seg c/s", "max ip c/s"];
        foreach (var f in a.Flows)
        {
            var row = FlowRows.Row(f, -1, "");
            foreach (string title in sameAsReport)
            {
                if (f.Protocol != PathProbe.Flows.FlowProtocol.Tcp && title is "retx" or "rtt ms" or "mss c/s") continue;
                string cell = FlowColumns.All[FlowColumns.IndexOf(title)].Cell(row, 0);
                Assert.True(lines[f.Id].Contains(cell, StringComparison.Ordinal), $"{name} flow {f.Id}: the TUI's {title} '{cell}' is not in the report's row '{lines[f.Id]}'");
                checkedNumbers++;
            }
        }
        foreach (var f in a.Flows.Where(f => f.Protocol == PathProbe.Flows.FlowProtocol.Tcp && f.Tcp is not null))
        {
            var facts = FlowFacts.Of(f);
            var tcp = flows[f.Id].GetProperty("tcp");
            Assert.Contains($"{FindingText.N(facts.Retransmissions.C2s)}/{FindingText.N(facts.Retransmissions.S2c)}", rows[f.Id]);
            Assert.Equal(tcp.GetProperty("c2s").GetProperty("retransmissions").GetInt64(), facts.Retransmissions.C2s);
            Assert.Contains(TextReport.RttMs(facts.RttNanos), rows[f.Id]);
            var row = FlowRows.Row(f, -1, "");
            Assert.Equal((facts.Retransmissions.C2s, facts.Retransmissions.S2c), (row.RetransmissionsClient, row.RetransmissionsServer));
            Assert.Equal(facts.RttNanos, row.RttNanos);
            if (facts.RttNanos >= 0) Assert.Equal(tcp.GetProperty("rtt").GetDouble(), row.RttMs / 1000, 9);
            // The flow view's per-direction numbers too.
            var detail = SnapshotBuilder.BuildDetail(f, row, []);
            Assert.Equal(facts.Retransmissions.C2s, detail.ClientToServer.Retransmissions);
            Assert.Equal(facts.Retransmissions.S2c, detail.ServerToClient.Retransmissions);
            checkedNumbers++;
        }
        Assert.True(checkedNumbers > 0 || a.Flows.Count == 0, $"{name}: nothing was compared");
    }

    /// <summary>Every object in <paramref name="e"/>, itself included, depth first.</summary>
    private static IEnumerable<JsonElement> Objects(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            yield return e;
            foreach (var p in e.EnumerateObject())
                foreach (var o in Objects(p.Value)) yield return o;
        }
        else if (e.ValueKind == JsonValueKind.Array)
            foreach (var x in e.EnumerateArray())
                foreach (var o in Objects(x)) yield return o;
    }
}
