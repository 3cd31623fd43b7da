using PathProbe.Analysis.Tcp;
using PathProbe.Decoding;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Flows.Tcp;
using PathProbe.Primitives;

namespace PathProbe.Tests.Analysis;

/// <summary>Sequence analysis on hand-built segments: the cases where Wireshark's rules are easy to get wrong.</summary>
public sealed class TcpAnalyzerTests
{
    private static readonly IpAddress C = IpAddress.Parse("198.51.100.10");
    private static readonly IpAddress S = IpAddress.Parse("203.0.113.25");

    private sealed class Harness
    {
        public readonly FlowTable Table = new();
        public readonly TcpAnalyzer Analyzer = new();
        public readonly FindingLog Log = new();
        public IReadOnlyList<Finding> Findings => Log.Findings;
        public readonly TcpFindingDetector Detector;
        public Flow? Flow;
        public long NowMs;
        /// <summary>Capture times start in 2026, not at the epoch: Wireshark treats time 0 as "not set".</summary>
        public const long Base = 1_790_000_000_000_000_000;
        public static long At(long ms) => Base + ms * 1_000_000;

        public Harness() => Detector = new TcpFindingDetector(new StallOptions(), Log);

        public TcpAnalysisFlags Send(bool fromClient, uint seq, uint ack, int len, TcpFlags flags = TcpFlags.Ack, ushort window = 65535,
            long atMs = -1, sbyte ws = -1, (uint L, uint R)[]? sack = null)
        {
            if (atMs >= 0) NowMs = atMs;
            var p = new DecodedPacket
            {
                Time = new Timestamp(Base + NowMs * 1_000_000), IpVersion = 4, Protocol = IpProtocols.Tcp,
                Src = fromClient ? C : S, Dst = fromClient ? S : C, SrcPort = fromClient ? (ushort)40000 : (ushort)25, DstPort = fromClient ? (ushort)25 : (ushort)40000,
                Seq = seq, Ack = ack, TcpFlags = flags, Window = window, PayloadWireLength = len, IpPacketLength = 40 + len, WireLength = 54 + len,
            };
            p.TcpOptions.WindowScale = ws;
            if (sack is not null)
            {
                p.TcpOptions.SackBlockCount = (byte)sack.Length;
                for (int i = 0; i < sack.Length; i++) { p.TcpOptions.Sack[2 * i] = sack[i].L; p.TcpOptions.Sack[2 * i + 1] = sack[i].R; }
            }
            Flow = Table.Update(ref p, out bool fc)!;
            Detector.BeforeSegment(Flow, p.Time.UnixNanoseconds);
            var ta = Analyzer.Process(Flow, fc, ref p);
            Detector.AfterSegment(Flow, Analyzer.MadeProgress, (flags & TcpFlags.Rst) != 0, (ta & TcpAnalysisFlags.AnyRetransmission) != 0, p.Time.UnixNanoseconds);
            return ta;
        }

        public void Handshake(uint cIsn, uint sIsn, sbyte wsC = 7, sbyte wsS = 7)
        {
            Send(true, cIsn, 0, 0, TcpFlags.Syn, ws: wsC, atMs: 0);
            Send(false, sIsn, cIsn + 1, 0, TcpFlags.Syn | TcpFlags.Ack, ws: wsS, atMs: 10);
            Send(true, cIsn + 1, sIsn + 1, 0, atMs: 20);
        }

        public TcpConnectionState Tcp => Flow!.Tcp!;
    }

