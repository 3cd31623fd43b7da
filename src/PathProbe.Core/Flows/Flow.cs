using PathProbe.Decoding;
using PathProbe.Flows.Tcp;
using PathProbe.Primitives;

namespace PathProbe.Flows;

public enum FlowProtocol : byte { Tcp, Udp, Icmp }

/// <summary>How a flow left the table.</summary>
public enum FlowEnd : byte
{
    /// <summary>Still in the table at the end of input.</summary>
    Open,
    /// <summary>Both sides sent FIN.</summary>
    Fin,
    /// <summary>A RST was seen.</summary>
    Reset,
    /// <summary>Idle for longer than the protocol's timeout (capture time).</summary>
    IdleTimeout,
    /// <summary>Pushed out because the table was full.</summary>
    Evicted,
    /// <summary>Replaced by a new connection on the same addresses and ports (a SYN with a new ISN).</summary>
    Reused,
}

/// <summary>Per-direction counters of a flow. A struct stored inside <see cref="Flow"/>: no allocation to update.</summary>
public struct DirectionStats
{
    public long Packets;
    /// <summary>Transport payload bytes according to the headers.</summary>
    public long PayloadBytes;
    /// <summary>Frame bytes on the wire (what tshark's conversation table counts).</summary>
    public long FrameBytes;
    /// <summary>MSS option of this side's SYN, 0 when not seen.</summary>
    public ushort Mss;
    /// <summary>Window scale of this side's SYN, -1 when not seen.</summary>
    public sbyte WindowScale;
    /// <summary>Largest transport payload in one packet.</summary>
    public int MaxSegment;
    /// <summary>Largest IP packet (per its header length). For tunnelled traffic: the inner packet, the one the MSS and
    /// the path MTU of this flow are about; the tunnel packet's size is <see cref="MaxOuterIpPacket"/>.</summary>
    public int MaxIpPacket;
    /// <summary>Largest outermost tunnel IP packet on the wire (its largest fragment when reassembled); 0 when the
    /// direction was never tunnelled through IP.</summary>
    public readonly int MaxOuterIpPacket => _tunnel?.MaxOuterIpPacket ?? 0;
    /// <summary>Packets whose tunnel packet arrived in IP fragments and was reassembled before decapsulation (the
    /// tunnel's path has a smaller MTU than the tunnel needs).</summary>
    public readonly long OuterFragmented => _tunnel?.OuterFragmented ?? 0;
    /// <summary>The encapsulation of this direction's first packet (layers, overhead, tunnel endpoints); empty for plain
    /// traffic. <see cref="Encapsulation.MtuOverhead"/> is what the encapsulation takes from the link's IP MTU.</summary>
    public readonly ref readonly Encapsulation Encap => ref _tunnel is null ? ref Encapsulation.None : ref _tunnel.Encap;
    /// <summary>Packets whose encapsulation differed from <see cref="Encap"/> (another tunnel, tunnelled and plain
    /// mixed: a path change, or the same packets captured both inside and outside a tunnel).</summary>
    public readonly long EncapChanges => _tunnel?.EncapChanges ?? 0;
    // The four above, made with the direction's first tunnelled packet: plain traffic (most flows) carries one
    // reference instead of about 100 bytes per direction.
    private TunnelStats? _tunnel;
    internal TunnelStats TunnelToWrite => _tunnel ??= new();
    internal readonly bool HasTunnelStats => _tunnel is not null;
    /// <summary>A direction that carried nothing (<see cref="WindowScale"/> -1, the rest zero).</summary>
    internal static readonly DirectionStats None = new() { WindowScale = -1 };

    /// <summary>Clears this direction for a recycled flow record, keeping (cleared) the tunnel box it had.</summary>
    internal void Clear()
    {
        var t = _tunnel;
        this = default;
        WindowScale = -1;
        if (t is not null) { t.Encap = default; t.MaxOuterIpPacket = 0; t.OuterFragmented = 0; t.EncapChanges = 0; _tunnel = t; }
    }
    /// <summary>Largest frame captured (may exceed the MTU when the capture host offloads segmentation).</summary>
    public int MaxFrame;
    public long DfPackets;
    public long Fragmented;
    public Timestamp First;
    public Timestamp Last;
    public bool SynSeen;
    public bool FinSeen;
    public bool RstSeen;
    /// <summary>Sequence base of this direction (Wireshark's base_seq): the SYN's sequence number, else the first
    /// segment's sequence - 1, else the other side's first ACK - 1. Valid when <see cref="BaseSeqSet"/>.</summary>
    public uint BaseSeq;
    public bool BaseSeqSet;
}

