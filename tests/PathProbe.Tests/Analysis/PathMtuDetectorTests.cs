using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using PathProbe.Findings;
using PathProbe.Findings.Kinds;
using PathProbe.Pipeline;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Analysis;

/// <summary>Path-MTU diagnosis: the bundled real captures (what must and must not be found, and that the true MTU of
/// the narrowest hop lies inside the reported range), and simulated transfers over paths of every MTU.</summary>
public sealed class PathMtuDetectorTests
{
    private static (int Min, int Max) Range(Finding f)
    {
        var v = f.Verdict<BlackHoleVerdict>();
        return (v.Min, v.Max);
    }

    private static List<Finding> Analyze(string name) => FileAnalyzer.Analyze(Path.Combine(TestPaths.Captures, name)).Findings.ToList();

    // The veth model of "MRU 1424" admits IP packets up to 1428 bytes (captures/README.md, "Effective MRU"): both the
    // nominal and the effective limit must be inside the range.
    [Theory]
    [InlineData("smtp-mru1424-sender.pcap", "sender", new[] { 1424, 1428 }, false)]
    [InlineData("smtp-mru1424-receiver.pcap", "receiver", new[] { 1424, 1428 }, false)]
    [InlineData("smtp-mru1424-probing-sender.pcap", "sender", new[] { 1428 }, true)]
    [InlineData("smtp-icmp-filtered.pcap", "sender", new[] { 1400 }, false)]
    [InlineData("smtp-retrans-storm-blackhole.pcap", "sender", new[] { 1424, 1428 }, false)]
    public void BlackHoleCapture_ReportsRangeContainingTrueMtu(string capture, string vantage, int[] trueMtus, bool recovered)
    {
        var findings = Analyze(capture);
        var hole = Assert.Single(findings, f => f.Name == "mtu-blackhole");
        var (min, max) = Range(hole);
        foreach (int mtu in trueMtus) Assert.InRange(mtu, min, max);
        var v = hole.Verdict<BlackHoleVerdict>();
        Assert.Equal(vantage == "receiver", v.ReceiverVantage);
        Assert.Equal(recovered, v.AllRecovered);
        Assert.False(v.IcmpSeen);
        Assert.Equal(recovered ? Severity.Warning : Severity.Critical, hole.Severity);
        Assert.Contains(findings, f => f.Name == "mss-mismatch");
        Assert.False(hole.Ongoing);
        Assert.Contains("tcp_mtu_probing", hole.Advice);
        // The fix clamps the MSS the peer advertises (at the sender) or this host's own SYN-ACK (at the receiver).
        Assert.Contains(vantage == "sender" ? "hook prerouting" : "hook output", BlackHoleWriter.FixCommand(v));
        Assert.Contains("tcp option maxseg size set", BlackHoleWriter.FixCommand(v));
        Assert.Contains("pathprobe probe", hole.Advice);
    }

    [Fact]
    public void Incident_SenderSide_NamesSizesResendsAndTimeLost()
    {
        var hole = Analyze("smtp-mru1424-sender.pcap").Single(f => f.Name == "mtu-blackhole");
        Assert.Equal(new[] { 2 }, hole.Flows);
        var v = hole.Verdict<BlackHoleVerdict>();
        Assert.Equal(1004, v.Min);
        Assert.Equal(1500, v.LostSize);
        Assert.InRange(v.TimeLostNanos / 1e9, 26, 27.5);
        Assert.Equal(Confidence.High, v.Confidence);
        // The resends of the lost packet are the flow's own (its longest retransmission series): 8, as in the stall.
        Assert.Equal(8, v.Resends);
        Assert.Contains("1,500-byte packets from 198.51.100.10 never arrive (resent 8 times", hole.Summary);
        Assert.Contains("between 1,004 and 1,499 bytes", hole.Summary);
    }

    [Fact]
    public void Probing_RecoveryReportsTimeLostAndSizeThatGotThrough()
    {
        var hole = Analyze("smtp-mru1424-probing-sender.pcap").Single(f => f.Name == "mtu-blackhole");
        var v = hole.Verdict<BlackHoleVerdict>();
        Assert.Equal(1090 - 14, v.Details[0].RecoveredSize); // 1090-byte frames, IP 1076
        Assert.Equal(1426, v.Details[0].SettledAt);          // 1440-byte frames
        Assert.InRange(v.TimeLostNanos / 1e9, 3.0, 3.3);
        Assert.Contains("recovered after", hole.Summary);
    }

