using System.Runtime.CompilerServices;

namespace PathProbe.Flows.Tcp;

[InlineArray(8)]
public struct SackRanges
{
    private uint _e0;
}

/// <summary>
/// One direction of a TCP connection: the sequence-analysis state Wireshark keeps per direction
/// (tcp_flow_t + tcp_analyze_seq_flow_info_t, see ARCHITECTURE.md and README "TCP analysis"), counters, RTT samples
/// and retransmission series. Reused with its flow: no allocation per packet; the unacked-segment list grows to
/// <see cref="MaxUnacked"/> at most.
/// </summary>
public sealed class TcpEndpointState
{
    /// <summary>Unacknowledged segments kept per direction (Wireshark keeps up to 10000). They only feed RTT samples,
    /// bytes in flight and retransmission series; the classification itself does not depend on them.</summary>
    public const int MaxUnacked = 4096;

    // ---- Wireshark's per-direction state ------------------------------------------------------------------------
    /// <summary>Raw (unscaled) window of the last packet; 0xFFFFFFFF before the first.</summary>
    public uint Window = uint.MaxValue;
    /// <summary>-1 unknown (handshake not seen), -2 no scaling, otherwise the shift.</summary>
    public int WinScale = -1;
    public bool IsFirstAck;
    public bool ValidBif = true;
    public TcpAnalysisFlags LastSegmentFlags;
    public uint NextSeq;
    public long NextSeqTime;
    public uint MaxSeqToBeAcked;
    public uint LastAck;
    public long LastAckTime;
    public int DupAckNum;
    /// <summary>SACK blocks of this side's latest packet (at most 3 are used, as in Wireshark).</summary>
    public int SackCount;
    public SackRanges Sack;

    // Unacked segments, oldest first, in [UHead, UCount) of one array (allocated on first use). While USorted holds,
    // entries are in increasing sequence order (no resend of older data among them), so an ACK only removes a prefix.
    internal int UHead;
    internal bool USorted = true;
    internal UnackedSegment[]? Unacked;
    internal int UCount;
    /// <summary>Segments not tracked because the list was full.</summary>
    public long UnackedOverflow;

    // ---- What PathProbe reports --------------------------------------------------------------------------------
    /// <summary>This side's counters; zero until the first data segment or classified segment (a SYN-only flow has
    /// none: 160 bytes saved per direction), and kept as two numbers once the flow closed with nothing but data
    /// segments and bytes in flight to count (<see cref="ReleaseForReport"/>).</summary>
    public TcpCounters Counters => _counters is { } box ? box.Value
        : _closedDataSegments == 0 && _closedMaxBytesInFlight == 0 ? default
        : new TcpCounters { DataSegments = _closedDataSegments, MaxBytesInFlight = _closedMaxBytesInFlight };
    /// <summary><see cref="Counters"/> of a side whose flow is still analysed, without a copy (the TCP analyzer's
    /// reads per segment).</summary>
    internal ref readonly TcpCounters LiveCounters => ref (_counters ?? NoCounters).Value;
    /// <summary>The counters to update, made on first need (from a closed flow's spare when one waits).</summary>
    internal ref TcpCounters CountersToWrite
    {
        get
        {
            System.Diagnostics.Debug.Assert(!IsShared, "a side that has not sent is read-only");
            return ref (_counters ?? NewCounters()).Value;
        }
    }
    private CountersBox? _counters;
    // A closed side's counters when the others are zero (most connections): 16 bytes instead of a 160-byte box.
    private long _closedDataSegments, _closedMaxBytesInFlight;
    private static readonly CountersBox NoCounters = new();
    private sealed class CountersBox { public TcpCounters Value; }
    /// <summary>Boxes of closed sides waiting for the next sides of this thread (<see cref="ThreadSpares{T}"/>).</summary>
    internal const int SpareCounters = 1024;

    private CountersBox NewCounters()
    {
        var box = ThreadSpares<CountersBox>.Take() ?? new CountersBox();
        // Written again after its flow closed (not done today): the numbers kept go back into the box.
        box.Value = new TcpCounters { DataSegments = _closedDataSegments, MaxBytesInFlight = _closedMaxBytesInFlight };
        _closedDataSegments = _closedMaxBytesInFlight = 0;
        return _counters = box;
    }