    [Fact]
    public void Process_SequenceWrapsAround_NoFalseLossOrRetransmission()
    {
        var h = new Harness();
        uint isn = uint.MaxValue - 1500; // data crosses 2^32
        h.Handshake(isn, 5000);
        uint seq = isn + 1;
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(TcpAnalysisFlags.None, h.Send(true, seq, 5001, 1000, atMs: 30 + i));
            seq += 1000;
        }
        Assert.Equal(TcpAnalysisFlags.None, h.Send(false, 5001, seq, 0, atMs: 40));
        Assert.Equal(0, h.Tcp.Client.Counters.Retransmissions);
        Assert.Equal(0, h.Tcp.Client.Counters.LostSegments);
        Assert.Equal(4, h.Tcp.Client.Counters.DataSegments);
        // A resend of the segment that straddles the wrap is a (spurious, since acked) retransmission.
        Assert.True((h.Send(true, isn + 1001, 5001, 1000, atMs: 50) & TcpAnalysisFlags.SpuriousRetransmission) != 0);
    }

    [Fact]
    public void Process_ResendAfterTimeout_IsRetransmission_NotOutOfOrder()
    {
        var h = new Harness();
        h.Handshake(1000, 5000);
        h.Send(true, 1001, 5001, 100, atMs: 30);
        h.Send(true, 1101, 5001, 100, atMs: 31);
        var ta = h.Send(true, 1001, 5001, 100, atMs: 400); // 369 ms later: far beyond the 20 ms iRTT
        Assert.Equal(TcpAnalysisFlags.Retransmission, ta);
        // Within the iRTT of the highest segment it would be out-of-order instead.
        h.Send(true, 1301, 5001, 100, atMs: 401); // leaves a hole at 1201
        Assert.True((h.Tcp.Client.LastSegmentFlags & TcpAnalysisFlags.LostPacket) != 0);
        Assert.Equal(TcpAnalysisFlags.OutOfOrder, h.Send(true, 1201, 5001, 100, atMs: 405));
    }

    [Fact]
    public void Process_KeepAlive_IsNotRetransmission()
    {
        var h = new Harness();
        h.Handshake(1000, 5000);
        h.Send(true, 1001, 5001, 100, atMs: 30);
        h.Send(false, 5001, 1101, 0, atMs: 40);
        var ka = h.Send(true, 1100, 5001, 1, atMs: 60_000); // one garbage byte at nextseq-1
        Assert.Equal(TcpAnalysisFlags.KeepAlive, ka & ~TcpAnalysisFlags.WindowFull);
        Assert.Equal(0, h.Tcp.Client.Counters.Retransmissions);
        Assert.Equal(TcpAnalysisFlags.KeepAliveAck, h.Send(false, 5001, 1101, 0, atMs: 60_001));
    }

    [Fact]
    public void Process_ThreeDupAcksThenResend_IsFastRetransmission()
    {
        var h = new Harness();
        h.Handshake(1000, 5000);
        for (int i = 0; i < 5; i++) h.Send(true, 1001 + (uint)i * 100, 5001, 100, atMs: 30 + i);
        h.Send(false, 5001, 1101, 0, atMs: 100);
        Assert.Equal(TcpAnalysisFlags.DuplicateAck, h.Send(false, 5001, 1101, 0, atMs: 101));
        Assert.Equal(TcpAnalysisFlags.DuplicateAck, h.Send(false, 5001, 1101, 0, atMs: 102));
        Assert.Equal(2, h.Tcp.Server.Counters.MaxDuplicateAckNumber);
        Assert.Equal(TcpAnalysisFlags.FastRetransmission, h.Send(true, 1101, 5001, 100, atMs: 105));
        Assert.Equal(1, h.Tcp.Client.Counters.FastRetransmissions);
        Assert.Equal(1, h.Tcp.Client.Counters.Retransmissions); // tshark's retransmission filter includes fast ones
    }

    [Fact]
    public void Process_WindowScaleFromHandshake_WindowFullUsesScaledWindow()
    {
        var h = new Harness();
        h.Handshake(1000, 5000, wsC: 2, wsS: 2);
        h.Send(false, 5001, 1001, 0, window: 100, atMs: 30); // 100 << 2 = 400 bytes
        Assert.Equal(TcpAnalysisFlags.None, h.Send(true, 1001, 5001, 200, atMs: 31));
        Assert.Equal(TcpAnalysisFlags.WindowFull, h.Send(true, 1201, 5001, 200, atMs: 32));
    }

    [Fact]
    public void Process_NoHandshake_WindowScaleUnknown_NoWindowFull()
    {
        var h = new Harness();
        h.Send(false, 5001, 1001, 0, window: 100, atMs: 0);
        h.Send(true, 1001, 5001, 100, atMs: 1);
        Assert.Equal(TcpAnalysisFlags.None, h.Send(true, 1101, 5001, 0 + 100, atMs: 2) & TcpAnalysisFlags.WindowFull);
        Assert.Equal(-1, h.Tcp.Client.WinScale);
        Assert.Equal(TcpHandshake.NotSeen, h.Tcp.Handshake);
    }

    [Fact]
    public void Process_SackBlocks_ReduceBytesInFlight()
    {
        var h = new Harness();
        h.Handshake(1000, 5000);
        for (int i = 0; i < 4; i++) h.Send(true, 1001 + (uint)i * 1000, 5001, 1000, atMs: 30 + i);
        Assert.Equal(4000, h.Tcp.Client.Counters.MaxBytesInFlight);
        h.Send(false, 5001, 1001, 0, atMs: 40, sack: new[] { (2001u, 4001u) });
        h.Tcp.Client.CountersToWrite.MaxBytesInFlight = 0;
        h.Send(true, 5001, 5001, 1000, atMs: 41);
        Assert.Equal(5000 - 2000, h.Tcp.Client.Counters.MaxBytesInFlight);
    }

    [Fact]
    public void Process_ResendOfAckedData_IsSpurious()
    {
        var h = new Harness();
        h.Handshake(1000, 5000);
        h.Send(true, 1001, 5001, 100, atMs: 30);
        h.Send(false, 5001, 1101, 0, atMs: 40);
        Assert.Equal(TcpAnalysisFlags.SpuriousRetransmission, h.Send(true, 1001, 5001, 100, atMs: 500));
    }

    [Fact]
    public void Process_RttFromHandshakeAndData_KarnSkipsResentData()
    {
        var h = new Harness();
        h.Handshake(1000, 5000);
        Assert.Equal(1, h.Tcp.Client.Rtt.Count); // SYN -> SYN/ACK
        h.Send(true, 1001, 5001, 100, atMs: 100);
        h.Send(false, 5001, 1101, 0, atMs: 130);
        Assert.Equal(2, h.Tcp.Client.Rtt.Count);
        Assert.Equal(30_000_000, h.Tcp.Client.Rtt.MaxNanos);
        h.Send(true, 1101, 5001, 100, atMs: 200);
        h.Send(true, 1101, 5001, 100, atMs: 600); // resent: the ACK is ambiguous
        h.Send(false, 5001, 1201, 0, atMs: 610);
        Assert.Equal(2, h.Tcp.Client.Rtt.Count);
    }

    [Fact]
    public void Detector_RtoBackoffUntilEnd_CriticalStallWithSeries()
    {
        var h = new Harness();
        h.Handshake(1000, 5000);
        h.Send(true, 1001, 5001, 1448, atMs: 30);
        long t = 30, rto = 200;
        for (int i = 0; i < 5; i++) { t += rto; rto *= 2; h.Send(true, 1001, 5001, 1448, atMs: t); }
        h.Detector.FlowClosing(h.Flow!, Harness.At(t + 5000));
        var stall = Assert.Single(h.Findings);
        Assert.Equal("stall", stall.Name);
        Assert.Equal(Severity.Critical, stall.Severity);
        var v = stall.Verdict<PathProbe.Findings.Kinds.StallVerdict>();
        Assert.Equal(StallKind.RtoBackoff, v.StallKind);
        Assert.Equal(5, v.Series!.Resends);
        Assert.True(v.Series.Backoff);
        Assert.Equal(PathProbe.Findings.Kinds.StallEnd.CaptureEnded, v.End);
    }

    [Fact]
    public void Detector_ZeroWindowThenResume_WarningStall()
    {
        var h = new Harness();
        h.Handshake(1000, 5000);
        h.Send(true, 1001, 5001, 1000, atMs: 30);
        h.Send(false, 5001, 2001, 0, window: 0, atMs: 40);
        h.Send(true, 2001, 5001, 1, atMs: 400);   // zero-window probe
        h.Send(false, 5001, 2001, 0, window: 0, atMs: 401);
        h.Send(true, 2001, 5001, 1, atMs: 3000);
        h.Send(false, 5001, 2001, 0, window: 500, atMs: 5000); // window opens
        h.Send(true, 2001, 5001, 500, atMs: 5001);             // progress
        var stall = Assert.Single(h.Findings);
        Assert.Equal(StallKind.ZeroWindow, stall.Verdict<PathProbe.Findings.Kinds.StallVerdict>().StallKind);
        Assert.Equal(Severity.Warning, stall.Severity);
        Assert.True(stall.Verdict<PathProbe.Findings.Kinds.StallVerdict>().Recovered);
    }

    [Fact]
    public void Detector_UnansweredSyns_ConnectTimeout()
    {
        var h = new Harness();
        h.Send(true, 1000, 0, 0, TcpFlags.Syn, atMs: 0);
        h.Send(true, 1000, 0, 0, TcpFlags.Syn, atMs: 1000);
        h.Send(true, 1000, 0, 0, TcpFlags.Syn, atMs: 3000);
        h.Detector.FlowClosing(h.Flow!, Harness.At(7000));
        var f = Assert.Single(h.Findings);
        Assert.Equal("connect-timeout", f.Name);
        Assert.Equal(3, f.Verdict<PathProbe.Findings.Kinds.ConnectTimeoutVerdict>().Syns);
        Assert.Equal(2, h.Tcp.Client.Counters.Retransmissions); // the resent SYNs, as tshark counts them
    }

    [Fact]
    public void Detector_SynAnsweredByRst_ConnectRefused()
    {
        var h = new Harness();
        h.Send(true, 1000, 0, 0, TcpFlags.Syn, atMs: 0);
        h.Send(false, 0, 1001, 0, TcpFlags.Rst | TcpFlags.Ack, window: 0, atMs: 1);
        h.Detector.FlowClosing(h.Flow!, Harness.At(2));
        Assert.Equal("connect-refused", Assert.Single(h.Findings).Name);
    }
}