    [Fact]
    public void ReceiverSide_SaysTheDropIsUpstream()
    {
        var hole = Analyze("smtp-mru1424-receiver.pcap").Single(f => f.Name == "mtu-blackhole");
        Assert.Contains("upstream", hole.Summary);
        Assert.Contains("7,240 bytes (5 full-size segments)", hole.Summary);
        Assert.Equal(1500, hole.Verdict<BlackHoleVerdict>().LostSize);
    }

    [Fact]
    public void ManySenders_OneFindingListsEveryFlow()
    {
        var findings = Analyze("smtp-retrans-storm-blackhole.pcap");
        var hole = Assert.Single(findings, f => f.Name == "mtu-blackhole");
        Assert.Equal(Enumerable.Range(1, 8), hole.Flows);
        Assert.Equal(8, hole.Verdict<BlackHoleVerdict>().Senders.Count);
        Assert.Contains("All 8 flows stall at their first full-size segment", hole.Summary);
        var storm = Assert.Single(findings, f => f.Name == "retransmission-storm");
        Assert.Equal(StormClass.PathFault, storm.Verdict<StormVerdict>().Class);
        // Grouped by kind and peer: one stall finding and one smtp-aborted finding list the eight flows.
        Assert.Equal(Enumerable.Range(1, 8), Assert.Single(findings, f => f.Name == "stall").Flows);
        Assert.Equal(Enumerable.Range(1, 8), Assert.Single(findings, f => f.Name == "smtp-aborted").Flows);
    }

    [Fact]
    public void ReceiverSide_Live_SilentHoleReportedWhenTimePassesWithoutPackets()
    {
        // A live capture on the receiving server: after the hole nothing arrives any more. Engine.Idle (called by
        // the capture loop on the wall clock) lets the hole age, so the black hole is reported while capturing.
        var engine = new Engine();
        long last = 0;
        using (var source = PathProbe.Capture.CaptureFile.Open(Path.Combine(TestPaths.Captures, "smtp-mru1424-receiver.pcap")))
            while (source.TryRead(out var frame)) { engine.Process(frame); last = frame.Time.UnixNanoseconds; }
        Assert.DoesNotContain(engine.Findings, f => f.Name == "mtu-blackhole"); // the file ends right after the hole opened
        engine.Idle(last + 1_000_000_000);
        Assert.DoesNotContain(engine.Findings, f => f.Name == "mtu-blackhole"); // 1 s: not yet (HoleTimeout 3 s)
        engine.Idle(last + 4_000_000_000);
        var hole = Assert.Single(engine.Findings, f => f.Name == "mtu-blackhole");
        Assert.True(hole.Verdict<BlackHoleVerdict>().ReceiverVantage);
        Assert.True(hole.Ongoing); // the flow is still open: the black hole is ongoing
        Assert.InRange(1428, Range(hole).Min, Range(hole).Max);
    }

    [Theory]
    [InlineData("smtp-icmp-too-big-ipv4.pcap", "198.51.100.1")]
    [InlineData("smtp-icmp-too-big-ipv6.pcap", "2001:db8:1::1")]
    public void WorkingPmtud_IcmpTooBigObeyed_NoBlackHoleNoStorm(string capture, string hop)
    {
        var findings = Analyze(capture);
        var icmp = Assert.Single(findings, f => f.Name == "icmp-too-big");
        var v = icmp.Verdict<IcmpTooBigVerdict>();
        Assert.Equal(1400, v.Mtu);
        Assert.Equal(hop, v.Hop.ToString());
        Assert.True(v.Obeyed);
        Assert.Equal(5, v.Messages);
        Assert.Equal(Severity.Info, icmp.Severity);
        Assert.DoesNotContain(findings, f => f.Name is "mtu-blackhole" or "retransmission-storm" or "mss-mismatch");
    }