/// <summary>A direction's tunnel figures (<see cref="DirectionStats.Encap"/> and the counters beside it), made with
/// its first tunnelled packet.</summary>
internal sealed class TunnelStats
{
    public Encapsulation Encap;
    public int MaxOuterIpPacket;
    public long OuterFragmented;
    public long EncapChanges;
}

/// <summary>
/// One bidirectional conversation. Allocated once per flow (never per packet). "Client" is the side that
/// sent the first SYN, else the side that is not on a well-known port, else the first sender.
/// </summary>
public sealed class Flow
{
    public int Id { get; internal set; }
    public FlowKey Key { get; internal set; }
    public FlowProtocol Protocol { get; internal set; }
    // Client and server are the key's two sides, read through ClientIsA (not stored twice: 36 bytes a flow).
    public IpAddress ClientAddress => ClientIsA ? Key.A : Key.B;
    public IpAddress ServerAddress => ClientIsA ? Key.B : Key.A;
    public ushort ClientPort => ClientIsA ? Key.PortA : Key.PortB;
    public ushort ServerPort => ClientIsA ? Key.PortB : Key.PortA;
    /// <summary>True when the canonical key's A side is the client.</summary>
    public bool ClientIsA { get; internal set; }
    /// <summary>"smtp", "dns" or null, from the ports until protocol analyzers decide.</summary>
    public string? Application { get; set; }
    public FlowEnd EndReason { get; internal set; }
    /// <summary>Index of the input (capture file) the flow came from.</summary>
    public int InputIndex { get; internal set; }
    /// <summary>This flow reused the addresses and ports of an earlier one (Wireshark's "port numbers reused").</summary>
    public bool ReusedPorts { get; internal set; }

    public DirectionStats ClientToServer;

    /// <summary>The server's direction. Its counters are made with the first packet toward the client (or the first
    /// ACK from the client, which sets its sequence base): a flow that only ever carried the client's packets (a scan,
    /// a SYN flood, a server that never answered) holds one reference instead of 88 bytes. Read-only; the flow table
    /// writes through <see cref="Direction"/>.</summary>
    public ref readonly DirectionStats ServerToClient => ref _serverToClient is null ? ref DirectionStats.None : ref _serverToClient.Stats;

    /// <summary>A direction's counters to write; the server's are made on first write.</summary>
    internal ref DirectionStats Direction(bool fromClient) =>
        ref fromClient ? ref ClientToServer : ref (_serverToClient ??= new()).Stats;

    private ServerDirection? _serverToClient;

    private sealed class ServerDirection
    {
        public DirectionStats Stats = DirectionStats.None;
    }

    /// <summary>Application-layer state (SMTP, DNS) attached by a protocol analyzer; cleared when the record is recycled.
    /// A state an analyzer left pending (<see cref="PendingApplication"/>: a client's SYN to its port is all the flow
    /// has) is made when first read.</summary>
    public IFlowApplication? App
    {
        get => _app is PendingApplication pending ? _app = pending.Create(this) : _app;
        set => _app = value;
    }

    /// <summary>The application state if it is made, without making a pending one.</summary>
    public IFlowApplication? AppIfMade => _app is PendingApplication ? null : _app;

    /// <summary>The application state or its stand-in, as stored (for <see cref="CachePrefetch"/>: reads no object).</summary>
    internal object? AppStored => _app;

    /// <summary>The stand-in an analyzer left for a state not made yet, else null.</summary>
    internal PendingApplication? PendingApp => _app as PendingApplication;

    private IFlowApplication? _app;

    /// <summary>TCP analysis state (TCP flows only); kept with the record when it is recycled. A flow whose only packet
    /// so far is the client's first SYN holds no state: the SYN's few fields are kept instead (<see cref="HoldSyn"/>),
    /// and the state is rebuilt from them, exactly as the analysis made it, when first read (and kept while the flow
    /// is in the table; once it has left, each read gets a state of its own that nothing keeps, so that 100,000 such
    /// flows kept for the report do not hold 100,000 states).</summary>
    public TcpConnectionState? Tcp => _tcp ?? (_syn.Held ? (_syn.Closed ? RebuildSyn() : MaterializeSyn()) : null);

    /// <summary>The TCP state if it exists now, without rebuilding a held SYN's (null then: the flow's only packet is
    /// one SYN, with no retransmission, no RTT and no data).</summary>
    public TcpConnectionState? TcpIfMade => _tcp;

