using PathProbe.Analysis.Mtu;
using PathProbe.Analysis.Tcp;
using PathProbe.Decoding;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Primitives;

namespace PathProbe.Tests.Analysis;

/// <summary>
/// A TCP bulk transfer over a path that silently drops IP packets larger than <see cref="TrueMtu"/>, seen from the
/// sender or from the receiver, fed through the flow table, the TCP analyzer and the path-MTU detector in the
/// engine's order. The sender resends the first unacknowledged segment with RTO back-off; with
/// <see cref="Probing"/> it behaves like Linux tcp_mtu_probing: after three RTOs it drops to 1024-byte segments and
/// then searches upward with single probes.
/// </summary>
internal sealed class PathMtuSimulation
{
    private const long Base = 1_790_000_000_000_000_000;
    private static readonly IpAddress Client = IpAddress.Parse("198.51.100.10");
    private static readonly IpAddress Server = IpAddress.Parse("203.0.113.25");

    public int TrueMtu { get; init; } = 1500;
    public bool Probing { get; init; }
    public bool AtReceiver { get; init; }
    /// <summary>Make the sixth segment of the first flight short (a write boundary), so it lands beyond the lost ones.</summary>
    public bool ShortSegmentInFlight { get; init; } = true;
    public int MessageBytes { get; init; } = 200_000;
    /// <summary>Random loss of any packet in either direction (0 = none), with a fixed seed.</summary>
    public double RandomLoss { get; init; }
    public int Seed { get; init; } = 1;
    public PathMtuOptions Options { get; init; } = new();
    /// <summary>Findings reported while the transfer was still going (what live capture prints).</summary>
    public List<Finding> ReportedBeforeEnd { get; private set; } = new();

    private readonly FlowTable _table = new();
    private readonly TcpAnalyzer _tcp = new();
    private PathMtuDetector _mtu = null!;
    private FindingLog _log = new();
    private long _now;
    private Random _rng = null!;

    public List<Finding> Run()
    {
        _rng = new Random(Seed);
        _log = new FindingLog();
        _mtu = new PathMtuDetector(Options, _log);
        _table.FlowClosing = f => _mtu.FlowClosing(f, _now);
        long t = Base;
        uint cIsn = 1000, sIsn = 900_000;
        // Handshake (both MSS 1460), then a small command and its reply.
        Emit(t, true, cIsn, 0, TcpFlags.Syn, 0, 1460, delivered: true);
        Emit(t += 10_000_000, false, sIsn, cIsn + 1, TcpFlags.Syn | TcpFlags.Ack, 0, 1460, delivered: true);
        Emit(t += 10_000_000, true, cIsn + 1, sIsn + 1, TcpFlags.Ack, 0, 0, delivered: true);
        Emit(t += 1_000_000, true, cIsn + 1, sIsn + 1, TcpFlags.Ack | TcpFlags.Psh, 40, 0, delivered: true);
        Emit(t += 20_000_000, false, sIsn + 1, cIsn + 41, TcpFlags.Ack | TcpFlags.Psh, 30, 0, delivered: true);

        uint una = cIsn + 41, nxt = una, end = una + (uint)MessageBytes;
        uint sAck = sIsn + 31;
        int mss = 1460;
        int probeLo = 0, probeHi = 1500; // IP sizes known good / known bad while probing
        long rto = 200_000_000;
        int rtos = 0, sentSinceProbe = 0, flight = 0;
        var received = new SortedList<uint, uint>(); // receiver's out-of-order ranges: start → end
        uint rcvNxt = una;
        bool probingActive = false;
        while (una != end && rtos < 9)
        {
            // One flight: up to 10 segments.
            var sent = new List<(uint Seq, int Len, long Time, bool Delivered)>();
            t += 1_000_000;
            int n = 0;
            while (n < 10 && (SeqNum)nxt < (SeqNum)end)
            {
                int len = (int)Math.Min(mss, end - nxt);
                if (ShortSegmentInFlight && flight == 0 && n == 5) len = Math.Min(len, 952);
                bool probe = probingActive && sentSinceProbe >= 20 && probeHi - probeLo > 8;
                if (probe) { len = (int)Math.Min((probeLo + probeHi) / 2 - 40, end - nxt); sentSinceProbe = 0; }
                sentSinceProbe++;
                int ip = len + 40;
                bool ok = ip <= TrueMtu && !Lost();
                if (probe) { if (ip <= TrueMtu) probeLo = Math.Max(probeLo, ip); else probeHi = Math.Min(probeHi, ip); }
                Emit(t += 100_000, true, nxt, sAck, TcpFlags.Ack, len, 0, ok);
                sent.Add((nxt, len, t, ok));
                nxt += (uint)len;
                n++;
            }
            flight++;
            if (probingActive && probeLo > 0) mss = Math.Max(mss, probeLo - 40);
            // The receiver acknowledges each delivered segment (cumulative + SACK of the range it landed in).
            bool progress = Deliver(sent, ref rcvNxt, received, ref una, ref t, sAck);
            if (progress) { rtos = 0; rto = 200_000_000; continue; }
            // Nothing acknowledged: RTO back-off, resend the first unacknowledged segment.
            while (rtos < 9)
            {
                t += rto;
                rto *= 2;
                rtos++;
                if (Probing && rtos == 3 && !probingActive)
                {
                    probingActive = true;
                    mss = 1024;
                    probeHi = 1500;
                    probeLo = 0;
                }
                int len = (int)Math.Min(mss, end - una);
                int ip = len + 40;
                bool ok = ip <= TrueMtu && !Lost();
                Emit(t, true, una, sAck, TcpFlags.Ack, len, 0, ok);
                var one = new List<(uint, int, long, bool)> { (una, len, t, ok) };
                if (probingActive && ok) probeLo = Math.Max(probeLo, ip);
                if (Deliver(one, ref rcvNxt, received, ref una, ref t, sAck)) { rtos = 0; rto = 200_000_000; nxt = una; break; }
            }
            nxt = una; // go back: the next flight resends what was lost
        }
        ReportedBeforeEnd = _log.Findings.ToList();
        _now = t + 1_000_000_000;
        _table.Finish();
        _mtu.Finish();
        return _log.Findings.ToList();
    }

