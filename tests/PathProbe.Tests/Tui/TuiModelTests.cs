using PathProbe.Cli.Tui.Model;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Tests.Support;
using static PathProbe.Tests.Tui.TuiTestSupport;

namespace PathProbe.Tests.Tui;

/// <summary>The TUI's model without a screen: verdicts, the flow query, the graphs, the packet store.</summary>
public sealed class TuiModelTests
{
    private static (CaptureAnalysis Analysis, TuiSnapshot Snapshot) IncidentModel()
    {
        var analysis = FileAnalyzer.Analyze(Incident, new AnalysisOptions { Timelines = true });
        return (analysis, FileTuiSource.FromAnalysis(analysis, "incident"));
    }

    [Fact]
    public void Verdicts_Incident_StallTimesAndCeilingFromTheFindings()
    {
        var (analysis, snapshot) = IncidentModel();
        var stall = analysis.Findings.Single(f => f.Kind == "stall");
        var v = snapshot.Verdicts.Single(x => x.Kind == "stall");
        var start = (Timestamp)stall.Evidence.First(e => e.Key == "start").Value!;
        double seconds = (double)stall.Evidence.First(e => e.Key == "durationSeconds").Value!;
        Assert.Equal(start.UnixNanoseconds, v.StallStart);
        Assert.Equal(start.UnixNanoseconds + (long)Math.Round(seconds * 1e9), v.StallEnd);
        // pathMtu 1004..1499: nothing of 1500 bytes or more got through.
        Assert.Equal(1500, snapshot.Verdicts.Single(x => x.Kind == "mtu-blackhole").Ceiling);
        Assert.All(snapshot.Verdicts.Where(x => x.Kind != "mtu-blackhole"), x => Assert.Equal(0, x.Ceiling));
        var groups = snapshot.Groups;
        Assert.Equal(5, groups.Count);
        Assert.Equal(Severity.Critical, groups[0].Worst);
        Assert.All(groups, g => Assert.Equal("203.0.113.25", g.Peer));
    }

    [Fact]
    public void Graphs_StallsComeFromTheVerdicts_NotFromSilence()
    {
        var (analysis, snapshot) = IncidentModel();
        var d = FileTuiSource.Detail(analysis, snapshot, 2)!;
        var plot = Graphs.Build(GraphKind.Sequence, d, true, new TimeWindow(), 200);
        var stall = snapshot.Verdicts.Single(x => x.Kind == "stall");
        Assert.Equal([(stall.StallStart, stall.StallEnd)], plot.Stalls);
        // Without the stall verdict there is no stall on the axis, however long the silences in the timeline.
        var without = d with { Verdicts = d.Verdicts.Where(x => x.Kind != "stall").ToList() };
        Assert.Empty(Graphs.Build(GraphKind.Sequence, without, true, new TimeWindow(), 200).Stalls);
        // A stall verdict where the packets show no silence is drawn all the same: the verdict decides.
        var moved = d with { Verdicts = [stall with { StallStart = d.Start, StallEnd = d.Start + 1_000_000 }] };
        Assert.Equal([(d.Start, d.Start + 1_000_000)], Graphs.Build(GraphKind.Sizes, moved, true, new TimeWindow(), 200).Stalls);
    }