    /// <summary>The flow's only packet is the client's SYN and its TCP state is not held (see <see cref="Tcp"/>).</summary>
    internal bool SynHeld => _syn.Held;

    private TcpConnectionState? _tcp;
    private HeldSyn _syn;

    /// <summary>What the analysis read from a flow's first packet, a client's pure SYN without payload or SACK blocks,
    /// beyond what the flow's counters keep for good (its time: <see cref="DirectionStats.First"/>; its sequence
    /// number: <see cref="DirectionStats.BaseSeq"/>). 20 bytes in place of the connection state's 390 (a SYN flood
    /// from distinct sources holds hundreds of thousands).</summary>
    private struct HeldSyn
    {
        public uint Ack, TsVal, TsEcr;
        public ushort Window;
        public TcpFlags Flags;
        public sbyte WindowScale;
        public bool HasTimestamps;
        public bool Held;
        /// <summary>The flow has left the table (see <see cref="Tcp"/>).</summary>
        public bool Closed;
    }

    /// <summary>Per-flow timeline for the TUI (only when <c>AnalysisOptions.Timelines</c> is on); kept with the record
    /// when it is recycled and reset by its recorder for the new flow id.</summary>
    public Timeline.FlowTimeline? Timeline { get; internal set; }

    // The analyzer that rebuilds a held SYN's state (ReplaySyn), one per thread.
    [ThreadStatic] private static Analysis.Tcp.TcpAnalyzer? t_replay;

    /// <summary>TCP states given back (a held SYN's, a recycled record's that became a UDP flow) that wait in
    /// <see cref="ThreadSpares{T}"/> for the next flows of this thread, at most (one with both sides, their counters and
    /// RTT samples is about 1 KB: 144 + 2 × 176 + 2 × 160 + 2 × 96 bytes by dotnet-gcdump): a SYN flood runs on one
    /// state, rebuilding a held SYN's state at its close allocates nothing, and records that change between TCP and UDP
    /// (DNS: a resolver's UDP queries and its TCP retries) take the states others gave back instead of new ones. Beyond
    /// the bound a state is left to the collector (a used one after giving its grown arrays back, see
    /// <see cref="Spare"/>).</summary>
    internal const int SpareTcpStates = 1024;

    /// <summary>Gives the flow its TCP state: the record's own (reset), else a spare one, else a new one.</summary>
    internal void AttachTcp()
    {
        if (_tcp is not null) { _tcp.Reset(); return; }
        _tcp = TakeSpare();
    }

    private static TcpConnectionState TakeSpare() => ThreadSpares<TcpConnectionState>.Take() ?? new TcpConnectionState();

    /// <summary>A recycled record made a UDP or ICMP flow: the TCP state of the connection it held before goes (to the
    /// spare), so that no reader takes it for this flow's.</summary>
    internal void DetachTcp()
    {
        if (_tcp is not { } c) return;
        _tcp = null;
        c.Reset();
        Spare(c, used: true);
    }

    /// <summary><paramref name="c"/> (reset) goes to the thread's spare TCP states, or to the collector when they are
    /// full. A state whose flow carried more than a SYN (<paramref name="used"/>) first gives the arrays its sides grew
    /// back to the free lists (<see cref="GrowArrays{T}"/>), so the spares are small whatever their flows carried; a
    /// held SYN's state keeps its first-size arrays for the next SYN (a flood runs on one state without renting).</summary>
    private static void Spare(TcpConnectionState c, bool used)
    {
        if (used) c.GiveBackArrays();
        ThreadSpares<TcpConnectionState>.Give(c, SpareTcpStates);
    }

    /// <summary>The flow's only packet, <paramref name="p"/>, is the client's pure SYN (no payload, no SACK blocks)
    /// and the analysis wrote nothing but the TCP analyzer's state for it: keep the SYN's fields and let the state go
    /// (reset, for the next flow). <see cref="Tcp"/> rebuilds it on first read.</summary>
    internal void HoldSyn(ref DecodedPacket p)
    {
        var c = _tcp!;
        _syn = new HeldSyn
        {
            Ack = p.Ack, Window = p.Window, Flags = p.TcpFlags, WindowScale = p.TcpOptions.WindowScale,
            HasTimestamps = p.TcpOptions.HasTimestamps, TsVal = p.TcpOptions.TsVal, TsEcr = p.TcpOptions.TsEcr,
            Held = true,
        };
        _tcp = null;
        c.Reset();
        Spare(c, used: false); // a pure SYN's state
    }

