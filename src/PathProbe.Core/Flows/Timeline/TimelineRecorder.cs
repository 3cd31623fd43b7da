using PathProbe.Decoding;
using PathProbe.Flows.Tcp;

namespace PathProbe.Flows.Timeline;

/// <summary>
/// Feeds each TCP segment into its flow's <see cref="FlowTimeline"/> (opt-in: <c>AnalysisOptions.Timelines</c>, used
/// by the TUI). Runs after the TCP analyzer and the SMTP analyzer for the segment. Allocates the timeline once per
/// flow record; nothing per packet. Records, per direction and point: the data's sequence range, size, resends, the
/// peer's ACK, receive-window edge and SACK blocks, the RTT samples the analyzer took, and the application phase
/// (<see cref="Flow.App"/>) when it changed.
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
        ref readonly DirectionStats ds = ref fromClient ? ref flow.ClientToServer : ref flow.ServerToClient;
        ref readonly DirectionStats ps = ref fromClient ? ref flow.ServerToClient : ref flow.ClientToServer;

        if (p.PayloadWireLength > 0 && ds.BaseSeqSet)
        {
            // Relative sequence numbers as unsigned offsets from the direction's base (flows under 4 GiB per direction).
            uint lo = p.Seq - ds.BaseSeq, hi = lo + (uint)p.PayloadWireLength;
            if (d.DataSegments == 0 || lo < d.SeqLow) d.SeqLow = lo;
            if (hi > d.SeqHigh) d.SeqHigh = hi;
            int ip = p.Reassembled ? p.LargestFragment : p.IpPacketLength;
            ushort ip16 = (ushort)Math.Min(ip, ushort.MaxValue);
            if (ip16 > d.MaxIpPacket) d.MaxIpPacket = ip16;
            if (d.DataSegments < ushort.MaxValue) d.DataSegments++;
            d.PayloadBytes = (uint)Math.Min(uint.MaxValue, (ulong)d.PayloadBytes + (uint)p.PayloadWireLength);
            if ((analysis & TcpAnalysisFlags.AnyRetransmission) != 0)
            {
                if (d.Retransmissions < ushort.MaxValue) d.Retransmissions++;
                if (ip16 > d.MaxResentIpPacket) d.MaxResentIpPacket = ip16;
            }
        }
        var f = p.TcpFlags;
        if ((f & TcpFlags.Ack) != 0 && ps.BaseSeqSet)
        {
            // This packet acknowledges the peer's data: the ACK line, the receive window and SACK blocks are the peer's.
            uint a = p.Ack - ps.BaseSeq;
            if (a > peer.AckHigh) peer.AckHigh = a;
            uint edge = a + (uint)Math.Min((ulong)uint.MaxValue - a, (ulong)p.Window << WindowShift(flow, fromClient, f));
            if (edge > peer.WindowEdge) peer.WindowEdge = edge;
            int blocks = Math.Min((int)p.TcpOptions.SackBlockCount, 4);
            for (int i = 0; i < blocks; i++)
            {
                uint l = p.TcpOptions.SackLeft(i) - ps.BaseSeq, r = p.TcpOptions.SackRight(i) - ps.BaseSeq;
                if (r <= l) continue; // a malformed or wrapped block
                if (peer.SackHigh == 0 || l < peer.SackLow) peer.SackLow = l;
                if (r > peer.SackHigh) peer.SackHigh = r;
            }
        }
        if ((f & TcpFlags.Syn) != 0) d.Marks |= TimelineMarks.Syn;
        if ((f & TcpFlags.Fin) != 0) d.Marks |= TimelineMarks.Fin;
        if ((f & TcpFlags.Rst) != 0) d.Marks |= TimelineMarks.Reset;
        if ((analysis & TcpAnalysisFlags.ZeroWindow) != 0) d.Marks |= TimelineMarks.ZeroWindow;
        if ((analysis & TcpAnalysisFlags.DuplicateAck) != 0) d.Marks |= TimelineMarks.DuplicateAck;
        if ((analysis & TcpAnalysisFlags.LostPacket) != 0) d.Marks |= TimelineMarks.Gap;

        if (flow.Tcp is { } tcp)
        {
            // The analyzer took an RTT sample of one side's data with this segment: plot it at this time.
            if (tcp.Client.Rtt.Count != tl.ClientRttSamples)
            {
                tl.ClientRttSamples = tcp.Client.Rtt.Count;
                Sample(ref pt.ClientToServer, tcp.Client.Rtt.LastNanos);
            }
            if (tcp.Server.Rtt.Count != tl.ServerRttSamples)
            {
                tl.ServerRttSamples = tcp.Server.Rtt.Count;
                Sample(ref pt.ServerToClient, tcp.Server.Rtt.LastNanos);
            }
        }

        string? phase = flow.App?.Phase;
        if (phase is not null && !string.Equals(phase, tl.LastPhase, StringComparison.Ordinal)) tl.AddPhase(now, phase);
    }

    private static void Sample(ref TimelineDirection d, long nanos)
    {
        uint us = (uint)Math.Clamp(nanos / 1000, 1, uint.MaxValue);
        if (us > d.RttMaxMicros) d.RttMaxMicros = us;
    }

    /// <summary>The window shift of the packet's sender (RFC 7323 2.3): none in a SYN, and only when both sides sent the
    /// window-scale option; unknown scaling (handshake not captured) is taken as none.</summary>
    private static int WindowShift(Flow flow, bool fromClient, TcpFlags f)
    {
        if ((f & TcpFlags.Syn) != 0 || flow.Tcp is not { } tcp) return 0;
        var sender = fromClient ? tcp.Client : tcp.Server;
        var other = fromClient ? tcp.Server : tcp.Client;
        return sender.WinScale >= 0 && other.WinScale >= 0 ? sender.WinScale : 0;
    }
}