    private bool Lost() => RandomLoss > 0 && _rng.NextDouble() < RandomLoss;

    private bool Deliver(List<(uint Seq, int Len, long Time, bool Delivered)> sent, ref uint rcvNxt, SortedList<uint, uint> received,
        ref uint una, ref long t, uint sAck)
    {
        bool progress = false;
        foreach (var (seq, len, time, ok) in sent)
        {
            if (!ok) continue;
            uint e = seq + (uint)len;
            if (!((SeqNum)seq > (SeqNum)rcvNxt))
            {
                if ((SeqNum)e > (SeqNum)rcvNxt) rcvNxt = e;
                while (received.Count > 0 && !((SeqNum)received.Keys[0] > (SeqNum)rcvNxt))
                {
                    if ((SeqNum)received.Values[0] > (SeqNum)rcvNxt) rcvNxt = received.Values[0];
                    received.RemoveAt(0);
                }
            }
            else received[seq] = e;
            long at = Math.Max(t, time + 20_000_000);
            t = at;
            if (Lost()) continue; // the ACK is lost
            var p = Packet(at, false, sAck, rcvNxt, TcpFlags.Ack, 0, 0);
            if (received.Count > 0 && (SeqNum)seq > (SeqNum)rcvNxt)
            {
                p.TcpOptions.SackBlockCount = 1;
                p.TcpOptions.Sack[0] = seq;
                p.TcpOptions.Sack[1] = e;
            }
            Feed(ref p);
            if ((SeqNum)rcvNxt > (SeqNum)una) { una = rcvNxt; progress = true; }
        }
        return progress;
    }

    private void Emit(long t, bool fromClient, uint seq, uint ack, TcpFlags flags, int len, int mss, bool delivered)
    {
        // At the receiver only what got through is captured (and it is captured later, but order is what matters).
        if (AtReceiver && fromClient && !delivered) return;
        var p = Packet(t, fromClient, seq, ack, flags, len, mss);
        Feed(ref p);
    }

    private static DecodedPacket Packet(long t, bool fromClient, uint seq, uint ack, TcpFlags flags, int len, int mss)
    {
        var p = new DecodedPacket
        {
            Time = new Timestamp(t), IpVersion = 4, Protocol = IpProtocols.Tcp,
            Src = fromClient ? Client : Server, Dst = fromClient ? Server : Client,
            SrcPort = fromClient ? (ushort)40000 : (ushort)25, DstPort = fromClient ? (ushort)25 : (ushort)40000,
            Seq = seq, Ack = ack, TcpFlags = flags, Window = 65535, PayloadWireLength = len,
            IpPacketLength = len + 40, IpHeaderLength = 20, TcpHeaderLength = 20, WireLength = len + 54,
        };
        p.TcpOptions.WindowScale = -1;
        p.TcpOptions.Mss = (ushort)mss;
        return p;
    }

    private void Feed(ref DecodedPacket p)
    {
        _now = p.Time.UnixNanoseconds;
        var flow = _table.Update(ref p, out bool fromClient)!;
        _mtu.OnSegment(flow, fromClient, ref p, _now);
        _tcp.Process(flow, fromClient, ref p);
    }
}
