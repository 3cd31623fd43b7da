using System.Runtime.CompilerServices;
using PathProbe.Decoding;
using PathProbe.Flows;
using PathProbe.Flows.Tcp;
using PathProbe.Primitives;

namespace PathProbe.Analysis.Tcp;

/// <summary>
/// Per-segment TCP sequence analysis with Wireshark 4.0's definitions (packet-tcp.c tcp_analyze_sequence_number),
/// so every count can be checked against tshark's tcp.analysis.* fields, plus RTT samples (Karn's rule), bytes in
/// flight and retransmission series. Single-threaded, no allocation per packet.
/// </summary>
public sealed class TcpAnalyzer
{
    private const TcpFlags SynFinRst = TcpFlags.Syn | TcpFlags.Fin | TcpFlags.Rst;
    private const long FastRetransmissionWindow = 20_000_000; // 20 ms, fixed in Wireshark
    private const long DefaultOutOfOrderThreshold = 3_000_000; // 3 ms when no handshake RTT is known

    /// <summary>Classifies one segment of <paramref name="flow"/> and updates its state. Call after the flow table
    /// has counted the packet. Returns the analysis flags of the segment.</summary>
    public TcpAnalysisFlags Process(Flow flow, bool fromClient, ref DecodedPacket p) =>
        Process(flow, flow.Tcp!, fromClient, ref p, flow.Packets == 1);

