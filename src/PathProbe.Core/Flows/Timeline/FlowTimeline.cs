using System.Runtime.InteropServices;

namespace PathProbe.Flows.Timeline;

/// <summary>What one direction of a TCP flow did during a <see cref="TimelinePoint"/>. Sequence numbers are relative to
/// the direction's base (Wireshark's relative sequence numbers), as unsigned offsets.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct TimelineDirection
{
    /// <summary>Lowest relative sequence number of data sent in the point (valid when <see cref="DataSegments"/> &gt; 0).</summary>
    public uint SeqLow;
    /// <summary>Highest relative sequence end (seq + length) of data sent in the point.</summary>
    public uint SeqHigh;
    /// <summary>Highest relative sequence number of this direction's data the peer acknowledged during the point (0 = no ACK in it).</summary>
    public uint AckHigh;
    /// <summary>Right edge of the peer's receive window for this direction's data: the highest ACK + scaled window it
    /// advertised during the point (0 = none): tcptrace's receive-window line.</summary>
    public uint WindowEdge;
    /// <summary>Span of the SACK blocks the peer sent for this direction's data during the point (left of the lowest
    /// block, right of the highest); <see cref="SackHigh"/> is 0 when there was none.</summary>
    public uint SackLow;
    public uint SackHigh;
    /// <summary>Payload bytes sent in the point, retransmissions included (throughput).</summary>
    public uint PayloadBytes;
    /// <summary>Largest RTT sample of this direction's data taken in the point, in microseconds (0 = no sample): the
    /// same samples the report's RTT comes from (<c>TcpEndpointState.Rtt</c>).</summary>
    public uint RttMaxMicros;
    /// <summary>Largest IP packet carrying data (bytes on the wire, clamped to 65535).</summary>
    public ushort MaxIpPacket;
    /// <summary>Largest IP packet carrying retransmitted data (0 = none).</summary>
    public ushort MaxResentIpPacket;
    public ushort DataSegments;
    public ushort Retransmissions;
    public TimelineMarks Marks;

    internal void Merge(in TimelineDirection o)
    {
        if (o.DataSegments > 0)
        {
            if (DataSegments == 0 || o.SeqLow < SeqLow) SeqLow = o.SeqLow;
            if (o.SeqHigh > SeqHigh) SeqHigh = o.SeqHigh;
        }
        if (o.AckHigh > AckHigh) AckHigh = o.AckHigh;
        if (o.WindowEdge > WindowEdge) WindowEdge = o.WindowEdge;
        if (o.SackHigh > 0)
        {
            if (SackHigh == 0 || o.SackLow < SackLow) SackLow = o.SackLow;
            if (o.SackHigh > SackHigh) SackHigh = o.SackHigh;
        }
        PayloadBytes = (uint)Math.Min(uint.MaxValue, (ulong)PayloadBytes + o.PayloadBytes);
        if (o.RttMaxMicros > RttMaxMicros) RttMaxMicros = o.RttMaxMicros;
        if (o.MaxIpPacket > MaxIpPacket) MaxIpPacket = o.MaxIpPacket;
        if (o.MaxResentIpPacket > MaxResentIpPacket) MaxResentIpPacket = o.MaxResentIpPacket;
        DataSegments = (ushort)Math.Min(ushort.MaxValue, DataSegments + o.DataSegments);
        Retransmissions = (ushort)Math.Min(ushort.MaxValue, Retransmissions + o.Retransmissions);
        Marks |= o.Marks;
    }
}

/// <summary>Events of one direction inside a point.</summary>
[Flags]
public enum TimelineMarks : byte
{
    None = 0,
    Syn = 1,
    Fin = 2,
    Reset = 4,
    ZeroWindow = 8,
    DuplicateAck = 16,
    /// <summary>"Previous segment not captured": a gap in the sequence space.</summary>
    Gap = 32,
}

/// <summary>One or more consecutive packets of a flow, merged: the time span and per-direction data, ACK progress,
/// sizes and retransmissions. 112 bytes.</summary>
public struct TimelinePoint
{
    /// <summary>Capture time of the first and last packet in the point (ns since the epoch).</summary>
    public long Start;
    public long End;
    public TimelineDirection ClientToServer;
    public TimelineDirection ServerToClient;
    /// <summary>Packets merged into this point.</summary>
    public int Packets;

    internal void Merge(in TimelinePoint o)
    {
        if (o.Start < Start) Start = o.Start;
        if (o.End > End) End = o.End;
        ClientToServer.Merge(o.ClientToServer);
        ServerToClient.Merge(o.ServerToClient);
        Packets += o.Packets;
    }
}