    [Theory]
    [InlineData("smtp-healthy-ipv4.pcap")]
    [InlineData("smtp-healthy-ipv6.pcap")]
    [InlineData("smtp-random-loss.pcap")]
    [InlineData("smtp-zero-window.pcap")]
    [InlineData("tcp-connect-timeout.pcap")]
    public void Controls_NoBlackHole(string capture)
    {
        var findings = Analyze(capture);
        Assert.DoesNotContain(findings, f => f.Name is "mtu-blackhole" or "mss-mismatch" or "icmp-too-big");
    }

    // ---- simulated paths ----------------------------------------------------------------------------------------

    [Property(MaxTest = 150)]
    public Property SenderVantage_RangeContainsTrueMtu() =>
        Prop.ForAll(Arb.From(Gen.Choose(600, 1499)), Arb.From(Gen.Elements(true, false)), Arb.From(Gen.Elements(true, false)),
            (mtu, probing, shortSegment) =>
            {
                var findings = new PathMtuSimulation { TrueMtu = mtu, Probing = probing, ShortSegmentInFlight = shortSegment, MessageBytes = 60_000 }.Run();
                var holes = findings.Where(f => f.Name == "mtu-blackhole").ToList();
                if (holes.Count != 1) return false.Label($"expected one mtu-blackhole, got {holes.Count}");
                var (min, max) = Range(holes[0]);
                return (min <= mtu && mtu <= max).Label($"true MTU {mtu} outside {min}..{max}");
            });

    [Property(MaxTest = 100)]
    public Property ReceiverVantage_RangeContainsTrueMtu() =>
        Prop.ForAll(Arb.From(Gen.Choose(600, 1499)), Arb.From(Gen.Elements(true, false)), (mtu, probing) =>
        {
            var findings = new PathMtuSimulation { TrueMtu = mtu, Probing = probing, AtReceiver = true, MessageBytes = 60_000 }.Run();
            var holes = findings.Where(f => f.Name == "mtu-blackhole").ToList();
            // The receiver can only see a hole when something smaller arrived beyond it (here: the short segment,
            // when it fits the path).
            if (mtu < 952 + 40) return (holes.Count <= 1).Label("at most one finding");
            if (holes.Count != 1) return false.Label($"expected one mtu-blackhole, got {holes.Count}");
            var (min, max) = Range(holes[0]);
            return (min <= mtu && mtu <= max && holes[0].Verdict<BlackHoleVerdict>().ReceiverVantage).Label($"true MTU {mtu} outside {min}..{max}");
        });

    [Fact]
    public void FullMtuPath_NoFinding()
    {
        Assert.DoesNotContain(new PathMtuSimulation { TrueMtu = 1500 }.Run(), f => f.Name is "mtu-blackhole" or "mss-mismatch");
        Assert.DoesNotContain(new PathMtuSimulation { TrueMtu = 1500, AtReceiver = true }.Run(), f => f.Name is "mtu-blackhole" or "mss-mismatch");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void RandomLossOnFullMtuPath_NoBlackHole(int seed)
    {
        foreach (bool atReceiver in new[] { false, true })
        {
            var findings = new PathMtuSimulation { TrueMtu = 1500, RandomLoss = 0.05, Seed = seed, AtReceiver = atReceiver }.Run();
            Assert.DoesNotContain(findings, f => f.Name == "mtu-blackhole");
        }
    }

    [Fact]
    public void Probing_RecoveryIsReported()
    {
        var findings = new PathMtuSimulation { TrueMtu = 1300, Probing = true, MessageBytes = 200_000 }.Run();
        var hole = Assert.Single(findings, f => f.Name == "mtu-blackhole");
        Assert.True(hole.Verdict<BlackHoleVerdict>().AllRecovered);
        Assert.Equal(Severity.Warning, hole.Severity);
        var (min, max) = Range(hole);
        Assert.InRange(1300, min, max);
    }

    [Fact]
    public void LiveCapture_BlackHoleReportedWhileTheFlowStalls_FinalVersionReplacesIt()
    {
        var sim = new PathMtuSimulation { TrueMtu = 1400, MessageBytes = 60_000 };
        var findings = sim.Run();
        var early = Assert.Single(sim.ReportedBeforeEnd, f => f.Name == "mtu-blackhole");
        Assert.True(early.Ongoing);
        Assert.StartsWith("ONGOING: ", early.Summary);
        var final = Assert.Single(findings, f => f.Name == "mtu-blackhole");
        Assert.Equal(early.Id, final.Id); // the same finding, its final version
        Assert.True(final.Version > early.Version);
        Assert.False(final.Ongoing);
        Assert.InRange(1400, Range(final).Min, Range(final).Max);
    }
}

/// <summary>Hand-made packet sequences for what the bundled captures do not show: offload artifacts and an ignored
/// ICMP too-big.</summary>
public sealed class PathMtuDetectorSyntheticTests
{
    private const long Base = 1_790_000_000_000_000_000;
    private static readonly PathProbe.Primitives.IpAddress C = PathProbe.Primitives.IpAddress.Parse("198.51.100.10");
    private static readonly PathProbe.Primitives.IpAddress S = PathProbe.Primitives.IpAddress.Parse("203.0.113.25");
    private static readonly PathProbe.Primitives.IpAddress Hop = PathProbe.Primitives.IpAddress.Parse("198.51.100.1");