    [Fact]
    public void Graphs_Incident_SmtpStepsSizesAndResends()
    {
        var (analysis, snapshot) = IncidentModel();
        var d = FileTuiSource.Detail(analysis, snapshot, 2)!;
        Assert.Equal("GEMRD3", new string(d.Marks.Select(m => m.Symbol).ToArray()));
        var sizes = Graphs.Build(GraphKind.Sizes, d, true, new TimeWindow(), 200);
        Assert.Contains(sizes.Rules, r => r.Ink == Ink.Ceiling && r.Y == 1500);
        Assert.Contains(sizes.Rules, r => r.Ink == Ink.Mss && r.Y == 1500); // MSS 1460 + 40 bytes of IPv4 and TCP headers
        // The black hole: full-size packets resent at or above the ceiling; 1004-byte packets get through below it.
        Assert.Contains(sizes.Dots, p => p.Ink == Ink.Resent && p.High >= 1500);
        Assert.Contains(sizes.Dots, p => p.Ink == Ink.Data && p.High == 1004);
        var seq = Graphs.Build(GraphKind.Sequence, d, true, new TimeWindow(), 200);
        Assert.Contains(seq.Bars, b => b.Ink == Ink.Resent && b.Low == 93 && b.High == 1541);
        Assert.Contains(seq.Bars, b => b.Ink == Ink.Sack && b.Low == 7333 && b.High == 8285); // the 1004-byte segment got through, SACKed
        Assert.Contains(seq.Steps, s => s.Ink == Ink.Ack && s.Points.Max(p => p.Y) == 93);
        Assert.Contains(seq.Steps, s => s.Ink == Ink.Window);
        var rtt = Graphs.Build(GraphKind.Rtt, d, true, new TimeWindow(), 200);
        Assert.Contains(rtt.Rules, r => r.Ink == Ink.Median && Math.Abs(r.Y - d.ClientToServer.RttMedianMs) < 1e-9);
        Assert.NotEmpty(rtt.Dots);
        var tput = Graphs.Build(GraphKind.Throughput, d, true, new TimeWindow(), 200);
        // Everything the client sent, resends included, is in the bars.
        double bits = tput.Bars.Sum(b => b.High) * ((d.End - d.Start) / 200.0 / 1e9);
        Assert.Equal(d.Points.Sum(p => (double)p.ClientToServer.PayloadBytes) * 8, bits, 6);
    }

    [Fact]
    public void TimeWindow_ZoomAtAnchorAndPanStayInsideTheFlow()
    {
        var w = new TimeWindow();
        w.ZoomBy(4, anchor: 1);
        Assert.Equal(4, w.Zoom);
        Assert.Equal(0.75, w.Pan, 9);
        w.PanBy(1);
        Assert.Equal(0.75, w.Pan, 9);
        w.PanBy(-10);
        Assert.Equal(0, w.Pan);
        w.ZoomBy(0.01);
        Assert.Equal(1, w.Zoom);
        var (from, to) = w.Range(1_000_000_000, 3_000_000_000);
        Assert.Equal((1_000_000_000L, 3_000_000_000L), (from, to));
    }

    [Fact]
    public void Query_FilterFieldsAndSortByEveryColumn()
    {
        var (_, snapshot) = IncidentModel();
        var q = new FlowQuery();
        q.SetRows(snapshot.Rows);
        Assert.Equal([2, 1], q.Visible.Select(r => r.Id));
        q.SetFilter(new FlowFilter { Port = 56552 });
        Assert.Equal([1], q.Visible.Select(r => r.Id));
        q.SetFilter(new FlowFilter { Host = "203.0.113", Kind = "blackhole" });
        Assert.Equal([2], q.Visible.Select(r => r.Id));
        q.SetFilter(new FlowFilter { Application = "client.example" });
        Assert.Equal(2, q.Visible.Count);
        q.SetFilter(new FlowFilter { Text = "closed" });
        Assert.Equal([1], q.Visible.Select(r => r.Id));
        q.SetFilter(new FlowFilter { Flows = new HashSet<int> { 1 } });
        Assert.Equal([1], q.Visible.Select(r => r.Id));
        q.SetFilter(FlowFilter.None);
        for (int c = 0; c < FlowColumns.All.Length; c++)
        {
            q.SortBy(c);
            var first = q.Visible.Select(r => r.Id).ToList();
            q.SortBy(c);
            var reversed = q.Visible.Select(r => r.Id).ToList();
            Assert.Equal(2, first.Count);
            if (FlowColumns.All[c].Compare(snapshot.Rows[0], snapshot.Rows[1]) != 0) Assert.Equal(first, Enumerable.Reverse(reversed));
        }
    }

