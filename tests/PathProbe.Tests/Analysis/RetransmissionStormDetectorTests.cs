using PathProbe.Analysis.Tcp;
using PathProbe.Decoding;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Primitives;

namespace PathProbe.Tests.Analysis;

/// <summary>Storm classification on synthetic traffic: the SYN flood has no bundled capture (it is an attack).</summary>
public sealed class RetransmissionStormDetectorTests
{
    private const long Base = 1_790_000_000_000_000_000;

    [Fact]
    public void Storm_ManyHalfOpenConnectionsFromManySources_ClassifiedAsFlood()
    {
        var log = new FindingLog();
        var findings = log.Findings;
        var table = new FlowTable();
        var analyzer = new TcpAnalyzer();
        var storms = new RetransmissionStormDetector(new StormOptions(), log);
        var server = IpAddress.Parse("203.0.113.25");
        // 300 sources each send a SYN and resend it twice, within 3 s; nobody answers.
        for (int round = 0; round < 3; round++)
            for (int i = 0; i < 300; i++)
            {
                var src = IpAddress.FromV4(0xC6336400u + (uint)(i % 250) + (uint)(i / 250 << 8)); // 198.51.100.x / .101.x
                var p = new DecodedPacket
                {
                    Time = new Timestamp(Base + round * 1_000_000_000L + i * 1_000_000L), IpVersion = 4, Protocol = IpProtocols.Tcp,
                    Src = src, Dst = server, SrcPort = (ushort)(40000 + i), DstPort = 25, Seq = 1000u + (uint)i, TcpFlags = TcpFlags.Syn,
                    Window = 64240, IpPacketLength = 60, WireLength = 74,
                };
                p.TcpOptions.WindowScale = 7;
                var flow = table.Update(ref p, out bool fromClient)!;
                var ta = analyzer.Process(flow, fromClient, ref p);
                storms.OnSegment(flow, fromClient, ta, 0, p.TcpFlags, p.IpPacketLength, p.Time.UnixNanoseconds);
                storms.OnSyn(src);
            }
        storms.Finish();
        var storm = Assert.Single(findings);
        Assert.Equal("retransmission-storm", storm.Name);
        Assert.Equal(PathProbe.Findings.Kinds.StormClass.Flood, storm.Verdict<PathProbe.Findings.Kinds.StormVerdict>().Class);
        Assert.Equal(Severity.Critical, storm.Severity);
        Assert.Contains("SYN flood", storm.Summary);
        // The flood is said by its unanswered SYNs; no "0 of 0 data segments retransmitted ... in 0 flows".
        Assert.Contains("900 SYNs never answered (SYNs less SYN-ACKs), from 300 sources", storm.Summary);
        Assert.DoesNotContain("data segments", storm.Summary);
    }

    [Fact]
    public void Storm_FewRetransmissions_NoFinding()
    {
        var log = new FindingLog();
        var findings = log.Findings;
        var table = new FlowTable();
        var analyzer = new TcpAnalyzer();
        var storms = new RetransmissionStormDetector(new StormOptions(), log);
        var c = IpAddress.Parse("198.51.100.10");
        var s = IpAddress.Parse("203.0.113.25");
        uint seq = 1001;
        for (int i = 0; i < 200; i++)
        {
            bool resend = i % 50 == 49; // 4 resends in 200 segments: below 5 per window
            var p = new DecodedPacket
            {
                Time = new Timestamp(Base + i * 10_000_000L), IpVersion = 4, Protocol = IpProtocols.Tcp, Src = c, Dst = s,
                SrcPort = 40000, DstPort = 25, Seq = resend ? seq - 1000 : seq, Ack = 5001, TcpFlags = TcpFlags.Ack,
                Window = 500, PayloadWireLength = 1000, IpPacketLength = 1040, WireLength = 1054,
            };
            p.TcpOptions.WindowScale = -1;
            if (!resend) seq += 1000;
            var flow = table.Update(ref p, out bool fromClient)!;
            var ta = analyzer.Process(flow, fromClient, ref p);
            storms.OnSegment(flow, fromClient, ta, p.PayloadWireLength, p.TcpFlags, p.IpPacketLength, p.Time.UnixNanoseconds);
        }
        storms.Finish();
        Assert.Empty(findings);
    }
}