    private sealed class Rig
    {
        public readonly PathProbe.Flows.FlowTable Table = new();
        public readonly PathProbe.Analysis.Tcp.TcpAnalyzer Tcp = new();
        public readonly FindingLog Log = new();
        public readonly PathProbe.Analysis.Mtu.PathMtuDetector Mtu;
        public long Now = Base;

        public Rig()
        {
            Mtu = new(new PathProbe.Analysis.Mtu.PathMtuOptions(), Log);
            Table.FlowClosing = f => Mtu.FlowClosing(f, Now);
        }

        public void Tcp4(bool fromClient, uint seq, uint ack, PathProbe.Decoding.TcpFlags flags, int len, int mss = 0, long dt = 1_000_000)
        {
            Now += dt;
            var p = new PathProbe.Decoding.DecodedPacket
            {
                Time = new PathProbe.Primitives.Timestamp(Now), IpVersion = 4, Protocol = PathProbe.Decoding.IpProtocols.Tcp,
                Src = fromClient ? C : S, Dst = fromClient ? S : C, SrcPort = fromClient ? (ushort)40000 : (ushort)25,
                DstPort = fromClient ? (ushort)25 : (ushort)40000, Seq = seq, Ack = ack, TcpFlags = flags, Window = 65535,
                PayloadWireLength = len, IpPacketLength = len + 40, IpHeaderLength = 20, TcpHeaderLength = 20, WireLength = len + 54,
            };
            p.TcpOptions.WindowScale = -1;
            p.TcpOptions.Mss = (ushort)mss;
            var flow = Table.Update(ref p, out bool fc)!;
            Mtu.OnSegment(flow, fc, ref p, Now);
            Tcp.Process(flow, fc, ref p);
        }

        public void IcmpFragNeeded(int mtu)
        {
            Now += 100_000;
            var p = new PathProbe.Decoding.DecodedPacket
            {
                Time = new PathProbe.Primitives.Timestamp(Now), IpVersion = 4, Protocol = PathProbe.Decoding.IpProtocols.Icmp,
                Src = Hop, Dst = C, IcmpType = 3, IcmpCode = 4, IcmpMtu = mtu, IpPacketLength = 576, WireLength = 590,
            };
            p.Quoted.Present = true; p.Quoted.IpVersion = 4; p.Quoted.Src = C; p.Quoted.Dst = S; p.Quoted.Protocol = 6;
            p.Quoted.HasPorts = true; p.Quoted.SrcPort = 40000; p.Quoted.DstPort = 25; p.Quoted.IpPacketLength = 1500;
            Table.Update(ref p, out _);
            Mtu.OnIcmp(ref p, Table, Now);
        }

        public void Handshake()
        {
            Tcp4(true, 1000, 0, PathProbe.Decoding.TcpFlags.Syn, 0, mss: 1460);
            Tcp4(false, 5000, 1001, PathProbe.Decoding.TcpFlags.Syn | PathProbe.Decoding.TcpFlags.Ack, 0, mss: 1460, dt: 10_000_000);
            Tcp4(true, 1001, 5001, PathProbe.Decoding.TcpFlags.Ack, 0);
        }