    /// <summary>The flow closed: counters that are only data segments and bytes in flight are kept as two numbers and
    /// the box goes to the next sides of this thread.</summary>
    private void CompactCounters()
    {
        if (_counters is not { } box || !box.Value.OnlyDataAndInFlight) return;
        _closedDataSegments = box.Value.DataSegments;
        _closedMaxBytesInFlight = box.Value.MaxBytesInFlight;
        _counters = null;
        ThreadSpares<CountersBox>.Give(box, SpareCounters); // the next side sets its value (NewCounters)
    }
    /// <summary>RTT samples taken for data this side sent; empty (a shared, never written instance) until the first.</summary>
    public RttStats Rtt => _rtt ?? NoRtt;
    /// <summary>The samples to add to, made with the first (a flow that never completes a round trip has none).</summary>
    internal RttStats RttSamples { get { System.Diagnostics.Debug.Assert(!IsShared); return _rtt ??= new(); } }
    private RttStats? _rtt;
    private static readonly RttStats NoRtt = new();
    /// <summary>The retransmission series in progress (or the last one); empty when this side never resent.</summary>
    public ref readonly RetransmissionSeries Series => ref (_series ?? NoSeries).Current;
    /// <summary>The series with the most resends so far.</summary>
    public ref readonly RetransmissionSeries WorstSeries => ref (_series ?? NoSeries).Worst;
    /// <summary>The series to update, made on this side's first resend (most flows never resend: 320 bytes saved
    /// per direction).</summary>
    internal RetransmissionState Resends { get { System.Diagnostics.Debug.Assert(!IsShared); return _series ??= new(); } }
    private RetransmissionState? _series;
    // Read-only stand-in for a side that never resent: never written (writers go through Resends).
    private static readonly RetransmissionState NoSeries = new();
    /// <summary>Time of the last data segment from this side (0 = none).</summary>
    public long LastDataTime;

    // TCP timestamps (RFC 7323) for RTT samples: when each new TSval was first sent (a ring, TcpAnalyzer.TimestampRtt:
    // 4 entries first, doubled as the side sends new TSvals, up to 32).
    internal uint[]? TsVals;
    internal long[]? TsTimes;
    internal int TsNext;

    /// <summary>Stands for a side that has not sent yet (see <see cref="TcpConnectionState.Server"/>): read, never written.</summary>
    internal bool IsShared { get; private init; }
    internal static readonly TcpEndpointState Unborn = new() { IsShared = true };
    /// <summary>The same, after the other side's SYN without the window-scale option (no scaling for either side).</summary>
    internal static readonly TcpEndpointState UnbornNoScale = new() { IsShared = true, WinScale = -2 };

    internal void Reset()
    {
        Window = uint.MaxValue; WinScale = -1; IsFirstAck = false; ValidBif = true; LastSegmentFlags = 0;
        NextSeq = 0; NextSeqTime = 0; MaxSeqToBeAcked = 0; LastAck = 0; LastAckTime = 0; DupAckNum = 0;
        SackCount = 0; UCount = 0; UHead = 0; USorted = true; UnackedOverflow = 0;
        if (_counters is not null) _counters.Value = default;
        _closedDataSegments = _closedMaxBytesInFlight = 0;
        _rtt?.Reset();
        if (_series is not null) { _series.Current = default; _series.Worst = default; }
        LastDataTime = 0; TsNext = 0;
        if (TsTimes is not null) Array.Clear(TsTimes); // a zero send time marks a free slot (TimestampRtt)
    }

    /// <summary>The flow closed and is kept for the report: what only the analysis of further packets needs (the
    /// unacknowledged-segment list, the TCP timestamp ring, the RTT samples once their median is taken) is let go, and
    /// counters with nothing to say but data are kept as two numbers.</summary>
    internal void ReleaseForReport()
    {
        GrowArrays<UnackedSegment>.Return(Unacked);
        Unacked = null;
        UCount = 0; UHead = 0; USorted = true;
        GrowArrays<uint>.Return(TsVals);
        GrowArrays<long>.Return(TsTimes);
        TsVals = null; TsTimes = null; TsNext = 0;
        _rtt?.Freeze();
        CompactCounters();
    }

    internal void PushUnacked(uint seq, uint next, long time, bool retransmitted)
    {
        System.Diagnostics.Debug.Assert(!IsShared, "a side that has not sent is read-only (TcpConnectionState.ServerToWrite)");
        // Sized to what the flow uses: a SYN-only flow holds one entry (two fit); the array doubles as data flows.
        Unacked ??= GrowArrays<UnackedSegment>.Rent(2);
        var u = Unacked;
        if (UCount == u.Length && UHead > 0)
        {
            // Move the live entries to the front before growing.
            int live = UCount - UHead;
            Array.Copy(u, UHead, u, 0, live);
            UHead = 0; UCount = live;
        }
        if (UCount == u.Length)
        {
            if (UCount >= MaxUnacked) { UnackedOverflow++; return; }
            Unacked = GrowArrays<UnackedSegment>.Grow(u, UCount * 2);
            u = Unacked;
        }
        if (UCount > UHead && PathProbe.Primitives.SeqNum.Before(seq, u[UCount - 1].Next)) USorted = false;
        u[UCount] = new UnackedSegment { Seq = seq, Next = next, Time = time, Retransmitted = retransmitted };
        UCount++;
    }