    /// <summary>A held flow leaves the table: the state rebuilt for the detectors at its close is given back when
    /// the SYN is still all it holds (nothing after this writes it), and later reads rebuild it each time.</summary>
    internal void ReleaseRebuiltSyn()
    {
        if (!_syn.Held) return;
        if (_tcp is { } c)
        {
            if (!c.OnlySynState) return; // a detector wrote to it at the close: the state stays with the flow
            _tcp = null;
            c.Reset();
            Spare(c, used: false); // a pure SYN's state
        }
        _syn.Closed = true;
    }

    /// <summary>A second packet arrived: the held SYN's state is made now and kept from here on.</summary>
    internal void EndSynHold()
    {
        if (!_syn.Held) return;
        _ = Tcp;
        _syn = default;
    }

    private TcpConnectionState MaterializeSyn()
    {
        var c = TakeSpare();
        ReplaySyn(c);
        _tcp = c;
        return c;
    }

    private TcpConnectionState RebuildSyn()
    {
        var c = new TcpConnectionState();
        ReplaySyn(c);
        return c;
    }

    private void ReplaySyn(TcpConnectionState c)
    {
        var p = new DecodedPacket
        {
            Time = ClientToServer.First,
            Seq = ClientToServer.BaseSeq,
            Ack = _syn.Ack,
            Window = _syn.Window,
            TcpFlags = _syn.Flags,
        };
        p.TcpOptions.WindowScale = _syn.WindowScale;
        p.TcpOptions.HasTimestamps = _syn.HasTimestamps;
        p.TcpOptions.TsVal = _syn.TsVal;
        p.TcpOptions.TsEcr = _syn.TsEcr;
        (t_replay ??= new()).Process(this, c, fromClient: true, ref p, firstPacket: true);
    }

    public Timestamp Start => ClientToServer.Packets == 0 ? ServerToClient.First :
        ServerToClient.Packets == 0 || ClientToServer.First <= ServerToClient.First ? ClientToServer.First : ServerToClient.First;
    /// <summary>The last packet's time. A direction that sent nothing has no time: its zero must not win (a capture
    /// whose times lie before 1970 would otherwise end every one-way flow at 1970-01-01).</summary>
    public Timestamp End => ClientToServer.Packets == 0 ? ServerToClient.Last :
        ServerToClient.Packets == 0 || ClientToServer.Last >= ServerToClient.Last ? ClientToServer.Last : ServerToClient.Last;
    public long Packets => ClientToServer.Packets + ServerToClient.Packets;

    // Intrusive LRU list links, ordered by last packet time (FlowTable owns them).
    internal Flow? Older;
    internal Flow? Newer;
    internal Timestamp LastSeen;
    /// <summary>When the flow was last touched: the flow table's count of updates (parallel analysis: the index of the
    /// input frame). Its place in the table's least-recently-used order, which decides the order flows close in when
    /// several leave at once, across the table's lists.</summary>
    internal long LastFrame;
    /// <summary>On the flow table's list of connections closed by FIN (FlowTable.TcpEndedTimeout).</summary>
    internal bool OnEndedList;
    /// <summary>On the flow table's list of UDP exchanges (FlowTable.UdpExchangeTimeout).</summary>
    internal bool OnExchangeList;

    /// <summary>The flow left the table and is kept for the report: per-packet analysis state is let go (see
    /// <see cref="TcpConnectionState.ReleaseForReport"/>); what the reports read stays.</summary>
    internal void ReleaseForReport() => _tcp?.ReleaseForReport();

    /// <summary>Clears the record for reuse by the flow table.</summary>
    internal void Reset()
    {
        Application = null;
        if (_app is IReusableApplication reusable) reusable.Recycle();
        App = null;
        _syn = default;
        EndReason = FlowEnd.Open;
        ReusedPorts = false;
        ClientToServer.Clear();
        _serverToClient?.Stats.Clear(); // the box stays with the record, cleared (reads as None)
        Older = Newer = null;
        LastSeen = default;
        LastFrame = 0;
        OnEndedList = false;
        OnExchangeList = false;
    }

    public string ClientEndpoint => ClientAddress.ToEndpointString(ClientPort);
    public string ServerEndpoint => ServerAddress.ToEndpointString(ServerPort);
    public string ProtocolName => Protocol switch { FlowProtocol.Tcp => "tcp", FlowProtocol.Udp => "udp", _ => "icmp" };
}