    [SkippableFact]
    public void PacketStore_FindsTheSamePacketsAsWiresharkWithTheFilter()
    {
        string? tshark = TestPaths.Tool("tshark");
        Skip.If(tshark is null, "tshark is not installed (scripts/test.sh installs it)");
        foreach (string name in new[] { "smtp-mru1424-sender.pcap", "smtp-icmp-too-big-ipv4.pcap", "smtp-icmp-too-big-ipv6.pcap", "dns-tcp-and-truncated.pcap" })
        {
            string path = Path.Combine(TestPaths.Captures, name);
            var analysis = FileAnalyzer.Analyze(path, new AnalysisOptions { Timelines = true });
            var snapshot = FileTuiSource.FromAnalysis(analysis, name);
            foreach (var row in snapshot.Rows.Take(6))
            {
                var d = FileTuiSource.Detail(analysis, snapshot, row.Id)!;
                var list = PacketStore.Scan(new PacketStoreInfo(path, false), d);
                Assert.Null(list.Error);
                // Wireshark's frame numbers for the filter, within the flow's time span (ICMP errors up to 5 s after).
                string fields = TestPaths.RunTool(tshark!, "-r", path, "-Y", d.WiresharkFilter, "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch", "-e", "icmp.type", "-e", "icmpv6.type");
                var expected = new List<long>();
                foreach (var line in fields.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    var f = line.Split('\t');
                    long t = (long)(decimal.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture) * 1_000_000_000m);
                    bool icmp = f.Length > 2 && (f[2].Length > 0 || (f.Length > 3 && f[3].Length > 0));
                    if (t >= d.Start && t <= (icmp ? d.End + 5_000_000_000 : d.End)) expected.Add(long.Parse(f[0]));
                }
                Assert.True(expected.Count > 0, $"{name} flow {row.Id}: tshark found nothing with {d.WiresharkFilter}");
                Assert.Equal(expected, list.Packets.Select(p => p.Number));
            }
        }
    }

    [Fact]
    public void PacketStore_ReadsEachPacketBackByOffset_FromPlainAndGzipFiles()
    {
        var (analysis, snapshot) = IncidentModel();
        var d = FileTuiSource.Detail(analysis, snapshot, 2)!;
        var list = PacketStore.Scan(new PacketStoreInfo(Incident, false), d);
        Assert.Equal(d.Row.Packets, list.Packets.Count);
        string gz = Path.Combine(Path.GetTempPath(), $"pathprobe-tui-{Environment.ProcessId}.pcap.gz");
        try
        {
            using (var src = File.OpenRead(Incident))
            using (var dst = new System.IO.Compression.GZipStream(File.Create(gz), System.IO.Compression.CompressionLevel.Fastest))
                src.CopyTo(dst);
            var zipped = PacketStore.Scan(new PacketStoreInfo(gz, false), d);
            Assert.Equal(list.Packets, zipped.Packets);
            foreach (var p in list.Packets)
            {
                var a = PacketStore.Read(new PacketStoreInfo(Incident, false), p);
                var b = PacketStore.Read(new PacketStoreInfo(gz, false), p);
                Assert.Equal(a, b);
                Assert.Equal(p.CapturedLength, a.Length);
                var lines = PacketDissector.Dissect(p, a, d);
                Assert.Contains(lines, l => l.StartsWith("TCP ", StringComparison.Ordinal) || l.StartsWith("ICMP", StringComparison.Ordinal));
            }
        }
        finally { File.Delete(gz); }
    }

    [Fact]
    public void Dissector_IcmpTooBig_ShowsTheQuotedHeader()
    {
        string path = Path.Combine(TestPaths.Captures, "smtp-icmp-too-big-ipv4.pcap");
        var analysis = FileAnalyzer.Analyze(path, new AnalysisOptions { Timelines = true });
        var snapshot = FileTuiSource.FromAnalysis(analysis, "x");
        foreach (var row in snapshot.Rows.Where(r => r.Protocol == "tcp"))
        {
            var d = FileTuiSource.Detail(analysis, snapshot, row.Id)!;
            var list = PacketStore.Scan(new PacketStoreInfo(path, false), d);
            var icmp = list.Packets.Where(p => p.Icmp).ToList();
            if (icmp.Count == 0) continue;
            var lines = PacketDissector.Dissect(icmp[0], PacketStore.Read(new PacketStoreInfo(path, false), icmp[0]), d);
            Assert.Contains(lines, l => l.Contains("fragmentation needed") && l.Contains("MTU "));
            Assert.Contains(lines, l => l.StartsWith("  quoted: IPv4 ", StringComparison.Ordinal) && l.Contains($"ports {row.ClientPort} → {row.ServerPort}"));
            return;
        }
        Assert.Fail("no ICMP error matched a flow in the capture");
    }

    [Fact]
    public void WiresharkFilter_NamesBothEndpoints()
    {
        var (analysis, snapshot) = IncidentModel();
        var d = FileTuiSource.Detail(analysis, snapshot, 2)!;
        Assert.Equal("ip.addr==198.51.100.10 && tcp.port==37672 && ip.addr==203.0.113.25 && tcp.port==25", d.WiresharkFilter);
    }
}