        public List<Finding> Finish()
        {
            Now += 1_000_000_000;
            Table.Finish();
            Mtu.Finish();
            return Log.Findings.ToList();
        }
    }

    [Fact]
    public void OffloadSuperSegments_AreCountedAndNeverEvidence()
    {
        var r = new Rig();
        r.Handshake();
        // TSO at the sending capture host: 10 segments' worth in one "packet", acknowledged.
        r.Tcp4(true, 1001, 5001, PathProbe.Decoding.TcpFlags.Ack, 14600);
        r.Tcp4(false, 5001, 1001 + 14600, PathProbe.Decoding.TcpFlags.Ack, 0, dt: 20_000_000);
        // Then a real black hole for 1500-byte packets: the 14,640-byte "delivery" must not widen the range.
        uint seq = 1001 + 14600;
        r.Tcp4(true, seq, 5001, PathProbe.Decoding.TcpFlags.Ack, 900);
        r.Tcp4(false, 5001, seq + 900, PathProbe.Decoding.TcpFlags.Ack, 0, dt: 20_000_000);
        seq += 900;
        long rto = 200_000_000;
        for (int i = 0; i < 6; i++, rto *= 2) r.Tcp4(true, seq, 5001, PathProbe.Decoding.TcpFlags.Ack, 1460, dt: i == 0 ? 1_000_000 : rto);
        var findings = r.Finish();
        Assert.Equal(1, r.Mtu.OffloadFrames);
        var hole = Assert.Single(findings, f => f.Name == "mtu-blackhole");
        Assert.Equal(940, hole.Verdict<BlackHoleVerdict>().Min);
        Assert.Equal(1499, hole.Verdict<BlackHoleVerdict>().Max);
    }

    [Fact]
    public void IcmpTooBigIgnored_IsAWarningAndTheBlackHoleSaysIcmpArrived()
    {
        var r = new Rig();
        r.Handshake();
        r.Tcp4(true, 1001, 5001, PathProbe.Decoding.TcpFlags.Ack, 900);
        r.Tcp4(false, 5001, 1901, PathProbe.Decoding.TcpFlags.Ack, 0, dt: 20_000_000);
        r.Tcp4(true, 1901, 5001, PathProbe.Decoding.TcpFlags.Ack, 1460);
        r.IcmpFragNeeded(1400);
        long rto = 200_000_000;
        for (int i = 0; i < 5; i++, rto *= 2) r.Tcp4(true, 1901, 5001, PathProbe.Decoding.TcpFlags.Ack, 1460, dt: rto);
        var findings = r.Finish();
        var icmp = Assert.Single(findings, f => f.Name == "icmp-too-big");
        Assert.False(icmp.Verdict<IcmpTooBigVerdict>().Obeyed);
        Assert.Equal(Severity.Warning, icmp.Severity);
        Assert.Contains("ignored", icmp.Summary);
        var hole = Assert.Single(findings, f => f.Name == "mtu-blackhole");
        Assert.True(hole.Verdict<BlackHoleVerdict>().IcmpSeen);
        Assert.Contains("ignored", hole.Summary);
    }

    [Fact]
    public void IcmpTooBigObeyed_NoBlackHole()
    {
        var r = new Rig();
        r.Handshake();
        r.Tcp4(true, 1001, 5001, PathProbe.Decoding.TcpFlags.Ack, 1460);
        r.IcmpFragNeeded(1400);
        r.Tcp4(true, 1001, 5001, PathProbe.Decoding.TcpFlags.Ack, 1360, dt: 3_000_000);
        r.Tcp4(true, 2361, 5001, PathProbe.Decoding.TcpFlags.Ack, 100);
        r.Tcp4(false, 5001, 2461, PathProbe.Decoding.TcpFlags.Ack, 0, dt: 20_000_000);
        var findings = r.Finish();
        var icmp = Assert.Single(findings, f => f.Name == "icmp-too-big");
        Assert.True(icmp.Verdict<IcmpTooBigVerdict>().Obeyed);
        Assert.DoesNotContain(findings, f => f.Name == "mtu-blackhole");
    }
}