    /// <summary>Unacknowledged segments currently tracked.</summary>
    public int UnackedCount => UCount - UHead;

    /// <summary>Times the segment starting at <paramref name="seq"/> was sent (oldest first, as many as fit in
    /// <paramref name="times"/>); returns how many sends the unacked list holds.</summary>
    internal int SendTimesOf(uint seq, Span<long> times) => SendTimesOf(seq, times, default);

    /// <summary>As above, also the payload length of each send in <paramref name="lengths"/> (when not empty).</summary>
    internal int SendTimesOf(uint seq, Span<long> times, Span<int> lengths)
    {
        int n = 0;
        for (int i = UHead; i < UCount; i++)
            if (Unacked![i].Seq == seq)
            {
                if (n < times.Length) times[n] = Unacked[i].Time;
                if (n < lengths.Length) lengths[n] = (int)unchecked(Unacked[i].Next - Unacked[i].Seq);
                n++;
            }
        return n;
    }
}

/// <summary>One unacknowledged segment of <see cref="TcpEndpointState"/> (24 bytes).</summary>
internal struct UnackedSegment
{
    public uint Seq;
    public uint Next;
    public long Time;
    public bool Retransmitted;
}

/// <summary>What a stalled flow is waiting for.</summary>
public enum StallKind : byte
{
    /// <summary>Nothing outstanding: one side waits for the other's next message.</summary>
    Application,
    /// <summary>Data outstanding and being resent (or, seen from the receiver, missing).</summary>
    RtoBackoff,
    /// <summary>The receiver's window is closed.</summary>
    ZeroWindow,
}

/// <summary>Handshake progress of a TCP flow.</summary>
public enum TcpHandshake : byte
{
    /// <summary>No SYN seen: the capture started mid-connection.</summary>
    NotSeen,
    SynSent,
    SynAckSent,
    Established,
}

/// <summary>Per-flow TCP state: both endpoints plus what Wireshark keeps per conversation and what stall and
/// connect detection need. Attached to its <see cref="Flow"/> and reused with it.</summary>
/// <summary>A side's retransmission series (<see cref="TcpEndpointState.Series"/>), made on its first resend.</summary>
internal sealed class RetransmissionState
{
    public RetransmissionSeries Current;
    public RetransmissionSeries Worst;
}

public sealed class TcpConnectionState
{
    /// <summary>The flow closed and is kept for the report: see <see cref="TcpEndpointState.ReleaseForReport"/>.</summary>
    internal void ReleaseForReport()
    {
        Client.ReleaseForReport();
        _server?.ReleaseForReport();
        if (ClientMtuActive) ClientMtu!.ReleaseForReport();
        if (ServerMtuActive) ServerMtu!.ReleaseForReport();
    }

    /// <summary>The state is dropped (a spare that another took the place of): the arrays its sides grew go back to the
    /// thread's free lists (<see cref="GrowArrays{T}"/>) instead of to the collector.</summary>
    internal void GiveBackArrays()
    {
        Client.ReleaseForReport();
        _server?.ReleaseForReport();
        _spareServer?.ReleaseForReport();
        ClientMtu?.ReleaseForReport();
        ServerMtu?.ReleaseForReport();
    }

    public readonly TcpEndpointState Client = new();
    /// <summary>The server side. Made when the analysis first writes it (its first segment, or an ACK or SYN-ACK
    /// that reaches it); until then a shared, never written stand-in with a fresh side's values, so a SYN-only flow
    /// (a scan, a flood, a server that never answered) holds one side's state instead of two.</summary>
    public TcpEndpointState Server => _server ?? (_serverNoScale ? TcpEndpointState.UnbornNoScale : TcpEndpointState.Unborn);
    /// <summary>The server side to write, made on first need.</summary>
    internal TcpEndpointState ServerToWrite
    {
        get
        {
            if (_server is null)
            {
                _server = _spareServer ?? new TcpEndpointState();
                _spareServer = null;
                _server.Reset();
                if (_serverNoScale) _server.WinScale = -2;
            }
            return _server;
        }
    }
    /// <summary>The server side has been made (it sent, or was written).</summary>
    internal bool HasServer => _server is not null;
    /// <summary>The client's SYN without the window-scale option, noted while the server side is not made.</summary>
    internal void NoteServerNoScale() { if (_server is null) _serverNoScale = true; else _server.WinScale = -2; }
    private TcpEndpointState? _server;
    // A recycled record keeps the server side it had, made again only when the new flow needs one.
    private TcpEndpointState? _spareServer;
    private bool _serverNoScale;
    /// <summary>Time of the most recent pure SYN (0 = none).</summary>
    public long TsMruSyn;
    /// <summary>Initial RTT: first non-SYN ACK after the most recent SYN (0 = unknown).</summary>
    public long TsFirstRtt;
    public TcpHandshake Handshake;
    public int SynCount;
    public long FirstSynTime;
    public long LastSynTime;
    public bool SynAckSeen;
    /// <summary>The server answered the SYN with a RST (connection refused).</summary>
    public bool RefusedByReset;

