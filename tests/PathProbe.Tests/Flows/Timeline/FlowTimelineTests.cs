using PathProbe.Decoding;
using PathProbe.Flows;
using PathProbe.Flows.Tcp;
using PathProbe.Flows.Timeline;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Flows.Timeline;

public sealed class FlowTimelineTests
{
    private sealed class PhaseApp : IFlowApplication
    {
        public string? Phase { get; set; }
        public PathProbe.Findings.SmtpPosition? Position => null;
    }

    private static readonly IpAddress C = IpAddress.Parse("198.51.100.10"), S = IpAddress.Parse("203.0.113.25");
    private const long Base = 1_790_000_000_000_000_000;

    private static DecodedPacket Packet(bool fromClient, uint seq, uint ack, int len, long ms, TcpFlags flags = TcpFlags.Ack) => new()
    {
        Time = new Timestamp(Base + ms * 1_000_000), IpVersion = 4, Protocol = IpProtocols.Tcp,
        Src = fromClient ? C : S, Dst = fromClient ? S : C, SrcPort = fromClient ? (ushort)40000 : (ushort)25, DstPort = fromClient ? (ushort)25 : (ushort)40000,
        Seq = seq, Ack = ack, TcpFlags = flags, Window = 65535, PayloadWireLength = len, IpPacketLength = 40 + len, WireLength = 54 + len,
    };

    private static Flow Feed(FlowTable table, TimelineRecorder rec, DecodedPacket p, TcpAnalysisFlags a = 0)
    {
        var flow = table.Update(ref p, out bool fromClient)!;
        rec.Record(flow, fromClient, ref p, a);
        return flow;
    }

    [Fact]
    public void Record_ManyPackets_StaysBoundedAndKeepsTotals()
    {
        var table = new FlowTable();
        var rec = new TimelineRecorder(16);
        Flow flow = Feed(table, rec, Packet(true, 1000, 0, 0, 0, TcpFlags.Syn));
        Feed(table, rec, Packet(false, 5000, 1001, 0, 1, TcpFlags.Syn | TcpFlags.Ack));
        for (int i = 0; i < 1000; i++)
        {
            Feed(table, rec, Packet(true, 1001 + (uint)i * 100, 5001, 100, 2 + i), i % 10 == 0 ? TcpAnalysisFlags.Retransmission : 0);
            Feed(table, rec, Packet(false, 5001, 1001 + (uint)(i + 1) * 100, 0, 2 + i));
        }
        var tl = flow.Timeline!;
        Assert.True(tl.Count <= 16, $"{tl.Count} points");
        Assert.True(tl.PacketsPerPoint > 1);
        long packets = 0, data = 0, retr = 0; uint maxSeq = 0, maxAck = 0;
        foreach (var p in tl.Points)
        {
            packets += p.Packets; data += p.ClientToServer.DataSegments; retr += p.ClientToServer.Retransmissions;
            maxSeq = Math.Max(maxSeq, p.ClientToServer.SeqHigh); maxAck = Math.Max(maxAck, p.ClientToServer.AckHigh);
        }
        Assert.Equal(flow.Packets, packets);
        Assert.Equal(1000, data);
        Assert.Equal(100, retr);
        Assert.Equal(1u + 1000 * 100, maxSeq);
        Assert.Equal(1u + 1000 * 100, maxAck);
        for (int i = 1; i < tl.Count; i++) Assert.True(tl.Points[i].Start >= tl.Points[i - 1].End);
    }

    [Fact]
    public void Record_SilenceOfASecond_StartsNewPointEvenWhenMerging()
    {
        var table = new FlowTable();
        var rec = new TimelineRecorder(4);
        Flow flow = Feed(table, rec, Packet(true, 1000, 0, 0, 0, TcpFlags.Syn));
        for (int i = 0; i < 8; i++) Feed(table, rec, Packet(true, 1001 + (uint)i * 10, 0, 10, 1 + i));
        Feed(table, rec, Packet(true, 1081, 0, 10, 5000));
        var last = flow.Timeline!.Points[^1];
        Assert.Equal(Base + 5000L * 1_000_000, last.Start);
        Assert.Equal(1, last.Packets);
    }

    [Fact]
    public void Record_PhaseChanges_RecordedOncePerChange()
    {
        var table = new FlowTable();
        var rec = new TimelineRecorder(64);
        var app = new PhaseApp();
        Flow flow = Feed(table, rec, Packet(true, 1000, 0, 0, 0, TcpFlags.Syn));
        flow.App = app;
        string[] sequence = ["greeting", "greeting", "ehlo", "mail", "mail", "data", "data", "end-of-data"];
        for (int i = 0; i < sequence.Length; i++)
        {
            app.Phase = sequence[i];
            Feed(table, rec, Packet(true, 1001, 0, 0, 10 + i));
        }
        var phases = flow.Timeline!.Phases.ToArray();
        Assert.Equal(["greeting", "ehlo", "mail", "data", "end-of-data"], phases.Select(p => p.Phase));
        Assert.Equal(Base + 15L * 1_000_000, phases[3].Time);
    }

