using System.Runtime.CompilerServices;
using PathProbe.Decoding;
using PathProbe.Primitives;

namespace PathProbe.Flows;

public sealed class FlowTableOptions
{
    /// <summary>Flows held at once; when full the least recently active flow is evicted (counted).</summary>
    public int MaxFlows { get; init; } = 262_144;
    /// <summary>Idle time after which a TCP flow is closed (capture time).</summary>
    public TimeSpan TcpIdleTimeout { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Idle time after which a UDP or ICMP flow is closed (capture time).</summary>
    public TimeSpan OtherIdleTimeout { get; init; } = TimeSpan.FromMinutes(2);
    /// <summary>Idle time after which a UDP exchange is closed (capture time): a UDP flow that was answered, all of whose
    /// packets came within <see cref="UdpExchangeSpan"/> of its first (a DNS query and its answer, an NTP poll). Linux
    /// conntrack's <c>nf_conntrack_udp_timeout</c> (30 s) for a flow that is not yet a stream; a flow that goes on
    /// past that span keeps <see cref="OtherIdleTimeout"/> (conntrack's <c>udp_timeout_stream</c>, 120 s), and so
    /// does a flow never answered (a query lost on the path, a one-way stream).</summary>
    public TimeSpan UdpExchangeTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long after its first packet a UDP flow's packets still make one exchange (conntrack: 2 s).</summary>
    public TimeSpan UdpExchangeSpan { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Idle time after which a TCP connection closed by FIN from both sides leaves the table (capture time):
    /// Linux's TIME_WAIT, during which the closed connection's addresses and ports are not used for a new one, so a late
    /// packet (the last ACK, a resent FIN) is still the old connection's. A connection that sends data again after both
    /// FINs (data still being resent) goes back to <see cref="TcpIdleTimeout"/>, and so does one ended by RST (the side
    /// that never got the RST may go on resending, with back-off gaps longer than this).</summary>
    public TimeSpan TcpEndedTimeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Closed flows kept for the report; beyond this they are only counted.</summary>
    public int MaxReportedFlows { get; init; } = 100_000;
}

/// <summary>
/// Bidirectional flow table keyed by the canonical 5-tuple. Bounded: at most <see cref="FlowTableOptions.MaxFlows"/>
/// live flows, idle expiry on capture time, least-recently-active eviction. Four intrusive lists, each with its own
/// idle timeout (TCP, TCP connections closed by FIN, UDP exchanges, the rest), make expiry O(1) per packet. Steady state allocates
/// nothing: only a new flow allocates its record.
/// </summary>
/// <remarks>
/// Tunnelled traffic is keyed on the inner 5-tuple only, never on the tunnel: outer addresses, GRE keys, VXLAN VNIs,
/// MPLS labels and VLAN ids name a path, and a path may differ between the two directions (a DSR load balancer receives
/// in IP-in-IP and answers plain; Linux GRE has separate ikey/okey; MPLS labels are swapped per hop) or change while a
/// connection lasts (tunnel failover). Keying on it would split one TCP connection into halves, data in one and ACKs in
/// the other, and every analysis would see data never acknowledged. The inner 5-tuple is also what tshark's
/// conversations and Zeek's conn.log use, and what the reassembler and the ICMP-error mapping can look up. The price:
/// two tenants in different overlays using the same addresses and ports at the same moment would share a flow; each
/// direction records its encapsulation (<see cref="DirectionStats.Encap"/>) and counts packets that arrived in another
/// (<see cref="DirectionStats.EncapChanges"/>), so such a mix is visible in the report.
/// </remarks>
public sealed class FlowTable
{
    private readonly FlowTableOptions _options;
    private readonly FlowIndex _live = new();
    private readonly List<Flow> _closed = new();
    // Flows that closed after the report limit was reached are recycled, so a long capture runs in constant memory.
    private readonly Stack<Flow> _free = new();
    private readonly long _tcpIdleNanos;
    private readonly long _otherIdleNanos;
    private readonly long _exchangeIdleNanos;
    private readonly long _exchangeSpanNanos;
    private readonly long _endedIdleNanos;
    private long _touches;
    /// <summary>The two ends of one of the intrusive lists (<see cref="Lru"/>).</summary>
    private struct Ends
    {
        public Flow? Oldest, Newest;
    }

    private Ends _tcp, _other, _ended, _exchange;
    private bool _finishing;
    private int _nextId;

    public FlowTable(FlowTableOptions? options = null, int firstFlowId = 1)
    {
        _nextId = firstFlowId;
        _options = options ?? new FlowTableOptions();
        _tcpIdleNanos = (long)_options.TcpIdleTimeout.TotalNanoseconds;
        _otherIdleNanos = (long)_options.OtherIdleTimeout.TotalNanoseconds;
        _exchangeIdleNanos = (long)_options.UdpExchangeTimeout.TotalNanoseconds;
        _exchangeSpanNanos = (long)_options.UdpExchangeSpan.TotalNanoseconds;
        _endedIdleNanos = (long)_options.TcpEndedTimeout.TotalNanoseconds;
    }

    public int LiveCount => _live.Count;
    public long FlowsCreated { get; private set; }
    public int NextFlowId => _nextId;
    /// <summary>Step between the ids of new flows: 1, or the worker count when several workers share one id space
    /// (<see cref="Pipeline.ParallelAnalyzer"/>: worker w numbers its flows w+1, w+1+N, ... and the merge renumbers).</summary>
    internal int IdStride { get; set; } = 1;
    /// <summary>Closes the flows idle at <paramref name="now"/> as <see cref="Update"/> does before it looks a packet up
    /// (parallel workers: time passes for a worker's flows when another worker's packet arrives).</summary>
    internal void Expire(Timestamp now) => ExpireIdle(now);
    public long Evicted { get; private set; }
    public long Expired { get; private set; }
    /// <summary>TCP flows closed by FIN that left the table after <see cref="FlowTableOptions.TcpEndedTimeout"/>.</summary>
    public long EndedTimedOut { get; private set; }
    /// <summary>Closed connections whose place in time order was not found within <see cref="MaxOrderSteps"/> steps
    /// (capture times far out of order): they were placed there, so their timeout may come later than due.</summary>
    public long EndedOutOfOrder { get; private set; }
    /// <summary>Closed flows that were not kept because <see cref="FlowTableOptions.MaxReportedFlows"/> was reached.</summary>
    public long NotReported { get; private set; }
    /// <summary>Input index stamped on flows created from now on.</summary>
    public int InputIndex { get; set; }

    /// <summary>Finds or creates the flow of <paramref name="p"/> and updates its counters.
    /// Returns null for packets that belong to no flow (no IP).</summary>
    public Flow? Update(ref DecodedPacket p, out bool fromClient)
    {
        fromClient = false;
        FlowProtocol proto;
        ushort sp = 0, dp = 0;
        if (p.IsTcp) { proto = FlowProtocol.Tcp; sp = p.SrcPort; dp = p.DstPort; }
        else if (p.IsUdp) { proto = FlowProtocol.Udp; sp = p.SrcPort; dp = p.DstPort; }
        else if (p.IsIcmp) proto = FlowProtocol.Icmp;
        else return null;

        ExpireIdle(p.Time);

        var key = FlowKey.Create(p.Src, sp, p.Dst, dp, p.Protocol, out bool aToB);
        Flow? flow = _live.Find(key);
        if (flow is not null)
        {
            // Port reuse: a pure SYN whose sequence number differs from that side's base starts a new conversation
            // (Wireshark 4.0's tcp.stream rule; a SYN with the same ISN is a retransmission of the same connect).
            if (proto == FlowProtocol.Tcp && (p.TcpFlags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn &&
                IsNewIncarnation(flow, aToB, p.Seq))
            {
                var old = flow;
                Unlink(old);
                Close(old, old.EndReason == FlowEnd.Open ? FlowEnd.Reused : old.EndReason);
                flow = NewFlow(ref p, key, proto, aToB);
                _live.Replace(old, flow);
                flow.ReusedPorts = true;
            }
            else
            {
                Touch(flow);
            }
        }
        else
        {
            if (_live.Count >= _options.MaxFlows) EvictOldest();
            flow = NewFlow(ref p, key, proto, aToB);
            _live.Add(flow);
        }

        flow.LastSeen = p.Time;
        flow.LastFrame = ++_touches;
        if (flow.OnEndedList) Retouch(flow, resumes: p.PayloadWireLength > 0);
        fromClient = aToB == flow.ClientIsA;
        ref DirectionStats d = ref flow.Direction(fromClient);
        var endBefore = flow.EndReason;
        UpdateDirection(ref d, ref p, flow);
        if (endBefore != flow.EndReason && flow.EndReason == FlowEnd.Fin) Ended(flow);
        if (proto == FlowProtocol.Udp && (flow.OnExchangeList || d.Packets == 1)) Exchange(flow, p.Time);
        if (proto == FlowProtocol.Tcp)
        {
            // Sequence bases as Wireshark sets them (its §5 rules): this side from its first segment, the other
            // side from the first ACK it receives when it has none yet.
            if (!d.BaseSeqSet)
            {
                d.BaseSeq = (p.TcpFlags & TcpFlags.Syn) != 0 ? p.Seq : p.Seq - 1;
                d.BaseSeqSet = true;
            }
            if (!(fromClient ? flow.ServerToClient : flow.ClientToServer).BaseSeqSet && (p.TcpFlags & TcpFlags.Ack) != 0)
            {
                ref DirectionStats r = ref flow.Direction(!fromClient);
                r.BaseSeq = p.Ack - 1;
                r.BaseSeqSet = true;
            }
        }
        return flow;
    }

    private static bool IsNewIncarnation(Flow flow, bool aToB, uint seq)
    {
        ref readonly DirectionStats d = ref aToB == flow.ClientIsA ? ref flow.ClientToServer : ref flow.ServerToClient;
        return d.BaseSeqSet && d.BaseSeq != seq;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UpdateDirection(ref DirectionStats d, ref DecodedPacket p, Flow flow)
    {
        if (d.Packets == 0) d.First = p.Time;
        if (p.HasEncapsulation || d.HasTunnelStats) UpdateEncapsulation(ref d, ref p);
        d.Packets++;
        d.Last = p.Time;
        d.FrameBytes += p.WireLength;
        d.PayloadBytes += p.PayloadWireLength;
        if (p.PayloadWireLength > d.MaxSegment) d.MaxSegment = p.PayloadWireLength;
        // The size that crossed the wire: for a reassembled datagram, its largest fragment.
        int ipSize = p.Reassembled ? p.LargestFragment : p.IpPacketLength;
        if (ipSize > d.MaxIpPacket) d.MaxIpPacket = ipSize;
        if (p.WireLength > d.MaxFrame) d.MaxFrame = p.WireLength;
        if (p.DontFragment) d.DfPackets++;
        if (p.Reassembled) d.Fragmented++;
        if (flow.Protocol == FlowProtocol.Tcp)
        {
            var f = p.TcpFlags;
            if ((f & TcpFlags.Syn) != 0)
            {
                d.SynSeen = true;
                if (p.TcpOptions.Mss != 0) d.Mss = p.TcpOptions.Mss;
                d.WindowScale = p.TcpOptions.WindowScale;
            }
            if ((f & TcpFlags.Fin) != 0)
            {
                d.FinSeen = true;
                if (flow.ClientToServer.FinSeen && flow.ServerToClient.FinSeen && flow.EndReason == FlowEnd.Open)
                    flow.EndReason = FlowEnd.Fin;
            }
            if ((f & TcpFlags.Rst) != 0)
            {
                d.RstSeen = true;
                if (flow.EndReason == FlowEnd.Open) flow.EndReason = FlowEnd.Reset;
            }
        }
    }

    /// <summary>Tunnelled packets only (and packets of a direction that was tunnelled before): the first packet's
    /// encapsulation is the direction's; later ones that differ are counted.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void UpdateEncapsulation(ref DirectionStats d, ref DecodedPacket p)
    {
        ref readonly Encapsulation encap = ref p.Encap;
        var t = d.TunnelToWrite;
        if (d.Packets == 0) t.Encap = encap;
        else if (!t.Encap.Equals(encap)) t.EncapChanges++;
        if (encap.OuterIpWireLength > t.MaxOuterIpPacket) t.MaxOuterIpPacket = encap.OuterIpWireLength;
        if (encap.OuterReassembled) t.OuterFragmented++;
    }

    private Flow NewFlow(ref DecodedPacket p, in FlowKey key, FlowProtocol proto, bool aToB)
    {
        bool srcIsClient = DecideSrcIsClient(ref p, proto);
        var flow = _free.Count > 0 ? _free.Pop() : new Flow();
        flow.Reset();
        flow.Id = _nextId;
        _nextId += IdStride;
        flow.Key = key;
        flow.Protocol = proto;
        flow.ClientIsA = srcIsClient == aToB; // the client's address and port are the key's side A or B
        flow.InputIndex = InputIndex;
        flow.Application = ApplicationByPort(proto, flow.ServerPort);
        if (proto == FlowProtocol.Tcp) flow.AttachTcp(); else flow.DetachTcp();
        FlowsCreated++;
        Link(flow);
        return flow;
    }

    /// <summary>Client/server orientation: a SYN's sender is the client, a SYN-ACK's the server; otherwise the
    /// side on the well-known (or lower, registered) port is the server; failing that the first sender is the client.</summary>
    private static bool DecideSrcIsClient(ref DecodedPacket p, FlowProtocol proto)
    {
        if (proto == FlowProtocol.Tcp && (p.TcpFlags & TcpFlags.Syn) != 0)
            return (p.TcpFlags & TcpFlags.Ack) == 0;
        if (proto == FlowProtocol.Icmp)
        {
            // Echo reply (0 / 129) comes from the "server"; everything else is sent by its initiator.
            return !(p.IcmpType == 0 && p.Protocol == IpProtocols.Icmp || p.IcmpType == 129 && p.Protocol == IpProtocols.IcmpV6);
        }
        bool srcKnown = IsServicePort(p.SrcPort), dstKnown = IsServicePort(p.DstPort);
        if (srcKnown != dstKnown) return dstKnown;
        if (srcKnown && dstKnown) return p.DstPort <= p.SrcPort; // e.g. 53 <-> 53: lower port side serves
        return true;
    }

    internal static bool IsServicePort(ushort port) => port is > 0 and < 1024 or 2525 or 5353 or 8025 or 3306 or 5432;

    internal static string? ApplicationByPort(FlowProtocol proto, ushort serverPort) => serverPort switch
    {
        25 or 465 or 587 or 2525 when proto == FlowProtocol.Tcp => "smtp",
        53 when proto != FlowProtocol.Icmp => "dns",
        _ => null,
    };

    // ---- LRU maintenance ---------------------------------------------------------------------------------------

    /// <summary>The list a linked flow is on (<see cref="Flow.OnEndedList"/> changes only here, while it is unlinked).
    /// The TCP and other lists are in the order flows were last touched; the ended list is in order of their last packet's
    /// time, so that one engine and parallel workers time the same flows out at the same frames even when capture times
    /// step back a little (packets reordered by a multi-queue NIC).</summary>
    private enum Lru : byte { Tcp, Other, Ended, Exchange }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Lru ListOf(Flow f) =>
        f.Protocol != FlowProtocol.Tcp ? (f.OnExchangeList ? Lru.Exchange : Lru.Other) : f.OnEndedList ? Lru.Ended : Lru.Tcp;

    private ref Ends List(Lru l)
    {
        switch (l)
        {
            case Lru.Tcp: return ref _tcp;
            case Lru.Other: return ref _other;
            case Lru.Ended: return ref _ended;
            default: return ref _exchange;
        }
    }

    private ref Flow? Oldest(Lru l) => ref List(l).Oldest;
    private ref Flow? Newest(Lru l) => ref List(l).Newest;

    /// <summary>A UDP flow's first packet in a direction, or a packet of an exchange: the flow is an exchange (on its
    /// list, with <see cref="FlowTableOptions.UdpExchangeTimeout"/>) while it was answered and every packet came within
    /// <see cref="FlowTableOptions.UdpExchangeSpan"/> of its first; once a packet comes later it is not one again.
    /// The flow was just touched, so it is the newest of its list and stays the newest of the one it moves to.</summary>
    private void Exchange(Flow f, Timestamp now)
    {
        bool answered = f.ClientToServer.Packets > 0 && f.ServerToClient.Packets > 0;
        bool exchange = answered && now.UnixNanoseconds - f.Start.UnixNanoseconds < _exchangeSpanNanos;
        if (exchange == f.OnExchangeList) return;
        Unlink(f);
        f.OnExchangeList = exchange;
        Link(f);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Touch(Flow f)
    {
        if (f.OnEndedList) return; // placed by time once its time is known (Retouch)
        var l = ListOf(f);
        if (Newest(l) == f) return;
        Unlink(f, l);
        Link(f, l);
    }

    private void Link(Flow f) => Link(f, ListOf(f));

    private void Link(Flow f, Lru l)
    {
        ref Flow? newest = ref Newest(l);
        f.Older = newest; f.Newer = null;
        if (newest != null) newest.Newer = f; else Oldest(l) = f;
        newest = f;
    }

    private void Unlink(Flow f) => Unlink(f, ListOf(f));

    private void Unlink(Flow f, Lru l)
    {
        if (f.Older != null) f.Older.Newer = f.Newer; else Oldest(l) = f.Newer;
        if (f.Newer != null) f.Newer.Older = f.Older; else Newest(l) = f.Older;
        f.Older = f.Newer = null;
    }

    /// <summary>The flow's connection just closed (FIN from both sides): it moves to the list of ended flows, which
    /// leave the table after <see cref="FlowTableOptions.TcpEndedTimeout"/> without a packet.</summary>
    private void Ended(Flow f)
    {
        Unlink(f, Lru.Tcp);
        f.OnEndedList = true;
        LinkByTime(f);
    }

    /// <summary>A packet of a closed connection: it takes its place by time again; one with data (the connection is
    /// still resending) returns the flow to the TCP list and its idle timeout.</summary>
    private void Retouch(Flow f, bool resumes)
    {
        Unlink(f, Lru.Ended);
        if (resumes)
        {
            f.OnEndedList = false;
            Link(f, Lru.Tcp);
        }
        else LinkByTime(f);
    }

    /// <summary>Steps <see cref="LinkByTime"/> takes back from the newest at most (a hostile capture whose times run
    /// backwards would otherwise make each insertion walk the whole list).</summary>
    internal const int MaxOrderSteps = 4096;

    /// <summary>Into the ended list after the last flow whose last packet is not later than this one's (from the newest:
    /// one step when capture time runs forward; equal times keep the order they were touched in).</summary>
    private void LinkByTime(Flow f)
    {
        Flow? after = _ended.Newest;
        for (int steps = 0; after != null && after.LastSeen > f.LastSeen; steps++)
        {
            if (steps == MaxOrderSteps) { EndedOutOfOrder++; break; }
            after = after.Older;
        }
        f.Older = after;
        f.Newer = after is null ? _ended.Oldest : after.Newer;
        if (f.Newer != null) f.Newer.Older = f; else _ended.Newest = f;
        if (after != null) after.Newer = f; else _ended.Oldest = f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ExpireIdle(Timestamp now)
    {
        long t = now.UnixNanoseconds;
        while (_tcp.Oldest != null && t - _tcp.Oldest.LastSeen.UnixNanoseconds > _tcpIdleNanos) Retire(_tcp.Oldest, FlowEnd.IdleTimeout);
        while (_other.Oldest != null && t - _other.Oldest.LastSeen.UnixNanoseconds > _otherIdleNanos) Retire(_other.Oldest, FlowEnd.IdleTimeout);
        while (_exchange.Oldest != null && t - _exchange.Oldest.LastSeen.UnixNanoseconds > _exchangeIdleNanos) Retire(_exchange.Oldest, FlowEnd.IdleTimeout);
        while (_ended.Oldest != null && t - _ended.Oldest.LastSeen.UnixNanoseconds > _endedIdleNanos)
        {
            EndedTimedOut++;
            Retire(_ended.Oldest, _ended.Oldest.EndReason);
        }
    }

    private void EvictOldest()
    {
        Flow? victim = OldestTcp();
        if (victim == null || (_other.Oldest != null && _other.Oldest.LastSeen < victim.LastSeen)) victim = _other.Oldest;
        if (victim == null || (_exchange.Oldest != null && _exchange.Oldest.LastSeen < victim.LastSeen)) victim = _exchange.Oldest;
        if (victim == null) return;
        Evicted++;
        Retire(victim, FlowEnd.Evicted);
    }

    /// <summary>The TCP flow to evict: the head of the TCP list (least recently touched) or of the ended list (earliest
    /// last packet), whichever was touched first (<see cref="Flow.LastFrame"/>).</summary>
    private Flow? OldestTcp() =>
        _ended.Oldest == null || _tcp.Oldest != null && _tcp.Oldest.LastFrame < _ended.Oldest.LastFrame ? _tcp.Oldest : _ended.Oldest;

    private void Retire(Flow f, FlowEnd reason)
    {
        var next = f.Newer; // the next to leave this list, if idle: Unlink writes its record
        Unlink(f);
        if (next is not null)
        {
            _live.Prefetch(next);
            // Idle expiry walks records untouched for the idle time, out of the caches: while this one closes, the
            // record after the next and the next one's application and TCP states are loaded (the next record is in
            // the cache: Unlink wrote it).
            if (next.Newer is { } after) CachePrefetch.Object(after, 4);
            if (next.AppStored is { } app) CachePrefetch.Object(app, 2);
            if (next.TcpIfMade is { } tcp) CachePrefetch.Object(tcp, 3);
        }
        _live.Remove(f);
        if (reason == FlowEnd.IdleTimeout) Expired++;
        // A flow that already ended by FIN/RST keeps that reason; idle expiry just removes it.
        Close(f, f.EndReason is FlowEnd.Fin or FlowEnd.Reset ? f.EndReason : reason);
    }

    /// <summary>The flow's only packet, <paramref name="p"/>, is the client's pure SYN and the analysis is done with
    /// it: the flow keeps the SYN's fields instead of its TCP state (<see cref="Flow.Tcp"/>), which is kept for the
    /// next new flow.</summary>
    internal void HoldSyn(Flow flow, ref DecodedPacket p) => flow.HoldSyn(ref p);

    /// <summary>Called once per flow as it leaves the table (not per packet), before the record can be recycled.</summary>
    public Action<Flow>? FlowClosing { get; set; }

    private void Close(Flow f, FlowEnd reason)
    {
        f.EndReason = reason;
        FlowClosing?.Invoke(f);
        // A held SYN's state, rebuilt for the detectors at its close, goes again: readers after this rebuild it.
        f.ReleaseRebuiltSyn();
        if (_closed.Count < _options.MaxReportedFlows)
        {
            f.ReleaseForReport();
            _closed.Add(f);
        }
        else
        {
            NotReported++;
            // At the end of input no flow is made any more: the record is let go.
            if (!_finishing) _free.Push(f);
        }
    }


    /// <summary>End of input: every live flow is closed with its current state (Open, Fin or Reset).</summary>
    public void Finish()
    {
        _finishing = true;
        long let = _free.Count + Math.Max(0, _live.Count - (_options.MaxReportedFlows - _closed.Count));
        _free.Clear();
        // TCP flows, ended or not, in the order they were last touched (parallel workers' closes merge in that order).
        var tcp = new List<Flow>(_live.Count);
        for (var f = _tcp.Oldest; f != null; f = f.Newer) tcp.Add(f);
        for (var f = _ended.Oldest; f != null; f = f.Newer) tcp.Add(f);
        tcp.Sort(static (a, b) => a.LastFrame.CompareTo(b.LastFrame));
        foreach (var f in tcp) { Unlink(f); _live.Remove(f); Close(f, f.EndReason); }
        tcp.Clear(); // the records not kept for the report are let go below: this list must not hold them
        // The other flows in the order they were last touched, as the two lists (each in that order) merge.
        while (_other.Oldest != null || _exchange.Oldest != null)
        {
            var f = _exchange.Oldest == null || _other.Oldest != null && _other.Oldest.LastFrame < _exchange.Oldest.LastFrame
                ? _other.Oldest! : _exchange.Oldest;
            Unlink(f); _live.Remove(f); Close(f, f.EndReason);
        }
        _live.TrimExcess();
        // Records not kept for the report were let go. When they are a large part of the heap (a flood of flows that
        // carried nothing filled the table), it is collected now, so that the report is written in their place instead
        // of on top of them (1 M SYNs: peak RSS 259 -> 242 MB under JIT). Not when they are a small part: the collection
        // costs a mark of the whole heap (0.2 s on 400 MB of DNS transactions kept for the report).
        if (let >= LargeRelease && let * RecordBytes * 3 >= GC.GetTotalMemory(forceFullCollection: false))
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
    }

    /// <summary>Records let go at the end of input from which the heap may be collected at once (see <see cref="Finish"/>).</summary>
    internal const int LargeRelease = 50_000;
    /// <summary>A flow record's size (measured: <c>EngineAllocationTests.SynOnlyFlow_AllocatesAFewHundredBytes</c>).</summary>
    private const long RecordBytes = 256;

    /// <summary>Flows that have left the table, in the order they left; after <see cref="Finish"/>, all flows.</summary>
    public IReadOnlyList<Flow> ClosedFlows => _closed;

    /// <summary>The live flow with this key, or null (no side effects: not touched, not counted).</summary>
    public Flow? Find(in FlowKey key) => _live.Find(key);

    /// <summary>Live flows (for snapshots); enumerates the table.</summary>
    public IEnumerable<Flow> LiveFlows => _live.Values;
}