    /// <summary><see cref="Process(Flow, bool, ref DecodedPacket)"/> on the state <paramref name="c"/>;
    /// <paramref name="firstPacket"/>: <paramref name="p"/> is the flow's first packet (a held SYN rebuilt later,
    /// <see cref="Flow.Tcp"/>, is analysed as the first packet it was).</summary>
    internal TcpAnalysisFlags Process(Flow flow, TcpConnectionState c, bool fromClient, ref DecodedPacket p, bool firstPacket)
    {
        TcpFlags flags = p.TcpFlags;
        // The server side is made when it sends or an ACK reaches it; a client's pure SYN reads the shared stand-in
        // (nothing below writes the receiver of a pure SYN except its window scale, noted on the connection).
        bool peerUnborn = fromClient && !c.HasServer && (flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn;
        TcpEndpointState f = fromClient ? c.Client : c.ServerToWrite;
        TcpEndpointState r = fromClient ? (peerUnborn ? c.Server : c.ServerToWrite) : c.Client;
        long now = p.Time.UnixNanoseconds;
        SeqNum seq = p.Seq, ack = p.Ack;
        int seglen = p.PayloadWireLength;
        uint window = p.Window;
        bool noSfr = (flags & SynFinRst) == 0;

        var ta = TcpAnalysisFlags.None;
        if (flow.ReusedPorts && firstPacket) ta |= TcpAnalysisFlags.ReusedPorts;

        uint nextSeqBefore = f.NextSeq;
        uint fLastAckBefore = f.LastAck;
        bool fAckedBefore = f.LastAckTime != 0;
        bool outstandingBefore = Outstanding(c);

        if ((flags & TcpFlags.Ack) != 0) r.ValidBif = true;

        // A pure SYN repeating the ISN (a different ISN would have started a new flow): Wireshark restores nextseq
        // to the contiguous edge before analysing it (its issue 17616).
        if ((flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn && f.NextSeq != 0)
            f.NextSeq = f.MaxSeqToBeAcked;

        // 2. zero window probe
        if (seglen == 1 && seq.Value == f.NextSeq && r.Window == 0)
        {
            ta |= TcpAnalysisFlags.ZeroWindowProbe;
            goto finishedFwd;
        }
        // 3. zero window
        if (window == 0 && noSfr) ta |= TcpAnalysisFlags.ZeroWindow;
        // 4. lost segment: a hole before this segment
        if (f.NextSeq != 0 && seq > (SeqNum)f.NextSeq && (flags & TcpFlags.Rst) == 0)
        {
            ta |= TcpAnalysisFlags.LostPacket;
            f.ValidBif = false;
        }
        // 5. keep-alive
        if ((seglen == 0 || seglen == 1) && seq.Value == unchecked(f.NextSeq - 1) && noSfr) ta |= TcpAnalysisFlags.KeepAlive;
        // 6. window update
        if (seglen == 0 && window != 0 && window != f.Window && seq.Value == f.NextSeq && ack.Value == f.LastAck && noSfr)
            ta |= TcpAnalysisFlags.WindowUpdate;
        // 7. window full (receiver's window as scaled once its first non-SYN ACK was seen)
        if (seglen > 0 && r.WinScale != -1 && noSfr)
        {
            int shift = r.IsFirstAck ? 0 : r.WinScale == -2 ? 0 : r.WinScale;
            if (unchecked(seq.Value + (uint)seglen) == unchecked(r.LastAck + (r.Window << shift))) ta |= TcpAnalysisFlags.WindowFull;
        }
        // 8. keep-alive ACK
        if (seglen == 0 && window != 0 && window == f.Window && seq.Value == f.NextSeq && ack.Value == f.LastAck &&
            (r.LastSegmentFlags & TcpAnalysisFlags.KeepAlive) != 0 && noSfr)
        {
            ta |= TcpAnalysisFlags.KeepAliveAck;
            goto finishedFwd;
        }
        // 9. zero window probe ACK
        if (seglen == 0 && window == 0 && window == f.Window && seq.Value == f.NextSeq && ack.Value == f.LastAck &&
            (r.LastSegmentFlags & TcpAnalysisFlags.ZeroWindowProbe) != 0 && noSfr)
        {
            ta |= TcpAnalysisFlags.ZeroWindowProbeAck;
            goto finishedFwd;
        }
        // 10. duplicate ACK
        if (seglen == 0 && window != 0 && window == f.Window && seq.Value == f.NextSeq && ack.Value == f.LastAck && noSfr)
        {
            f.DupAckNum = f.DupAckNum == -1 ? 1 : f.DupAckNum + 1;
            ta |= TcpAnalysisFlags.DuplicateAck;
            if (f.DupAckNum > f.LiveCounters.MaxDuplicateAckNumber) f.CountersToWrite.MaxDuplicateAckNumber = f.DupAckNum;
        }

    finishedFwd:
        if (ack.Value != f.LastAck) f.DupAckNum = 0;

        // 11. ACKed segment that was not captured
        if (r.MaxSeqToBeAcked != 0 && ack > (SeqNum)r.MaxSeqToBeAcked && (flags & TcpFlags.Ack) != 0)
        {
            if (r.MaxSeqToBeAcked > r.NextSeq) // plain unsigned comparison, as in Wireshark
            {
                r.MaxSeqToBeAcked = r.NextSeq;
                ta |= TcpAnalysisFlags.AckLostPacket;
            }
            else
            {
                if (r.DupAckNum == 0) ta |= TcpAnalysisFlags.AckLostPacket;
                r.DupAckNum = -1;
            }
        }

        // 12. retransmission, fast retransmission, spurious retransmission, out-of-order
        if (seglen > 0 || (flags & (TcpFlags.Syn | TcpFlags.Fin)) != 0)
        {
            bool notAdvanced = f.NextSeq != 0 && seq < (SeqNum)f.NextSeq;
            if ((ta & TcpAnalysisFlags.KeepAlive) != 0) goto finishedChecking;
            if (seglen > 1 && unchecked(f.NextSeq - 1) == seq.Value) notAdvanced = false;
            if (seglen > 0 && r.LastAck != 0 && seq + seglen <= (SeqNum)r.LastAck)
            {
                ta |= TcpAnalysisFlags.SpuriousRetransmission;
                goto finishedChecking;
            }
            ulong t = unchecked((ulong)(now - r.LastAckTime));
            if (notAdvanced && r.DupAckNum >= 2 && r.LastAck == seq.Value && t < FastRetransmissionWindow)
            {
                ta |= TcpAnalysisFlags.FastRetransmission;
                goto finishedChecking;
            }
            t = unchecked((ulong)(now - f.NextSeqTime));
            long ooo = c.TsFirstRtt == 0 ? DefaultOutOfOrderThreshold : c.TsFirstRtt;
            uint end = unchecked(seq.Value + (uint)seglen + ((flags & (TcpFlags.Syn | TcpFlags.Fin)) != 0 ? 1u : 0u));
            if (notAdvanced && t < (ulong)ooo && f.NextSeq != end)
            {
                ta |= TcpAnalysisFlags.OutOfOrder;
                goto finishedChecking;
            }
            if (notAdvanced) ta |= TcpAnalysisFlags.Retransmission;
        }

    finishedChecking:
        // 13. bookkeeping
        bool retransmitted = (ta & (TcpAnalysisFlags.AnyRetransmission | TcpAnalysisFlags.OutOfOrder)) != 0;
        uint nextseq = unchecked(seq.Value + (uint)seglen);
        if (seglen != 0 || (flags & (TcpFlags.Syn | TcpFlags.Fin)) != 0)
        {
            if ((flags & (TcpFlags.Syn | TcpFlags.Fin)) != 0) nextseq++;
            f.PushUnacked(seq.Value, nextseq, now, retransmitted);
        }
        if ((SeqNum)nextseq > (SeqNum)f.NextSeq || f.NextSeq == 0)
        {
            if ((ta & TcpAnalysisFlags.ZeroWindowProbe) == 0) { f.NextSeq = nextseq; f.NextSeqTime = now; }
        }
        if (seq.Value == f.MaxSeqToBeAcked || f.MaxSeqToBeAcked == 0)
        {
            if ((ta & TcpAnalysisFlags.ZeroWindowProbe) == 0) f.MaxSeqToBeAcked = f.NextSeq;
        }
        f.Window = window;
        f.LastAck = ack.Value;
        f.LastAckTime = now;
        f.LastSegmentFlags = ta;

        // 14. the other side's unacked segments: prune with this ACK, take RTT samples (Karn: none for resent data).
        bool sampled = PruneAndSample(r, ack.Value, now);
        // TCP timestamps (RFC 7323 4.1): an ACK that advances echoes the TSval of the data it acknowledges, which is
        // unambiguous even for resent data; used when the exact-match rule above gave no sample.
        if (p.TcpOptions.HasTimestamps)
            TimestampRtt(f, r, ref p, now, !sampled && (flags & TcpFlags.Ack) != 0 && fAckedBefore && (SeqNum)ack.Value > (SeqNum)fLastAckBefore);

        // 15. bytes in flight
        if (seglen != 0 && f.UnackedCount > 0 && f.ValidBif) BytesInFlight(f, r, flags);

        // After the analysis, as dissect_tcp does: SYN bookkeeping, initial RTT, options of this packet.
        if ((flags & TcpFlags.Syn) != 0)
        {
            if ((flags & TcpFlags.Ack) == 0)
            {
                c.TsMruSyn = now;
                c.SynCount++;
                if (c.FirstSynTime == 0) c.FirstSynTime = now;
                c.LastSynTime = now;
                if (c.Handshake == TcpHandshake.NotSeen) c.Handshake = TcpHandshake.SynSent;
            }
            else
            {
                c.SynAckSeen = true;
                if (c.Handshake < TcpHandshake.SynAckSent) c.Handshake = TcpHandshake.SynAckSent;
            }
            f.IsFirstAck = true;
        }
        if ((flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Ack)
        {
            if (c.TsMruSyn != 0 && c.TsFirstRtt == 0) c.TsFirstRtt = now - c.TsMruSyn;
            f.IsFirstAck = false;
            if (c.Handshake == TcpHandshake.SynAckSent && fromClient) c.Handshake = TcpHandshake.Established;
        }
        if ((flags & TcpFlags.Rst) != 0 && !fromClient && !c.SynAckSeen && c.SynCount > 0) c.RefusedByReset = true;
        if (p.TcpOptions.WindowScale >= 0) f.WinScale = Math.Min((int)p.TcpOptions.WindowScale, 14);
        f.SackCount = Math.Min((int)p.TcpOptions.SackBlockCount, 3);
        for (int i = 0; i < f.SackCount; i++) { f.Sack[2 * i] = p.TcpOptions.SackLeft(i); f.Sack[2 * i + 1] = p.TcpOptions.SackRight(i); }
        if ((flags & TcpFlags.Syn) != 0)
        {
            // verify_tcp_window_scaling: a SYN without the option means no scaling for either side.
            if (f.WinScale == -1)
            {
                f.WinScale = -2;
                if (peerUnborn) c.NoteServerNoScale(); else r.WinScale = -2;
            }
            else if ((flags & TcpFlags.Ack) != 0 && r.WinScale == -2) f.WinScale = -2;
        }

        if (seglen > 0 || ta != TcpAnalysisFlags.None) Count(ref f.CountersToWrite, ta, seglen);
        TrackSeries(flow, fromClient, f, ta, seq.Value, now, p.IpPacketLength, seglen);
        if (seglen > 0) f.LastDataTime = now;

        // Longest gap with data outstanding, and progress for stall detection.
        if (c.LastPacketTime != 0 && outstandingBefore && now - c.LastPacketTime > c.LongestGapOutstanding)
        {
            c.LongestGapOutstanding = now - c.LastPacketTime;
            c.LongestGapStart = c.LastPacketTime;
        }
        bool progress = f.NextSeq != nextSeqBefore && (SeqNum)f.NextSeq > (SeqNum)nextSeqBefore ||
                        ((flags & TcpFlags.Ack) != 0 && fAckedBefore && (SeqNum)ack.Value > (SeqNum)fLastAckBefore);
        if (progress || c.LastProgressTime == 0) c.LastProgressTime = now;
        c.LastPacketTime = now;
        MadeProgress = progress;
        return ta;
    }

    /// <summary>Whether the last processed segment moved the connection forward (new data or a new ACK).</summary>
    public bool MadeProgress { get; private set; }

    /// <summary>Data is unacknowledged in either direction.</summary>
    public static bool Outstanding(TcpConnectionState c) => OutstandingBytes(c.Client, c.Server) > 0 || OutstandingBytes(c.Server, c.Client) > 0;

    /// <summary>Bytes <paramref name="sender"/> sent beyond what <paramref name="receiver"/> acknowledged.</summary>
    public static long OutstandingBytes(TcpEndpointState sender, TcpEndpointState receiver)
    {
        if (sender.NextSeq == 0 || receiver.LastAckTime == 0) return 0;
        int d = (SeqNum)sender.NextSeq - (SeqNum)receiver.LastAck;
        return d > 0 ? d : 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Count(ref TcpCounters k, TcpAnalysisFlags ta, int seglen)
    {
        if (seglen > 0) k.DataSegments++;
        if (ta == TcpAnalysisFlags.None) return;
        if ((ta & TcpAnalysisFlags.AnyRetransmission) != 0) k.Retransmissions++;
        if ((ta & TcpAnalysisFlags.FastRetransmission) != 0) k.FastRetransmissions++;
        if ((ta & TcpAnalysisFlags.SpuriousRetransmission) != 0) k.SpuriousRetransmissions++;
        if ((ta & TcpAnalysisFlags.OutOfOrder) != 0) k.OutOfOrder++;
        if ((ta & TcpAnalysisFlags.DuplicateAck) != 0) k.DuplicateAcks++;
        if ((ta & TcpAnalysisFlags.LostPacket) != 0) k.LostSegments++;
        if ((ta & TcpAnalysisFlags.AckLostPacket) != 0) k.AckedUnseen++;
        if ((ta & TcpAnalysisFlags.ZeroWindow) != 0) k.ZeroWindows++;
        if ((ta & TcpAnalysisFlags.ZeroWindowProbe) != 0) k.ZeroWindowProbes++;
        if ((ta & TcpAnalysisFlags.ZeroWindowProbeAck) != 0) k.ZeroWindowProbeAcks++;
        if ((ta & TcpAnalysisFlags.WindowFull) != 0) k.WindowFull++;
        if ((ta & TcpAnalysisFlags.WindowUpdate) != 0) k.WindowUpdates++;
        if ((ta & TcpAnalysisFlags.KeepAlive) != 0) k.KeepAlives++;
        if ((ta & TcpAnalysisFlags.KeepAliveAck) != 0) k.KeepAliveAcks++;
    }

    /// <summary>Wireshark's unacked-list pruning (oldest exact match gives the ack RTT), with Karn's rule for the RTT
    /// statistics: no sample when the acknowledged data was sent more than once.</summary>
    private static bool PruneAndSample(TcpEndpointState r, uint ack, long now)
    {
        int head = r.UHead, n = r.UCount;
        if (n == head) return false;
        UnackedSegment[] u = r.Unacked!;
        long sampleTime = 0;
        int matches = 0;
        bool anyResent = false, changed = false;
        if (r.USorted)
        {
            // Sorted entries: the ACK removes a prefix and trims at most the entry it falls into.
            int i = head;
            while (i < n && !((SeqNum)u[i].Next > (SeqNum)ack))
            {
                if (u[i].Next == ack) { matches++; anyResent |= u[i].Retransmitted; if (sampleTime == 0) sampleTime = u[i].Time; }
                i++;
            }
            if (i < n && (SeqNum)ack > (SeqNum)u[i].Seq) { u[i].Seq = ack; }
            changed = i > head;
            r.UHead = i;
            if (i == n) { r.UHead = 0; r.UCount = 0; }
        }
        else
        {
            int kept = head;
            for (int i = head; i < n; i++)
            {
                uint s = u[i].Seq, e = u[i].Next;
                if (ack == e)
                {
                    matches++;
                    anyResent |= u[i].Retransmitted;
                    if (sampleTime == 0) sampleTime = u[i].Time; // oldest first: the first match is the oldest
                    continue;
                }
                if ((SeqNum)ack > (SeqNum)s && (SeqNum)ack <= (SeqNum)e) s = ack;
                else if (!((SeqNum)e > (SeqNum)ack)) continue; // fully acknowledged
                u[kept] = u[i];
                u[kept].Seq = s;
                kept++;
            }
            changed = kept < n;
            r.UCount = kept;
            if (kept == head) { r.UHead = 0; r.UCount = 0; r.USorted = true; }
        }
        bool sampled = matches == 1 && !anyResent && sampleTime != 0 && now >= sampleTime;
        if (sampled) r.RttSamples.Add(now - sampleTime);
        if (changed)
        {
            // Data of r was acknowledged: a series in progress ended well.
            if (!r.Series.IsEmpty && !r.Series.Acknowledged && (SeqNum)ack > (SeqNum)r.Series.Seq)
            {
                var rs = r.Resends;
                rs.Current.Acknowledged = true;
                rs.Current.AcknowledgedAt = now;
                if (rs.Current.Resends > rs.Worst.Resends) rs.Worst = rs.Current;
            }
        }
        return sampled;
    }

    internal static void TimestampRtt(TcpEndpointState f, TcpEndpointState r, ref DecodedPacket p, long now, bool sample)
    {
        // Remember when this side first sent each TSval: a ring of TsRing entries (enough for the echo to come back),
        // sized to what the side uses. It starts at TsRingFirst entries and doubles when full until it holds TsRing;
        // only then does it wrap. Entries keep the places a ring of TsRing would give them (the n-th TSval at n mod
        // TsRing), so the search below finds the same entry first.
        uint tsval = p.TcpOptions.TsVal;
        if (f.TsTimes is null) { f.TsVals = GrowArrays<uint>.Rent(TsRingFirst); f.TsTimes = GrowArrays<long>.Rent(TsRingFirst); }
        var times = f.TsTimes;
        int last = f.TsNext == 0 ? times.Length - 1 : f.TsNext - 1;
        if (times[last] == 0 || f.TsVals![last] != tsval)
        {
            if (f.TsNext == times.Length) GrowTsRing(f);
            f.TsVals![f.TsNext] = tsval;
            f.TsTimes![f.TsNext] = now;
            f.TsNext = (f.TsNext + 1) & (TsRing - 1);
        }
        if (!sample || r.TsTimes is null) return;
        uint ecr = p.TcpOptions.TsEcr;
        var rt = r.TsTimes;
        for (int i = 0; i < rt.Length; i++)
            if (rt[i] != 0 && r.TsVals![i] == ecr)
            {
                if (now >= rt[i]) r.RttSamples.Add(now - rt[i]);
                return;
            }
    }

    /// <summary>TSvals remembered per side (the ring's full size; a power of two).</summary>
    internal const int TsRing = 32;
    /// <summary>The ring's first size: a short connection (a DNS query over TCP) sends a few TSvals per side.</summary>
    internal const int TsRingFirst = 4;

    /// <summary>The ring is full below its full size: twice as many entries, the old ones in their places.</summary>
    private static void GrowTsRing(TcpEndpointState f)
    {
        int n = Math.Min(f.TsTimes!.Length * 2, TsRing);
        f.TsVals = GrowArrays<uint>.Grow(f.TsVals!, n);
        f.TsTimes = GrowArrays<long>.Grow(f.TsTimes!, n);
    }

    /// <summary>Bytes in flight after this segment: sent beyond what the other side acknowledged, less what it
    /// reported in SACK blocks. O(1); Wireshark scans its unacked list instead, so values can differ slightly
    /// (they are not part of the tshark cross-check).</summary>
    private static void BytesInFlight(TcpEndpointState f, TcpEndpointState r, TcpFlags flags)
    {
        uint low = r.LastAckTime != 0 ? r.LastAck : f.Unacked![f.UHead].Seq;
        long inFlight = (SeqNum)f.NextSeq - (SeqNum)low;
        for (int i = 0; i < r.SackCount; i++) inFlight -= unchecked(r.Sack[2 * i + 1] - r.Sack[2 * i]);
        if (inFlight > 0 && inFlight < 2_000_000_000)
        {
            if ((flags & (TcpFlags.Syn | TcpFlags.Fin)) != 0) inFlight--;
            if (inFlight > f.LiveCounters.MaxBytesInFlight) f.CountersToWrite.MaxBytesInFlight = inFlight;
        }
    }

    /// <summary>A segment is full-size when it carries at least 90% of the MSS the receiver advertised (or, without a
    /// captured handshake, of the largest segment this side sent so far).</summary>
    public static bool IsFullSize(Flow flow, bool fromClient, int seglen)
    {
        int mss = fromClient ? flow.ServerToClient.Mss : flow.ClientToServer.Mss;
        if (mss == 0) mss = fromClient ? flow.ClientToServer.MaxSegment : flow.ServerToClient.MaxSegment;
        return seglen > 0 && seglen >= mss * 9 / 10;
    }

    private static void TrackSeries(Flow flow, bool fromClient, TcpEndpointState f, TcpAnalysisFlags ta, uint seq, long now, int ipSize, int seglen)
    {
        if ((ta & (TcpAnalysisFlags.Retransmission | TcpAnalysisFlags.FastRetransmission)) == 0) return;
        if (IsFullSize(flow, fromClient, seglen)) f.CountersToWrite.LargeRetransmissions++;
        // A segment longer than the MSS its receiver advertised cannot have crossed a wire as one packet: a TSO/GSO
        // super-frame of the capture host, counted apart so that it never stands for a packet size on the wire.
        int peerMss = fromClient ? flow.ServerToClient.Mss : flow.ClientToServer.Mss;
        int headers = ipSize - seglen;
        var rs = f.Resends; // made on this side's first resend
        if (!rs.Current.IsEmpty && !rs.Current.Acknowledged && rs.Current.Seq == seq)
        {
            rs.Current.Add(now, ipSize, peerMss > 0 && seglen > peerMss);
        }
        else
        {
            if (!rs.Current.IsEmpty && rs.Current.Resends > rs.Worst.Resends) rs.Worst = rs.Current;
            // Every send of this segment so far (the unacked list holds them, this resend included).
            Span<long> times = stackalloc long[RetransmissionSeries.MaxTimes];
            Span<int> lengths = stackalloc int[RetransmissionSeries.MaxTimes];
            int sends = f.SendTimesOf(seq, times, lengths);
            if (sends >= 2)
            {
                rs.Current.Start(seq, times[..Math.Min(sends, RetransmissionSeries.MaxTimes)], sends, ipSize);
                int kept = Math.Min(sends, RetransmissionSeries.MaxTimes);
                for (int i = 0; i < kept; i++)
                {
                    rs.Current.Note(lengths[i] + headers, peerMss > 0 && lengths[i] > peerMss);
                }
                if (sends > kept) rs.Current.Note(ipSize, peerMss > 0 && seglen > peerMss, sends - kept);
            }
            else
            {
                rs.Current.Start(seq, sends == 1 && times[0] != now ? times[0] : now, now, ipSize);
                int len0 = sends == 1 && times[0] != now ? lengths[0] : seglen;
                rs.Current.Note(len0 + headers, peerMss > 0 && len0 > peerMss);
                rs.Current.Note(ipSize, peerMss > 0 && seglen > peerMss);
            }
        }
        if (rs.Current.Resends > rs.Worst.Resends) rs.Worst = rs.Current;
    }
}