    [Fact]
    public void Engine_TimelinesOption_OffByDefaultOnWhenAsked()
    {
        string path = Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap");
        var off = FileAnalyzer.Analyze(path);
        Assert.All(off.Flows, f => Assert.Null(f.Timeline));
        var on = FileAnalyzer.Analyze(path, new AnalysisOptions { Timelines = true });
        var stalled = on.Flows.Single(f => f.Id == 2);
        var tl = stalled.Timeline!;
        Assert.Equal(stalled.Id, tl.FlowId);
        Assert.Equal(stalled.Packets, tl.Points.ToArray().Sum(p => (long)p.Packets));
        Assert.Equal(stalled.Tcp!.Client.Counters.Retransmissions, tl.Points.ToArray().Sum(p => (long)p.ClientToServer.Retransmissions));
        Assert.Equal(stalled.ClientToServer.MaxIpPacket, tl.Points.ToArray().Max(p => (int)p.ClientToServer.MaxIpPacket));
    }

    [Fact]
    public void Record_WindowSackResendsAndPayload_OfThePeersData()
    {
        var table = new FlowTable();
        var rec = new TimelineRecorder(64);
        Flow flow = Feed(table, rec, Packet(true, 1000, 0, 0, 0, TcpFlags.Syn));
        Feed(table, rec, Packet(false, 5000, 1001, 0, 1, TcpFlags.Syn | TcpFlags.Ack));
        Feed(table, rec, Packet(true, 1001, 5001, 100, 2));
        Feed(table, rec, Packet(true, 1101, 5001, 100, 2), TcpAnalysisFlags.Retransmission);
        // The server acknowledges 1101 with a window of 1000 and SACKs 1201-1301 (relative 201-301).
        var ack = Packet(false, 5001, 1101, 0, 3);
        ack.Window = 1000;
        ack.TcpOptions.SackBlockCount = 1;
        ack.TcpOptions.Sack[0] = 1201;
        ack.TcpOptions.Sack[1] = 1301;
        Feed(table, rec, ack);
        var pts = flow.Timeline!.Points.ToArray();
        var c2s = pts.Select(p => p.ClientToServer).ToArray();
        Assert.Equal(200u, c2s.Sum(d => (long)d.PayloadBytes));
        Assert.Equal(140, c2s.Max(d => (int)d.MaxResentIpPacket));
        Assert.Equal(101u + 1000u, c2s[^1].WindowEdge); // no window scaling without the option on both SYNs
        Assert.Equal(1u + 65535u, c2s[1].WindowEdge);   // the SYN-ACK's window, never scaled
        Assert.Equal((201u, 301u), (c2s.Single(d => d.SackHigh > 0).SackLow, c2s.Single(d => d.SackHigh > 0).SackHigh));
        Assert.Equal(0, pts.Sum(p => (long)p.ServerToClient.PayloadBytes));
    }

    [Fact]
    public void Engine_Timelines_RttSamplesAreTheAnalyzers()
    {
        string path = Path.Combine(TestPaths.Captures, "smtp-healthy-ipv4.pcap");
        var on = FileAnalyzer.Analyze(path, new AnalysisOptions { Timelines = true });
        foreach (var f in on.Flows.Where(f => f.Tcp is not null))
        {
            var pts = f.Timeline!.Points.ToArray();
            // Every sample the analyzer took shows in some point (merged points keep the largest).
            Assert.Equal(f.Tcp!.Client.Rtt.MaxNanos / 1000, pts.Max(p => (long)p.ClientToServer.RttMaxMicros));
            Assert.True(pts.Count(p => p.ClientToServer.RttMaxMicros > 0) <= f.Tcp.Client.Rtt.Count);
        }
    }

    [Fact]
    public void Record_SteadyState_AllocatesNothing()
    {
        var table = new FlowTable();
        var rec = new TimelineRecorder(16);
        Flow flow = Feed(table, rec, Packet(true, 1000, 0, 0, 0, TcpFlags.Syn));
        Feed(table, rec, Packet(false, 5000, 1001, 0, 1, TcpFlags.Syn | TcpFlags.Ack));
        for (int i = 0; i < 100; i++) Feed(table, rec, Packet(true, 1001 + (uint)i * 100, 5001, 100, 2 + i));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 100; i < 10_000; i++)
        {
            var p = Packet(i % 2 == 0, 1001 + (uint)i * 100, 5001, i % 2 == 0 ? 100 : 0, 2 + i);
            var f = table.Update(ref p, out bool fromClient)!;
            rec.Record(f, fromClient, ref p, i % 7 == 0 ? TcpAnalysisFlags.Retransmission : 0);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(flow.Timeline!.Count <= 16);
    }
}
