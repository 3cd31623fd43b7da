using PathProbe.Decoding;
using PathProbe.Flows.Tcp;

namespace PathProbe.Flows.Timeline;

/// <summary>
/// Feeds each TCP segment into its flow's <see cref="FlowTimeline"/> (opt-in: <c>AnalysisOptions.Timelines</c>, used
/// by the TUI). Allocates the timeline once per flow record; nothing per packet. Also samples
/// <see cref="Flow.App"/>'s phase after each segment and records it when it changed.
/// </summary>
public sealed class TimelineRecorder(int capacity)
{
    public int Capacity { get; } = capacity;

    public void Record(Flow flow, bool fromClient, ref DecodedPacket p, TcpAnalysisFlags analysis)
    {
        var tl = flow.Timeline;
        if (tl is null) flow.Timeline = tl = new FlowTimeline(Capacity) { FlowId = flow.Id };
        else if (tl.FlowId != flow.Id) tl.Reset(flow.Id);

        long now = p.Time.UnixNanoseconds;
        ref TimelinePoint pt = ref tl.PointFor(now);
        ref TimelineDirection d = ref fromClient ? ref pt.ClientToServer : ref pt.ServerToClient;
        ref TimelineDirection peer = ref fromClient ? ref pt.ServerToClient : ref pt.ClientToServer;
        ref DirectionStats ds = ref fromClient ? ref flow.ClientToServer : ref flow.ServerToClient;
        ref DirectionStats ps = ref fromClient ? ref flow.ServerToClient : ref flow.ClientToServer;

        if (p.PayloadWireLength > 0 && ds.BaseSeqSet)
        {
            // Relative sequence numbers as unsigned offsets from the direction's base (flows under 4 GiB per direction).
            uint lo = p.Seq - ds.BaseSeq, hi = lo + (uint)p.PayloadWireLength;
            if (d.DataSegments == 0 || lo < d.SeqLow) d.SeqLow = lo;
            if (hi > d.SeqHigh) d.SeqHigh = hi;
            int ip = p.Reassembled ? p.LargestFragment : p.IpPacketLength;
            if (ip > d.MaxIpPacket) d.MaxIpPacket = (ushort)Math.Min(ip, ushort.MaxValue);
            if (d.DataSegments < ushort.MaxValue) d.DataSegments++;
            if ((analysis & TcpAnalysisFlags.AnyRetransmission) != 0 && d.Retransmissions < ushort.MaxValue) d.Retransmissions++;
        }
        var f = p.TcpFlags;
        if ((f & TcpFlags.Ack) != 0 && ps.BaseSeqSet)
        {
            uint a = p.Ack - ps.BaseSeq;
            if (a > peer.AckHigh) peer.AckHigh = a;
        }
        if ((f & TcpFlags.Syn) != 0) d.Marks |= TimelineMarks.Syn;
        if ((f & TcpFlags.Fin) != 0) d.Marks |= TimelineMarks.Fin;
        if ((f & TcpFlags.Rst) != 0) d.Marks |= TimelineMarks.Reset;
        if ((analysis & TcpAnalysisFlags.ZeroWindow) != 0) d.Marks |= TimelineMarks.ZeroWindow;
        if ((analysis & TcpAnalysisFlags.DuplicateAck) != 0) d.Marks |= TimelineMarks.DuplicateAck;
        if ((analysis & TcpAnalysisFlags.LostPacket) != 0) d.Marks |= TimelineMarks.Gap;

        string? phase = flow.App?.Phase;
        if (phase is not null && !string.Equals(phase, tl.LastPhase, StringComparison.Ordinal)) tl.AddPhase(now, phase);
    }
}
