using System.Text.Json.Nodes;
using PathProbe.Capture;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Reports.Records;
using PathProbe.Tests.Support;
using Record = PathProbe.Reports.Records.Record;

namespace PathProbe.Tests.Reports.Records;

/// <summary>
/// capture's records come from the engine's hooks (a flow as it leaves the table, finding events, the end), analyze's
/// from the finished analysis: on every bundled capture the live path gives the same flow and smtp records, the same
/// dns transactions (a query the capture end cut off is "pending" live: the DNS timeouts are decided after the flows
/// close), and every finding's final version, without root or an interface.
/// </summary>
public sealed class RecordFeedTests
{
    public static IEnumerable<object[]> Captures() => TestPaths.BundledCaptures().Select(f => new object[] { Path.GetFileName(f) });

    private sealed class Collect : IRecordSink
    {
        public readonly List<Record> Records = new();
        public void Write(Record record) => Records.Add(record);
    }

    private static string Json(Record r)
    {
        var sw = new StringWriter();
        new NdjsonRecordWriter(sw).Write(r);
        return sw.ToString().TrimEnd('\n');
    }

    [Theory]
    [MemberData(nameof(Captures))]
    public void LiveHooks_BundledCapture_GiveTheOfflineRecords(string name)
    {
        string path = Path.Combine(TestPaths.Captures, name);
        var scope = new RecordScope("test-host", "feed-test");

        var offline = new Collect();
        var offlineArchive = new Collect();
        new RecordFeed(scope, offline, offlineArchive).WriteAnalysis([FileAnalyzer.Analyze(path)]);

        var stream = new Collect();
        var archive = new Collect();
        var engine = new Engine(new AnalysisOptions { FindingEvents = true });
        var feed = new RecordFeed(scope, stream, archive);
        // As capture hooks it: after the engine's own close stages.
        var engineHook = engine.Flows.FlowClosing;
        engine.Flows.FlowClosing = f => { engineHook?.Invoke(f); feed.FlowClosed(f); };
        var events = new List<FindingEvent>();
        using (var source = CaptureFile.Open(path))
        {
            while (source.TryRead(out var frame))
            {
                engine.Process(frame);
                events.Clear();
                engine.TakeFindingEvents(events);
                foreach (var e in events) feed.FindingChanged(e);
            }
        }
        var analysis = engine.Complete(new InputSummary { Path = path, Format = "pcap" });
        events.Clear();
        engine.TakeFindingEvents(events);
        foreach (var e in events) feed.FindingChanged(e);
        feed.Finish(analysis);

        List<string> Of(Collect c, string type) => c.Records.Where(r => r.Table.Type == type).Select(Json).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Of(offline, "flow"), Of(stream, "flow"));
        Assert.Equal(Of(offline, "smtp"), Of(stream, "smtp"));
        Assert.Equal(Of(offline, "flow"), Of(archive, "flow"));
        var dnsOffline = offline.Records.Where(r => r.Table.Type == "dns").ToList();
        var dnsLive = stream.Records.Where(r => r.Table.Type == "dns").ToList();
        Assert.Equal(dnsOffline.Count, dnsLive.Count);
        foreach (var live in dnsLive)
        {
            var match = dnsOffline.Single(o => (string)o["uid"]! == (string)live["uid"]! && (long)o["dns_id"]! == (long)live["dns_id"]! &&
                                               Equals(o["time"], live["time"]));
            if ((string)live["outcome"]! != "pending") Assert.Equal(Json(match), Json(live));
            else Assert.Contains((string)match["outcome"]!, new[] { "timeout", "capture-ended" });
        }

        // Findings: the stream has every change (opened first), the archive each finding's final version once.
        var finalById = offline.Records.Where(r => r.Table.Type == "finding").ToDictionary(r => (long)r["id"]!);
        var liveFindings = stream.Records.Where(r => r.Table.Type == "finding").ToList();
        Assert.All(liveFindings, r => Assert.NotNull(r["change"]));
        Assert.Equal(finalById.Keys.Order(), liveFindings.Select(r => (long)r["id"]!).Distinct().Order());
        foreach (var g in liveFindings.GroupBy(r => (long)r["id"]!)) Assert.Equal("opened", (string)g.First()["change"]!);
        var archived = archive.Records.Where(r => r.Table.Type == "finding").GroupBy(r => (long)r["id"]!).ToDictionary(g => g.Key, g => g.Last());
        Assert.Equal(finalById.Keys.Order(), archived.Keys.Order());
        foreach (var (id, r) in archived)
        {
            Assert.Null(r["change"]);
            Assert.Equal((long)finalById[id]["version"]!, (long)r["version"]!);
            Assert.Equal((string)finalById[id]["summary"]!, (string)r["summary"]!);
        }
        Assert.Single(stream.Records, r => r.Table.Type == "input");
        Assert.DoesNotContain(archive.Records, r => r.Table.Type == "input"); // not a Parquet table
    }
}
