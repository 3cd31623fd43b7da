using PathProbe.Cli.Tui.Model;
using PathProbe.Findings;
using PathProbe.Findings.Kinds;
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
    public void Verdicts_Incident_StallTimesAndCeilingFromTheTypedVerdicts()
    {
        var (analysis, snapshot) = IncidentModel();
        var stall = analysis.Findings.Single(f => f.Kind == FindingKind.Stall).Verdict<StallVerdict>();
        var v = snapshot.Verdicts.Single(x => x.Kind == "stall");
        // The stall verdict's own interval, per stalled flow.
        Assert.Equal([new StallInterval(2, stall.Start.UnixNanoseconds, stall.Start.UnixNanoseconds + stall.DurationNanos)], v.Stalls);
        // The black hole's path-MTU bounds 1004..1499: nothing of 1500 bytes or more got through.
        var hole = analysis.Findings.Single(f => f.Kind == FindingKind.MtuBlackhole).Verdict<BlackHoleVerdict>();
        Assert.Equal((1004, 1499), (hole.Min, hole.Max));
        Assert.Equal(1500, snapshot.Verdicts.Single(x => x.Kind == "mtu-blackhole").Ceiling);
        Assert.All(snapshot.Verdicts.Where(x => x.Kind != "mtu-blackhole"), x => Assert.Equal(0, x.Ceiling));
        // Texts are the kinds' writers', as in the report.
        Assert.All(snapshot.Verdicts, x => Assert.Equal(SafeText.Clean(analysis.Findings[x.Index].Summary, 4000), x.Summary));
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
        Assert.Equal(stall.Stalls.Select(s => (s.Start, s.End)), plot.Stalls);
        // Without the stall verdict there is no stall on the axis, however long the silences in the timeline.
        var without = d with { Verdicts = d.Verdicts.Where(x => x.Kind != "stall").ToList() };
        Assert.Empty(Graphs.Build(GraphKind.Sequence, without, true, new TimeWindow(), 200).Stalls);
        // A stall verdict where the packets show no silence is drawn all the same: the verdict decides.
        var moved = d with { Verdicts = [stall with { Stalls = [new StallInterval(2, d.Start, d.Start + 1_000_000)] }] };
        Assert.Equal([(d.Start, d.Start + 1_000_000)], Graphs.Build(GraphKind.Sizes, moved, true, new TimeWindow(), 200).Stalls);
        // Another flow's stall in the same verdict is not drawn on this flow.
        var other = d with { Verdicts = [stall with { Stalls = [new StallInterval(1, d.Start, d.Start + 1_000_000)] }] };
        Assert.Empty(Graphs.Build(GraphKind.Sizes, other, true, new TimeWindow(), 200).Stalls);
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
    public void PacketStore_JoinedPiecesWithASelection_ListsTheAnalysedFramesNumberedAsTheWholeCapture()
    {
        // The incident cut in three pieces (frames 1-25, 26-50, 51-64), given out of order and joined as tui --join reads
        // them, with a selection that drops the middle-sized packets and stops after 30: the packet list must hold the
        // packets the analysis counted, with the whole file's frame numbers and bytes.
        string dir = Path.Combine(Path.GetTempPath(), $"pathprobe-tui-join-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var pieces = new[] { "a.pcapng", "b.pcapng", "c.pcapng" }.Select(n => Path.Combine(dir, n)).ToArray();
            using (var source = PathProbe.Capture.CaptureFile.Open(File.OpenRead(Incident), Incident))
            {
                long n = 0;
                PathProbe.Capture.PcapNgWriter? writer = null;
                int itf = 0;
                while (source.TryRead(out var frame))
                {
                    if (n is 0 or 25 or 50)
                    {
                        writer?.Dispose();
                        writer = PathProbe.Capture.PcapNgWriter.Create(pieces[n / 25]);
                        itf = writer.AddInterface(frame.LinkType);
                    }
                    writer!.WritePacket(itf, frame.Time, frame.Data, frame.OriginalLength);
                    n++;
                }
                writer?.Dispose();
            }
            var input = new AnalysisInput { Paths = [pieces[2], pieces[0], pieces[1]], JoinReason = AnalysisInput.Requested };
            var selection = new PacketSelection { Filter = new SmallOrLarge(), Count = 30 };
            var analysis = FileAnalyzer.Analyze(input, new AnalysisOptions { Timelines = true }, selection);
            var snapshot = FileTuiSource.FromAnalysis(analysis, "joined");
            var whole = new PacketStoreInfo(Incident, false);
            var joined = new PacketStoreInfo(pieces[2], false) { Files = input.Paths, Selection = selection };
            foreach (var row in snapshot.Rows)
            {
                var d = FileTuiSource.Detail(analysis, snapshot, row.Id)!;
                var list = PacketStore.Scan(joined, d);
                Assert.Null(list.Error);
                Assert.Equal(d.Row.Packets, list.Packets.Count);
                var all = PacketStore.Scan(whole, d).Packets.ToDictionary(p => p.Number);
                foreach (var p in list.Packets)
                {
                    Assert.True(SmallOrLarge.Keeps(p.WireLength), $"frame {p.Number} was not analysed");
                    Assert.Equal(input.Paths.ToList().IndexOf(pieces[(int)(p.Number - 1) / 25]), p.File);
                    Assert.Equal(PacketStore.Read(whole, all[p.Number]), PacketStore.Read(joined, p));
                }
            }
            Assert.True(analysis.Input.Selection!.StoppedAtCount);
            Assert.Equal(30, snapshot.Rows.Sum(r => r.Packets)); // of the 37 the filter keeps
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>Frames under 70 or of 1000 bytes or more on the wire (less 70 and greater 1000).</summary>
    private sealed class SmallOrLarge : IFrameFilter
    {
        public static bool Keeps(int wireLength) => wireLength < 70 || wireLength >= 1000;
        public string Expression => "less 69 or greater 1000";
        public bool Matches(in PathProbe.Capture.RawFrame frame) => Keeps(frame.OriginalLength);
        public IReadOnlyList<string> TakeProblems() => [];
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