    // Progress, read by the stall detector.
    public long LastProgressTime;
    public long LastPacketTime;
    /// <summary>Longest time between two packets while data was outstanding, and when it started.</summary>
    public long LongestGapOutstanding;
    public long LongestGapStart;

    /// <summary>The stall detector's state for this flow (owned by <c>Analysis/Tcp/TcpFindingDetector</c>; others read
    /// its verdicts through <c>IStallView</c>); a shared empty one until the flow's first stall.</summary>
    internal ref readonly StallTrack Stall => ref _stall is null ? ref NoStall : ref _stall.Value;
    /// <summary>The stall state to write, made with the flow's first stall (most flows never stall: 56 bytes saved).</summary>
    internal ref StallTrack StallToWrite
    {
        get
        {
            _stallWritten = true;
            return ref (_stall ??= new()).Value;
        }
    }
    // Written since the last reset (the box itself is kept for a recycled record).
    private bool _stallWritten;
    private StallBox? _stall;
    private static readonly StallTrack NoStall;
    private sealed class StallBox { public StallTrack Value; }

    /// <summary>Path-MTU evidence per direction (client → server, server → client); allocated on first need (a data
    /// packet above the minimum MTU, a hole, an ICMP too-big) and reused with the flow record.</summary>
    internal PathMtuDirection? ClientMtu;
    internal PathMtuDirection? ServerMtu;
    internal bool ClientMtuActive, ServerMtuActive;

    /// <summary>The evidence for data sent by the client (<paramref name="fromClient"/>) or the server, allocating it
    /// on first use.</summary>
    internal PathMtuDirection Mtu(bool fromClient)
    {
        if (fromClient)
        {
            if (!ClientMtuActive) { (ClientMtu ??= new PathMtuDirection()).Reset(); ClientMtuActive = true; }
            return ClientMtu!;
        }
        if (!ServerMtuActive) { (ServerMtu ??= new PathMtuDirection()).Reset(); ServerMtuActive = true; }
        return ServerMtu!;
    }

    /// <summary>The evidence for data sent by one side, or null when nothing was recorded.</summary>
    internal PathMtuDirection? MtuIfAny(bool fromClient) => fromClient ? (ClientMtuActive ? ClientMtu : null) : (ServerMtuActive ? ServerMtu : null);

    /// <summary>Nothing but the TCP analyzer's own fields was written: no server side, no stall, no path-MTU
    /// evidence (what a client's first SYN leaves; <see cref="Flow.ReleaseRebuiltSyn"/>).</summary>
    internal bool OnlySynState => _server is null && !_stallWritten && !ClientMtuActive && !ServerMtuActive;

    internal void Reset()
    {
        ClientMtuActive = false; ServerMtuActive = false;
        Client.Reset();
        if (_server is not null) { _spareServer = _server; _server = null; }
        _serverNoScale = false;
        TsMruSyn = 0; TsFirstRtt = 0; Handshake = TcpHandshake.NotSeen; SynCount = 0; FirstSynTime = 0; LastSynTime = 0;
        SynAckSeen = false; RefusedByReset = false;
        LastProgressTime = 0; LastPacketTime = 0; LongestGapOutstanding = 0; LongestGapStart = 0;
        if (_stall is not null) _stall.Value = default;
        _stallWritten = false;
    }
}

/// <summary>Per-flow stall bookkeeping of the stall detector (kept in the flow record, reset with it).</summary>
internal struct StallTrack
{
    /// <summary>A stall is in progress (no progress for longer than the threshold).</summary>
    public bool Open;
    public long Start;
    public StallKind Kind;
    public bool SenderIsClient;
    public long Outstanding;
    /// <summary>The receiver's ACK when the stall began: the first byte of the sender's data still owed.</summary>
    public uint AckPoint;
    public PathProbe.Findings.SmtpPosition? At;
    public PathProbe.Findings.VerdictHandle Handle;
    /// <summary>The latest stall verdict of this flow (open or ended).</summary>
    public PathProbe.Findings.Kinds.StallVerdict? Last;
    public int Reported;
    public long NotReported;
}