/// <summary>An application phase change ("ehlo", "data", ...) at a capture time.</summary>
public readonly record struct TimelinePhase(long Time, string Phase);

/// <summary>
/// What the TUI's per-flow timeline needs, kept per flow and bounded: at most <see cref="Capacity"/> points. Until
/// it is full every packet is a point; when full, adjacent points are merged pairwise and each point holds twice as
/// many packets from then on, so any flow is drawn from at most <see cref="Capacity"/> points. A packet after a
/// silence of a second or more always starts a new point so stalls stay visible. Phase changes are kept up to
/// <see cref="MaxPhases"/> (the rest counted). Allocated once per flow and reused with the recycled flow record.
/// Written only by the engine's thread; read it through <see cref="CopyPoints"/> on that thread (snapshots).
/// </summary>
public sealed class FlowTimeline
{
    public const int MaxPhases = 64;
    private const int InitialCapacity = 16;
    public const long SilenceNanos = 1_000_000_000;

    private TimelinePoint[] _points;
    private int _count;
    private int _packetsPerPoint = 1;
    private TimelinePhase[]? _phases;
    private int _phaseCount;

    internal FlowTimeline(int capacity)
    {
        Capacity = Math.Max(4, capacity & ~1);
        _points = new TimelinePoint[Math.Min(InitialCapacity, Capacity)];
    }

    /// <summary>Most points kept.</summary>
    public int Capacity { get; }
    /// <summary>Flow id the timeline belongs to (a recycled record gets a new id, and its timeline is reset).</summary>
    public int FlowId { get; internal set; }
    public int Count => _count;
    /// <summary>Packets per point since the last merge (1 until the timeline first filled up).</summary>
    public int PacketsPerPoint => _packetsPerPoint;
    public int PhaseCount => _phaseCount;
    public long PhasesDropped { get; private set; }
    /// <summary>The latest phase recorded (compared by reference: phases are constant strings).</summary>
    internal string? LastPhase;
    /// <summary>RTT sample counts of the client's and the server's data when last seen (a new sample shows as a change).</summary>
    internal long ClientRttSamples, ServerRttSamples;

    public ReadOnlySpan<TimelinePoint> Points => _points.AsSpan(0, _count);
    public ReadOnlySpan<TimelinePhase> Phases => _phases is null ? default : _phases.AsSpan(0, _phaseCount);

    public TimelinePoint[] CopyPoints() => Points.ToArray();
    public TimelinePhase[] CopyPhases() => Phases.ToArray();

    internal void Reset(int flowId)
    {
        FlowId = flowId;
        _count = 0;
        _packetsPerPoint = 1;
        _phaseCount = 0;
        PhasesDropped = 0;
        LastPhase = null;
        ClientRttSamples = ServerRttSamples = 0;
    }

    /// <summary>The point the next packet goes into: the last one while it has room, else a new one.</summary>
    internal ref TimelinePoint PointFor(long time)
    {
        if (_count > 0)
        {
            ref TimelinePoint last = ref _points[_count - 1];
            if (last.Packets < _packetsPerPoint && time - last.End < SilenceNanos)
            {
                if (time > last.End) last.End = time;
                last.Packets++;
                return ref last;
            }
        }
        if (_count == _points.Length)
        {
            if (_points.Length < Capacity) Array.Resize(ref _points, Math.Min(Capacity, _points.Length * 2));
            else Halve();
        }
        ref TimelinePoint p = ref _points[_count++];
        p = default;
        p.Start = p.End = time;
        p.Packets = 1;
        return ref p;
    }

    private void Halve()
    {
        int n = 0;
        for (int i = 0; i + 1 < _count; i += 2)
        {
            TimelinePoint merged = _points[i];
            merged.Merge(_points[i + 1]);
            _points[n++] = merged;
        }
        if ((_count & 1) != 0) _points[n++] = _points[_count - 1];
        _count = n;
        _packetsPerPoint *= 2;
    }

    internal void AddPhase(long time, string phase)
    {
        LastPhase = phase;
        if (_phaseCount == MaxPhases) { PhasesDropped++; return; }
        _phases ??= new TimelinePhase[8];
        if (_phaseCount == _phases.Length) Array.Resize(ref _phases, Math.Min(MaxPhases, _phases.Length * 2));
        _phases[_phaseCount++] = new TimelinePhase(time, phase);
    }
}
