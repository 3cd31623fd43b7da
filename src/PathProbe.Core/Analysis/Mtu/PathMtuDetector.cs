using System.Globalization;
using PathProbe.Advice;
using PathProbe.Decoding;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Flows.Tcp;
using PathProbe.Primitives;
using PathProbe.Findings.Kinds;

namespace PathProbe.Analysis.Mtu;

public sealed class PathMtuOptions
{
    /// <summary>Resends of the same data at the same size, never acknowledged, after which a black hole is reported
    /// while the capture is still running (at the end of input two resends suffice).</summary>
    public int MinResends { get; init; } = 3;
    /// <summary>Receiver's vantage: a hole in the sender's data, never filled for this long, is reported while the
    /// capture runs.</summary>
    public TimeSpan HoleTimeout { get; init; } = TimeSpan.FromSeconds(3);
    /// <summary>Black-hole groups (one per peer) and flows listed per group at most; more are counted.</summary>
    public int MaxGroups { get; init; } = 1024;
    public int MaxFlowsPerGroup { get; init; } = 200;
    /// <summary>Sender/receiver address pairs whose largest delivered packet is remembered across flows.</summary>
    public int MaxPeers { get; init; } = 65_536;
    /// <summary>ICMP too-big messages whose flow is not in the capture, recorded at most.</summary>
    public int MaxUnmatchedIcmp { get; init; } = 256;
}

/// <summary>
/// Passive path-MTU diagnosis. Per direction of every TCP connection it keeps, in fixed space, the packets larger
/// than anything known to have got through: an acknowledgement (cumulative or SACK) of such a packet raises the
/// lower bound of the path MTU; the same data resent at the same size and never acknowledged at that size lowers the
/// upper bound. From the receiver's side it watches holes in the sender's sequence space that never fill while
/// nothing of full size ever arrives. It maps ICMP fragmentation-needed / Packet Too Big to its flow through the
/// quoted header and follows whether the sender obeyed. Findings: <c>mtu-blackhole</c> (one per peer, all its flows
/// combined), <c>mss-mismatch</c>, <c>icmp-too-big</c>.
/// </summary>
/// <remarks>
/// Offload: a segment longer than the MSS its receiver advertised cannot have crossed a wire as one packet (TSO/GSO
/// on the sending capture host, GRO on the receiving one); such frames are counted and never used as evidence.
/// Per packet: a few comparisons; the candidate table is touched only for packets above the minimum MTU (576 bytes
/// IPv4, 1280 IPv6) and larger than anything delivered so far, i.e. at the start of a bulk transfer and in a black hole.
/// </remarks>
/// <summary>Read-only view of the path-MTU detector for other detectors.</summary>
public interface IPathMtuView
{
    /// <summary>The flow is part of a black-hole verdict (either direction).</summary>
    bool BlackHoled(Flow flow);
    /// <summary>The black hole the data of one side of this flow is behind, as last published, or null.</summary>
    BlackHoleVerdict? BlackHoleOf(Flow flow, bool fromClient) => BlackHoleOf(flow, fromClient, out _);
    /// <summary>The same, and where its later versions are (<see cref="FindingLog.Get"/>): a black hole's numbers
    /// change as other flows toward the same peer show more, after this flow has closed.</summary>
    BlackHoleVerdict? BlackHoleOf(Flow flow, bool fromClient, out VerdictHandle handle);
}

public sealed class PathMtuDetector : IPathMtuView
{
    private const long IcmpGrace = 2_000_000; // 2 ms: packets already queued when the ICMP arrived
    private readonly PathMtuOptions _options;
    private readonly FindingLog _log;

    private readonly Dictionary<(IpAddress Sender, IpAddress Receiver), int> _peerDelivered = new();
    private readonly Dictionary<(bool Receiver, IpAddress Peer), Group> _groups = new();
    private readonly List<Group> _groupOrder = new();
    private readonly List<(Flow Flow, int Id, bool FromClient)> _openHoles = new();
    private readonly List<UnmatchedIcmp> _unmatchedIcmp = new();
    private long _lastTick;

    public PathMtuDetector(PathMtuOptions options, FindingLog log)
    {
        _options = options;
        _log = log;
    }

    /// <summary>The flow is part of a black-hole verdict (either direction).</summary>
    public bool BlackHoled(Flow flow) =>
        flow.Tcp is { } c && (c.MtuIfAny(true)?.Decided == true || c.MtuIfAny(false)?.Decided == true);

    /// <summary>The black hole the data <paramref name="fromClient"/> (or from the server) of this flow is behind, as
    /// last published, or null.</summary>
    public BlackHoleVerdict? BlackHoleOf(Flow flow, bool fromClient, out VerdictHandle handle)
    {
        handle = default;
        var m = flow.Tcp?.MtuIfAny(fromClient);
        if (m is null || !m.Decided) return null;
        var key = (m.DecidedAsReceiver, m.DecidedAsReceiver ? (fromClient ? flow.ClientAddress : flow.ServerAddress) : (fromClient ? flow.ServerAddress : flow.ClientAddress));
        if (!_groups.TryGetValue(key, out var g)) return null;
        if (g.Changed) Publish(g, final: false); // numbers a resend changed: the reader gets them
        handle = g.Handle;
        return _log.Get(g.Handle) as BlackHoleVerdict;
    }

    /// <summary>Publishes the black-hole verdicts whose numbers changed since they were last published (the engine, once
    /// per second of capture time; a reader of one verdict gets it at once: <see cref="BlackHoleOf"/>).</summary>
    public void PublishChanged()
    {
        foreach (var g in _changed)
        {
            g.Queued = false;
            if (g.Changed) Publish(g, final: false); // not when a reader published it meanwhile
        }
        _changed.Clear();
    }

    /// <summary>Groups with new numbers not published yet (<see cref="Refresh"/>), each once (<see cref="Group.Queued"/>:
    /// a group published by a reader and changed again within the second is not added twice).</summary>
    private readonly List<Group> _changed = new();

    /// <summary>Frames longer than the receiver's MSS (segmentation offload on the capture host), not used as evidence.</summary>
    public long OffloadFrames { get; private set; }
    /// <summary>Peers with a black hole beyond <see cref="PathMtuOptions.MaxGroups"/>: counted, said in the findings.</summary>
    public long GroupsNotReported { get; private set; }

    // =================================================================================================================
    // Per packet
    // =================================================================================================================

    /// <summary>A TCP segment, before <c>TcpAnalyzer</c> updates the sequence state (holes are judged against the
    /// state before this segment).</summary>
    public void OnSegment(Flow flow, bool fromClient, ref DecodedPacket p, long now)
    {
        var c = flow.Tcp;
        if (c is null) return;
        int seglen = p.PayloadWireLength;
        if (seglen > 0 && (p.TcpFlags & (TcpFlags.Syn | TcpFlags.Rst)) == 0) SenderData(flow, c, fromClient, ref p, seglen, now);
        if ((p.TcpFlags & TcpFlags.Ack) != 0)
        {
            var other = c.MtuIfAny(!fromClient);
            if (other is not null && other.CandidateCount > 0) Acknowledge(other, p.Ack, ref p, now);
            if (other is not null && p.TcpOptions.SackBlockCount > 0 && !other.HoleOpen && !other.HoleJudged && !other.Decided)
                HoleFromSack(flow, !fromClient, other, ref p, now);
            // The receiver acknowledges data of the hole that the capture never saw arrive: the data got there, so the
            // hole is the capture's (a drop, or the sender's vantage of a flow that started before the capture), not
            // the path's. A hole known from SACK closes on any advance of the ACK.
            if (other is not null && other.HoleOpen && !other.Decided && (other.HoleFilledAt == 0 || other.HoleFromSack) &&
                (SeqNum)p.Ack > (SeqNum)other.HoleStart)
            {
                other.HoleOpen = false;
                other.HoleFromSack = false;
                other.HoleFilledAt = 0;
                other.HolesAckedUnseen++;
            }
        }
        if (now - _lastTick >= 1_000_000_000) Tick(now);
    }

    private void SenderData(Flow flow, TcpConnectionState c, bool fromClient, ref DecodedPacket p, int seglen, long now)
    {
        var snd = fromClient ? c.Client : c.Server;
        int ipSize = p.IpPacketLength;
        int peerMss = fromClient ? flow.ServerToClient.Mss : flow.ClientToServer.Mss;
        if (peerMss > 0 && seglen > peerMss)
        {
            OffloadFrames++;
            return;
        }
        int floor = MinimumMtu(p.IpVersion);
        bool hole = snd.NextSeq != 0 && (SeqNum)p.Seq > (SeqNum)snd.NextSeq;
        var m = c.MtuIfAny(fromClient);
        if (m is null)
        {
            if (ipSize <= floor && !hole) return;
            m = c.Mtu(fromClient);
            ref readonly DirectionStats d = ref fromClient ? ref flow.ClientToServer : ref flow.ServerToClient;
            var rcv = fromClient ? c.Server : c.Client;
            int before = Math.Min(d.MaxIpPacket, floor);
            m.ArrivedMax = before;
            // Everything sent before was at most the floor; if all of it is acknowledged, that size got through.
            if (rcv.LastAckTime != 0 && !((SeqNum)rcv.LastAck < (SeqNum)snd.NextSeq)) m.DeliveredMax = before;
        }
        if (ipSize > m.ArrivedMax) m.ArrivedMax = ipSize;
        uint start = p.Seq, end = unchecked(p.Seq + (uint)seglen);
        if (!m.FirstSeenSeqKnown || (SeqNum)start < (SeqNum)m.FirstSeenSeq) { m.FirstSeenSeq = start; m.FirstSeenSeqKnown = true; }

        // Receiver's vantage: a hole before this segment.
        if (hole && !m.HoleOpen && !m.HoleJudged)
        {
            m.HoleOpen = true;
            m.HoleStart = snd.NextSeq;
            m.HoleEnd = start;
            m.HoleOpenedAt = now;
            m.HoleBeyondSize = ipSize;
            m.HoleBytes = (SeqNum)start - (SeqNum)snd.NextSeq;
            m.HoleFilledAt = 0;
            m.HoleFillMax = 0;
            m.TcpHeaderLength = p.TcpHeaderLength;
            if (_openHoles.Count < 4096) _openHoles.Add((flow, flow.Id, fromClient));
        }
        else if (m.HoleOpen && (SeqNum)start < (SeqNum)m.HoleEnd && (SeqNum)end > (SeqNum)m.HoleStart)
        {
            if (m.HoleFilledAt == 0) m.HoleFilledAt = now;
            if (ipSize > m.HoleFillMax) m.HoleFillMax = ipSize;
            if (!((SeqNum)end < (SeqNum)m.HoleEnd)) HoleFilled(flow, fromClient, m);
        }
        if (ipSize > floor && (m.TcpHeaderLength == 0 || !m.HoleOpen)) m.TcpHeaderLength = p.TcpHeaderLength;

        // ICMP too-big: did the sender obey?
        if (m.IcmpCount > 0 && now > m.IcmpFirst + IcmpGrace)
        {
            if (ipSize > m.IcmpMtu) m.OversizeAfterIcmp++; else m.FitAfterIcmp++;
            if (ipSize > m.MaxAfterIcmp) m.MaxAfterIcmp = ipSize;
        }

        // Sender's vantage: candidates.
        if (ipSize > m.DeliveredMax && ipSize > floor)
        {
            int i = Find(m, start, ipSize);
            if (i >= 0)
            {
                ref MtuCandidate e = ref m.Candidates![i];
                e.Sends++;
                MarkOverlaps(m, start, end, ipSize, except: i);
                if (!m.Decided && e.Sends > _options.MinResends && !e.SupersededBySmaller && !e.Ambiguous && IcmpUnexplained(m))
                    Decide(flow, fromClient, m, now, receiverVantage: false);
                else if (m.Decided) Refresh(flow, fromClient, m, now); // the ongoing verdict gets the new numbers
            }
            else
            {
                MarkOverlaps(m, start, end, ipSize, except: -1);
                // Data below what the sender has already sent is a resend even when its first transmission is not in
                // the capture (it started mid-connection) or found no room in the table.
                bool resent = snd.NextSeq != 0 && (SeqNum)start < (SeqNum)snd.NextSeq;
                Add(m, start, end, ipSize, now, resent);
            }
        }
        else if (m.CandidateCount > 0) MarkOverlaps(m, start, end, ipSize, except: -1);
    }

    private static bool IcmpUnexplained(PathMtuDirection m) => m.IcmpCount == 0 || m.OversizeAfterIcmp > 0;

    private static int MinimumMtu(byte ipVersion) => ipVersion == 6 ? 1280 : 576;

    private static int Find(PathMtuDirection m, uint start, int size)
    {
        for (int i = 0; i < m.CandidateCount; i++)
            if (m.Candidates![i].Start == start && m.Candidates![i].IpSize == size) return i;
        return -1;
    }

    private static void MarkOverlaps(PathMtuDirection m, uint start, uint end, int size, int except)
    {
        for (int i = 0; i < m.CandidateCount; i++)
        {
            if (i == except) continue;
            ref MtuCandidate e = ref m.Candidates![i];
            if (!((SeqNum)start < (SeqNum)e.End && (SeqNum)end > (SeqNum)e.Start)) continue;
            if (e.Start == start && e.IpSize == size) continue;
            if (size < e.IpSize)
            {
                if (!e.SupersededBySmaller) e.SupersedingSize = size; // the first smaller packet that carried it
                e.SupersededBySmaller = true;
            }
            else e.Ambiguous = true;
        }
    }

    private static void Add(PathMtuDirection m, uint start, uint end, int size, long now, bool resent)
    {
        int slot = m.CandidateCount;
        if (slot == PathMtuDirection.MaxCandidates)
        {
            // Full: make room by dropping an ambiguous entry; otherwise keep the oldest (RTO resends the oldest data),
            // except that a resend takes the place of the newest entry sent only once: in a capture that starts in the
            // middle of a flight, the first segments seen fill the table, and the one the sender keeps resending (the
            // oldest unacknowledged, sent before the capture began) must still be followed.
            slot = -1;
            for (int i = 0; i < m.CandidateCount; i++) if (m.Candidates![i].Ambiguous) { slot = i; break; }
            if (slot < 0 && resent)
                for (int i = 0; i < m.CandidateCount; i++)
                {
                    ref MtuCandidate c = ref m.Candidates![i];
                    if (c.Sends == 1 && !c.SupersededBySmaller && (slot < 0 || (SeqNum)c.Start > (SeqNum)m.Candidates![slot].Start)) slot = i;
                }
            if (slot < 0) return;
        }
        else m.CandidateCount++;
        // A resend first seen here was sent at least once before.
        // Sized to what the direction uses: 2 entries first, doubled up to MaxCandidates.
        if (m.Candidates is null) m.Candidates = GrowArrays<MtuCandidate>.Rent(2);
        else if (slot == m.Candidates.Length) m.Candidates = GrowArrays<MtuCandidate>.Grow(m.Candidates, Math.Min(slot * 2, PathMtuDirection.MaxCandidates));
        m.Candidates[slot] = new MtuCandidate
        {
            Start = start, End = end, IpSize = size, Sends = 1, FirstSend = now, SeenFirstAsResend = resent,
            // A smaller packet carrying later data (so first sent after this one) already got through.
            SmallerGotThrough = resent && m.DeliveredStartKnown && m.DeliveredMax < size && !((SeqNum)m.DeliveredLastStart < (SeqNum)end),
        };
    }

    private static void RemoveAt(PathMtuDirection m, int i)
    {
        m.CandidateCount--;
        if (i != m.CandidateCount) m.Candidates![i] = m.Candidates[m.CandidateCount];
    }

    /// <summary>An ACK (and its SACK blocks) from the receiver of <paramref name="m"/>'s data.</summary>
    private static void Acknowledge(PathMtuDirection m, uint ack, ref DecodedPacket p, long now)
    {
        int sacks = p.TcpOptions.SackBlockCount;
        for (int i = m.CandidateCount - 1; i >= 0; i--)
        {
            ref MtuCandidate e = ref m.Candidates![i];
            bool covered = !((SeqNum)e.End > (SeqNum)ack);
            for (int s = 0; !covered && s < sacks && s < 4; s++)
                covered = !((SeqNum)e.Start < (SeqNum)p.TcpOptions.SackLeft(s)) && !((SeqNum)e.End > (SeqNum)p.TcpOptions.SackRight(s));
            if (!covered) continue;
            var done = e;
            RemoveAt(m, i);
            if (done.SupersededBySmaller)
            {
                Lost(m, done);
                if (m.RecoveredAt == 0) { m.RecoveredAt = now; m.RecoveredSize = done.SupersedingSize; }
            }
            else if (!done.Ambiguous) Delivered(m, done);
        }
        // Entries no larger than what is now known to get through say nothing more (unless they were resent smaller).
        for (int i = m.CandidateCount - 1; i >= 0; i--)
            if (m.Candidates![i].IpSize <= m.DeliveredMax && !m.Candidates![i].SupersededBySmaller) RemoveAt(m, i);
    }

    private static void Delivered(PathMtuDirection m, in MtuCandidate e)
    {
        if (e.IpSize >= m.LostMin) m.Contradicted = true;
        if (e.IpSize > m.DeliveredMax || !m.DeliveredStartKnown || e.IpSize == m.DeliveredMax && (SeqNum)e.Start > (SeqNum)m.DeliveredLastStart)
        {
            if (e.IpSize >= m.DeliveredMax) { m.DeliveredLastStart = e.Start; m.DeliveredStartKnown = true; }
            if (e.IpSize > m.DeliveredMax) m.DeliveredMax = e.IpSize;
        }
        if (m.RecoveredAt != 0 && e.IpSize > m.DeliveredAfterRecovery) m.DeliveredAfterRecovery = e.IpSize;
        for (int i = 0; i < m.CandidateCount; i++)
        {
            ref MtuCandidate o = ref m.Candidates![i];
            // o went out before e: it was seen first, or its data lies before e's (new data is sent in sequence
            // order), which is how a capture that starts mid-connection knows a resend's first transmission.
            if (o.IpSize > e.IpSize && (o.FirstSend <= e.FirstSend || o.SeenFirstAsResend && !((SeqNum)o.End > (SeqNum)e.Start)))
                o.SmallerGotThrough = true;
        }
        if (m.FirstLossSend != 0 && e.FirstSend >= m.FirstLossSend && e.IpSize < m.LostMin) m.SmallerDeliveredAfterLoss = true;
    }

    /// <summary>Data sent at <paramref name="e"/>'s size that never got through at that size.</summary>
    private static void Lost(PathMtuDirection m, in MtuCandidate e)
    {
        if (e.IpSize <= m.DeliveredMax) { m.Contradicted = true; return; }
        if (e.Sends >= 2)
        {
            if (e.IpSize < m.LostMin) { m.LostMin = e.IpSize; m.LostMinSends = e.Sends; }
            else if (e.IpSize == m.LostMin && e.Sends > m.LostMinSends) m.LostMinSends = e.Sends;
        }
        else if (e.IpSize < m.LostOnceMin) m.LostOnceMin = e.IpSize;
        if (m.FirstLossSend == 0 || e.FirstSend < m.FirstLossSend) m.FirstLossSend = e.FirstSend;
        m.LostResends += e.Sends - 1;
        if (e.SmallerGotThrough) m.SmallerDeliveredAfterLoss = true;
    }

    /// <summary>Unacknowledged candidates become losses when the flow ends (resent ones only: a packet sent once at
    /// the very end may still have been in flight).</summary>
    private static void SettleCandidates(PathMtuDirection m)
    {
        for (int i = m.CandidateCount - 1; i >= 0; i--)
        {
            var e = m.Candidates![i];
            if (e.Sends >= 2 || e.SupersededBySmaller) { RemoveAt(m, i); if (!e.Ambiguous || e.SupersededBySmaller) Lost(m, e); }
        }
    }

    // ---- ICMP ------------------------------------------------------------------------------------------------------

    /// <summary>An ICMP packet: fragmentation-needed (type 3 code 4) and Packet Too Big (ICMPv6 type 2) are mapped to
    /// the flow of the quoted packet.</summary>
    public void OnIcmp(ref DecodedPacket p, FlowTable flows, long now)
    {
        bool tooBig = p.Protocol == IpProtocols.Icmp ? p.IcmpType == 3 && p.IcmpCode == 4 : p.IcmpType == 2;
        if (!tooBig || !p.Quoted.Present) return;
        ref QuotedPacket q = ref p.Quoted;
        Flow? flow = null;
        bool fromClient = false;
        if (q.HasPorts && flows.Find(FlowKey.Create(q.Src, q.SrcPort, q.Dst, q.DstPort, q.Protocol, out _)) is { } f)
        {
            flow = f;
            fromClient = f.ClientAddress == q.Src && f.ClientPort == q.SrcPort;
        }
        if (flow?.Tcp is { } c)
        {
            var m = c.Mtu(fromClient);
            if (m.IcmpCount == 0) { m.IcmpFirst = now; m.IcmpFrom = p.Src; m.IcmpMtu = p.IcmpMtu; }
            else if (p.IcmpMtu > 0 && (m.IcmpMtu == 0 || p.IcmpMtu < m.IcmpMtu)) m.IcmpMtu = p.IcmpMtu;
            m.IcmpCount++;
            return;
        }
        // Not a TCP flow in this capture (UDP, or the connection started before the capture): recorded as is.
        foreach (var u in _unmatchedIcmp)
            if (u.Matches(q.Src, q.Dst, p.Src, p.IcmpMtu)) { u.Count++; return; }
        if (_unmatchedIcmp.Count >= _options.MaxUnmatchedIcmp) return;
        _unmatchedIcmp.Add(new UnmatchedIcmp
        {
            Sender = q.Src, Destination = q.Dst, Hop = p.Src, Mtu = p.IcmpMtu, Protocol = q.Protocol, SrcPort = q.HasPorts ? q.SrcPort : (ushort)0,
            DstPort = q.HasPorts ? q.DstPort : (ushort)0, First = now, Count = 1, IpVersion = p.IpVersion, QuotedSize = q.IpPacketLength,
            FlowId = flow?.Id ?? 0,
            Flow = flow,
        });
    }

    /// <summary>A retransmission that follows an ICMP too-big for its direction and fits the reported MTU is path-MTU
    /// discovery at work, not loss.</summary>
    public static bool ExplainedByIcmp(Flow flow, bool fromClient, int ipSize, long now)
    {
        var m = flow.Tcp?.MtuIfAny(fromClient);
        return m is not null && m.IcmpCount > 0 && ipSize <= m.IcmpMtu && now - m.IcmpFirst < 2_000_000_000;
    }

    // =================================================================================================================
    // Decisions
    // =================================================================================================================

    /// <summary>Once a second of capture time, and from <c>Engine.Idle</c> during a live capture while no packet
    /// arrives: holes that stayed open too long (receiver's vantage: the flow has gone silent).</summary>
    public void Tick(long now)
    {
        _lastTick = now;
        long timeout = (long)_options.HoleTimeout.TotalNanoseconds;
        for (int i = _openHoles.Count - 1; i >= 0; i--)
        {
            var (flow, id, fromClient) = _openHoles[i];
            var m = flow.Id == id ? flow.Tcp?.MtuIfAny(fromClient) : null;
            if (m is null || !m.HoleOpen || m.HoleJudged) { _openHoles.RemoveAt(i); continue; }
            if (now - m.HoleOpenedAt < timeout || m.HoleFilledAt != 0) continue;
            _openHoles.RemoveAt(i);
            JudgeHole(flow, fromClient, m, now);
        }
    }

    /// <summary>Receiver's vantage in a capture that started mid-connection: the first data seen lay beyond what the
    /// receiver has, so no hole opened from the sequence numbers; the receiver's ACK and its first SACK block show it
    /// (data [ack, left edge) missing while the block arrived).</summary>
    private void HoleFromSack(Flow flow, bool senderIsClient, PathMtuDirection m, ref DecodedPacket p, long now)
    {
        var snd = senderIsClient ? flow.Tcp!.Client : flow.Tcp!.Server;
        uint left = p.TcpOptions.SackLeft(0);
        for (int s = 1; s < p.TcpOptions.SackBlockCount && s < 4; s++)
            if ((SeqNum)p.TcpOptions.SackLeft(s) < (SeqNum)left) left = p.TcpOptions.SackLeft(s);
        // Only when the capture never saw the data before the block (else the sequence numbers opened the hole).
        if (m.ArrivedMax == 0 || !((SeqNum)p.Ack < (SeqNum)left) || snd.NextSeq == 0 || (SeqNum)snd.NextSeq < (SeqNum)left) return;
        if (m.FirstSeenSeqKnown && (SeqNum)m.FirstSeenSeq < (SeqNum)left) return;
        m.HoleOpen = true;
        m.HoleStart = p.Ack;
        m.HoleEnd = left;
        m.HoleOpenedAt = now;
        m.HoleBeyondSize = m.ArrivedMax;
        m.HoleBytes = (SeqNum)left - (SeqNum)p.Ack;
        m.HoleFromSack = true;
        m.HoleFilledAt = 0;
        m.HoleFillMax = 0;
        if (_openHoles.Count < 4096) _openHoles.Add((flow, flow.Id, senderIsClient));
    }

    private void HoleFilled(Flow flow, bool fromClient, PathMtuDirection m)
    {
        // Filled quickly, or by full-size packets: ordinary loss. Filled late by smaller packets: the sender shrank
        // its segments to get through (recovery seen from the receiver).
        int full = ExpectedFullSize(flow, fromClient);
        long delay = m.HoleFilledAt - m.HoleOpenedAt;
        // A hole known only from SACK (the capture started mid-connection) says nothing when it fills: from the
        // sender's vantage the same SACK shows data sent before the capture, resent smaller after a loss further on.
        if (full > 0 && m.HoleFillMax < full && delay >= 200_000_000 && !m.HoleJudged && !m.HoleFromSack) JudgeHole(flow, fromClient, m, m.HoleFilledAt);
        m.HoleOpen = false;
        if (!m.Decided) { m.HoleJudged = false; m.HoleFilledAt = 0; }
    }

    /// <summary>IP packet size of a full-size segment: the smaller MSS of the two SYNs plus IP and TCP headers.</summary>
    private static int ExpectedFullSize(Flow flow, bool fromClient)
    {
        int a = flow.ClientToServer.Mss, b = flow.ServerToClient.Mss;
        int mss = a > 0 && b > 0 ? Math.Min(a, b) : Math.Max(a, b);
        if (mss == 0) return 0;
        return mss + (flow.ClientAddress.IsV4 ? 20 : 40) + 20;
    }

    /// <summary>Without a handshake (the capture started mid-connection) the MSS is unknown. The missing data tells the
    /// size it was sent in when it is a whole number of segments of the size an Ethernet-MTU (1,500-byte) packet with
    /// this sender's TCP header carries, and nothing that large ever arrived: that is the full size. 0 otherwise.</summary>
    private static int InferFullSize(Flow flow, PathMtuDirection m)
    {
        if (flow.ClientToServer.SynSeen || flow.ServerToClient.SynSeen || m.HoleBytes <= 0) return 0;
        int ipHeader = flow.ClientAddress.IsV4 ? 20 : 40;
        int payload = 1500 - ipHeader - Math.Max(20, m.TcpHeaderLength);
        return m.ArrivedMax < 1500 && m.HoleBytes % payload == 0 ? 1500 : 0;
    }

    private void JudgeHole(Flow flow, bool fromClient, PathMtuDirection m, long now)
    {
        m.HoleJudged = true;
        int full = ExpectedFullSize(flow, fromClient);
        if (full == 0) full = m.InferredFullSize = InferFullSize(flow, m);
        if (full == 0) return;
        var sender = fromClient ? flow.ClientAddress : flow.ServerAddress;
        var receiver = fromClient ? flow.ServerAddress : flow.ClientAddress;
        int arrived = Math.Max(m.ArrivedMax, PeerDelivered(sender, receiver));
        int fullPayload = full - (flow.ClientAddress.IsV4 ? 20 : 40) - Math.Max(20, m.TcpHeaderLength);
        if (arrived >= full || m.HoleBytes < fullPayload || m.Decided) return;
        Decide(flow, fromClient, m, now, receiverVantage: true);
    }

    private int PeerDelivered(IpAddress sender, IpAddress receiver) =>
        _peerDelivered.TryGetValue((sender, receiver), out int v) ? v : 0;

    private void NotePeer(IpAddress sender, IpAddress receiver, int size)
    {
        if (size <= 0) return;
        var key = (sender, receiver);
        if (_peerDelivered.TryGetValue(key, out int v)) { if (size > v) _peerDelivered[key] = size; }
        else if (_peerDelivered.Count < _options.MaxPeers) _peerDelivered[key] = size;
    }

    private void Decide(Flow flow, bool fromClient, PathMtuDirection m, long now, bool receiverVantage)
    {
        m.Decided = true;
        m.DecidedAsReceiver = receiverVantage;
        var sender = fromClient ? flow.ClientAddress : flow.ServerAddress;
        var receiver = fromClient ? flow.ServerAddress : flow.ClientAddress;
        var key = (receiverVantage, receiverVantage ? sender : receiver);
        if (!_groups.TryGetValue(key, out var g))
        {
            if (_groups.Count >= _options.MaxGroups) { GroupsNotReported++; return; }
            g = new Group { ReceiverVantage = receiverVantage, Peer = key.Item2 };
            _groups[key] = g;
            _groupOrder.Add(g);
        }
        var rec = g.Get(flow.Id, fromClient, _options.MaxFlowsPerGroup);
        if (rec is null) return;
        rec.Update(flow, fromClient, m, now, final: false);
        Publish(g, final: false);
    }

    /// <summary>New numbers for a decided direction (a resend, a flow closing).</summary>
    private void Refresh(Flow flow, bool fromClient, PathMtuDirection m, long now)
    {
        var sender = fromClient ? flow.ClientAddress : flow.ServerAddress;
        var receiver = fromClient ? flow.ServerAddress : flow.ClientAddress;
        if (!_groups.TryGetValue((m.DecidedAsReceiver, m.DecidedAsReceiver ? sender : receiver), out var g) || g.Find(flow.Id, fromClient) is not { } rec) return;
        rec.Update(flow, fromClient, m, now, final: false);
        // Not published per resend: building the verdict (fixes, every flow's details) for each of thousands of resends
        // toward one black hole was a quarter of such a capture's time. Published when read, when the group changes
        // otherwise (a flow closes, a hole fills), once per second of capture time and at the end.
        g.Changed = true;
        if (!g.Queued) { g.Queued = true; _changed.Add(g); }
    }

    /// <summary>Raises the group's verdict, or publishes its new version.</summary>
    private void Publish(Group g, bool final)
    {
        g.Changed = false;
        if (Build(g, final) is not { } v) return;
        if (g.Handle.IsValid) _log.Update(g.Handle, v); else g.Handle = _log.Raise(v);
    }

    /// <summary>A flow leaves the table: settle its evidence, report what only the whole flow shows.</summary>
    public void FlowClosing(Flow flow, long now)
    {
        var c = flow.Tcp;
        if (c is null) return;
        for (int dir = 0; dir < 2; dir++)
        {
            bool fromClient = dir == 0;
            var m = c.MtuIfAny(fromClient);
            if (m is null)
            {
                // Small packets only: if everything was acknowledged, they got through.
                var snd = fromClient ? c.Client : c.Server;
                var rcv = fromClient ? c.Server : c.Client;
                ref readonly DirectionStats d = ref fromClient ? ref flow.ClientToServer : ref flow.ServerToClient;
                if (snd.NextSeq != 0 && rcv.LastAckTime != 0 && !((SeqNum)rcv.LastAck < (SeqNum)snd.NextSeq))
                    NotePeer(fromClient ? flow.ClientAddress : flow.ServerAddress, fromClient ? flow.ServerAddress : flow.ClientAddress, d.MaxIpPacket);
                continue;
            }
            long end = c.LastPacketTime != 0 ? c.LastPacketTime : now;
            SettleCandidates(m);
            var sender = fromClient ? flow.ClientAddress : flow.ServerAddress;
            var receiver = fromClient ? flow.ServerAddress : flow.ClientAddress;
            if (!m.Contradicted) NotePeer(sender, receiver, m.DeliveredMax);
            // At the end, two resends at one size that never got through are enough (the capture may have stopped
            // before a third).
            if (!m.Decided && !m.Contradicted && m.LostMin != int.MaxValue && m.LostMinSends >= 3 && m.LostMin > m.DeliveredMax && IcmpUnexplained(m))
                Decide(flow, fromClient, m, end, receiverVantage: false);
            if (!m.Decided && m.HoleOpen && !m.HoleJudged) JudgeHole(flow, fromClient, m, end);
            if (m.Decided && _groups.TryGetValue((m.DecidedAsReceiver, m.DecidedAsReceiver ? sender : receiver), out var g) &&
                g.Find(flow.Id, fromClient) is { } rec)
            {
                rec.Update(flow, fromClient, m, end, final: true);
                rec.Closed = true;
                Publish(g, final: false);
            }
            if (m.IcmpCount > 0) ReportIcmp(flow, fromClient, m);
        }
    }

    /// <summary>End of input (after the flow table closed every flow): final versions of the black-hole verdicts, MSS
    /// advice, and ICMP too-big messages whose flow was not in the capture.</summary>
    public void Finish()
    {
        foreach (var g in _changed) g.Queued = false;
        _changed.Clear();
        foreach (var g in _groupOrder)
        {
            Publish(g, final: true);
            if (g.Handle.IsValid && _log.Get(g.Handle) is BlackHoleVerdict v && MssVerdict(g, v) is { } mss) _log.Raise(mss);
        }
        foreach (var u in _unmatchedIcmp) _log.Raise(UnmatchedVerdict(u));
    }

    // =================================================================================================================
    // Verdicts
    // =================================================================================================================

    private sealed class Group
    {
        public bool ReceiverVantage;
        public IpAddress Peer;
        public readonly List<FlowRecord> Flows = new();
        public long FlowsNotListed;
        public VerdictHandle Handle;
        /// <summary>A flow record has new numbers not yet in the published verdict.</summary>
        public bool Changed;
        /// <summary>On the list of changed groups (<see cref="PathMtuDetector.PublishChanged"/>).</summary>
        public bool Queued;

        public FlowRecord? Find(int id, bool fromClient)
        {
            foreach (var r in Flows) if (r.FlowId == id && r.FromClient == fromClient) return r;
            return null;
        }

        public FlowRecord? Get(int id, bool fromClient, int max)
        {
            if (Find(id, fromClient) is { } r) return r;
            if (Flows.Count >= max) { FlowsNotListed++; return null; }
            r = new FlowRecord { FlowId = id, FromClient = fromClient };
            Flows.Add(r);
            return r;
        }
    }

    /// <summary>What a verdict needs from one flow direction, copied so the flow record can be recycled.</summary>
    private sealed class FlowRecord
    {
        public int FlowId;
        public bool FromClient;
        public FlowFacts? Facts;
        public IpAddress SenderAddress, ReceiverAddress;
        public Endpoint Sender, Receiver;
        public int SenderMss, ReceiverMss, FullSize, IpHeader;
        public bool FullSizeInferred;
        public int DeliveredMax, ArrivedMax, LostMin = int.MaxValue, LostMinSends, LostOnceMin = int.MaxValue, LostResends;
        public long FirstLoss, RecoveredAt, End;
        public int RecoveredSize, DeliveredAfterRecovery;
        public bool SmallerDeliveredAfterLoss;
        public int IcmpCount, IcmpMtu;
        public IpAddress IcmpFrom;
        public bool IcmpIgnored;
        public long HoleBytes, HoleOpenedAt, HoleFilledAt;
        public int HoleBeyondSize, HoleFillMax, TcpHeaderLength;
        public SmtpPosition? At;
        public bool Closed;
        /// <summary>The encapsulation the data direction's packets came in (its first packet's), empty when plain.</summary>
        public Encapsulation Encap;

        public void Update(Flow flow, bool fromClient, PathMtuDirection m, long now, bool final)
        {
            Facts = FlowFacts.Of(flow);
            Sender = fromClient ? Facts.Client : Facts.Server;
            Receiver = fromClient ? Facts.Server : Facts.Client;
            SenderAddress = Sender.Ip;
            ReceiverAddress = Receiver.Ip;
            SenderMss = fromClient ? flow.ClientToServer.Mss : flow.ServerToClient.Mss;
            ReceiverMss = fromClient ? flow.ServerToClient.Mss : flow.ClientToServer.Mss;
            FullSize = ExpectedFullSize(flow, fromClient);
            if (FullSize == 0) { FullSize = m.InferredFullSize; FullSizeInferred = FullSize > 0; }
            IpHeader = flow.ClientAddress.IsV4 ? 20 : 40;
            Encap = fromClient ? flow.ClientToServer.Encap : flow.ServerToClient.Encap;
            DeliveredMax = m.DeliveredMax;
            ArrivedMax = m.ArrivedMax;
            // While the capture runs, the series in progress is the evidence.
            LostMin = m.LostMin; LostMinSends = m.LostMinSends; LostOnceMin = m.LostOnceMin;
            LostResends = m.LostResends;
            FirstLoss = m.FirstLossSend;
            for (int i = 0; i < m.CandidateCount; i++)
            {
                ref MtuCandidate e = ref m.Candidates![i];
                if (e.Sends < 2 || e.Ambiguous || e.IpSize <= m.DeliveredMax) continue;
                if (e.IpSize < LostMin) { LostMin = e.IpSize; LostMinSends = e.Sends; }
                else if (e.IpSize == LostMin && e.Sends > LostMinSends) LostMinSends = e.Sends;
                if (FirstLoss == 0 || e.FirstSend < FirstLoss) FirstLoss = e.FirstSend;
                if (e.SmallerGotThrough) SmallerDeliveredAfterLoss = true;
                LostResends += e.Sends - 1;
            }
            SmallerDeliveredAfterLoss |= m.SmallerDeliveredAfterLoss;
            RecoveredAt = m.RecoveredAt; RecoveredSize = m.RecoveredSize; DeliveredAfterRecovery = m.DeliveredAfterRecovery;
            IcmpCount = m.IcmpCount; IcmpMtu = m.IcmpMtu; IcmpFrom = m.IcmpFrom; IcmpIgnored = m.IcmpCount > 0 && m.OversizeAfterIcmp > 0;
            HoleBytes = m.HoleBytes; HoleOpenedAt = m.HoleOpenedAt; HoleFilledAt = m.HoleFilledAt;
            HoleBeyondSize = m.HoleBeyondSize; HoleFillMax = m.HoleFillMax; TcpHeaderLength = Math.Max(20, m.TcpHeaderLength);
            End = now;
            // The application position is taken when the problem is decided (it does not move during a stall).
            At ??= flow.App?.Position;
        }

        public bool Recovered => RecoveredAt != 0 || HoleFilledAt != 0;
        public long LostNanos(bool receiverVantage) => receiverVantage
            ? (HoleFilledAt != 0 ? HoleFilledAt : End) - HoleOpenedAt
            : (RecoveredAt != 0 ? RecoveredAt : End) - FirstLoss;

        public BlackHoleFlow Detail(bool rv) => new()
        {
            FromClient = FromClient,
            SenderMss = SenderMss,
            ReceiverMss = ReceiverMss,
            FullSize = FullSize,
            FullSizeInferred = FullSizeInferred,
            IpHeader = IpHeader,
            TcpHeader = TcpHeaderLength,
            DeliveredMax = DeliveredMax,
            ArrivedMax = ArrivedMax,
            LostMin = LostMin == int.MaxValue ? 0 : LostMin,
            ResentWithBackoff = LostMinSends >= 4,
            SmallerDeliveredAfterLoss = SmallerDeliveredAfterLoss,
            FirstLoss = FirstLoss != 0 ? new Timestamp(FirstLoss) : null,
            RecoveredAt = RecoveredAt != 0 ? new Timestamp(RecoveredAt) : null,
            RecoveredSize = RecoveredSize,
            SettledAt = DeliveredAfterRecovery,
            IcmpTooBig = IcmpCount,
            IcmpIgnored = IcmpIgnored,
            MissingBytes = HoleBytes,
            GapOpened = HoleOpenedAt != 0 ? new Timestamp(HoleOpenedAt) : null,
            GapFilled = HoleFilledAt != 0 ? new Timestamp(HoleFilledAt) : null,
            BeyondGapSize = HoleBeyondSize,
            FilledWithMax = HoleFillMax,
            TimeLostNanos = LostNanos(rv),
            At = At,
            Closed = Closed,
        };
    }

    private BlackHoleVerdict? Build(Group g, bool final)
    {
        var flows = g.Flows;
        if (flows.Count == 0) return null;
        bool rv = g.ReceiverVantage;
        // Bounds: the largest packet known to get through (this flow, or any flow between the same two hosts), and
        // one less than the smallest packet that never did.
        int min = 0, max = int.MaxValue;
        foreach (var r in flows)
        {
            int lower = Math.Max(rv ? r.ArrivedMax : r.DeliveredMax, PeerDelivered(r.SenderAddress, r.ReceiverAddress));
            min = Math.Max(min, lower);
            int upper = rv ? r.FullSize - 1 : (r.LostMin == int.MaxValue ? int.MaxValue : r.LostMin - 1);
            max = Math.Min(max, upper);
        }
        if (!rv)
        {
            // A size lost once (a probe, a segment resent smaller) tightens the bound only if consistent.
            int once = flows.Min(r => r.LostOnceMin);
            if (once != int.MaxValue && once - 1 >= min && once - 1 < max) max = once - 1;
        }
        // Nothing proven to get through (a capture that starts in the middle of the stall holds no acknowledged
        // packet): the lower bound is the minimum every path of the family carries, said as an assumption, never
        // "0 bytes get through".
        bool minProven = min > 0;
        if (!minProven) min = g.Peer.IsV4 ? 576 : 1280;
        if (max == int.MaxValue || min > max) return null;

        var why = new List<string>();
        Confidence confidence;
        if (rv)
        {
            bool exact = flows.Any(r => r.HoleBytes > 0 && r.HoleBytes % (r.FullSize - r.IpHeader - r.TcpHeaderLength) == 0);
            if (exact) why.Add("whole-segments-missing");
            if (flows.Any(r => r.HoleBeyondSize > 0)) why.Add("smaller-arrived-beyond");
            if (flows.Count > 1) why.Add("several-flows");
            bool inferred = flows.Any(r => r.FullSizeInferred);
            confidence = exact && why.Count >= 2 && !inferred ? Confidence.High : Confidence.Medium;
            if (inferred) why.Add("full-size-inferred");
        }
        else
        {
            if (flows.Any(r => r.SmallerDeliveredAfterLoss)) why.Add("smaller-delivered-after-loss");
            if (flows.Any(r => r.RecoveredAt != 0)) why.Add("recovered-when-smaller");
            if (flows.Count > 1) why.Add("several-flows");
            if (flows.Any(r => r.LostMinSends >= 4)) why.Add("resent-with-backoff");
            confidence = why.Count >= 2 ? Confidence.High : Confidence.Medium;
        }
        var senders = flows.Select(r => r.SenderAddress).Distinct().OrderBy(a => a).ToArray();
        var receivers = flows.Select(r => r.ReceiverAddress).Distinct().OrderBy(a => a).ToArray();
        return new BlackHoleVerdict
        {
            Fixes = FixPlan(g, flows, minProven ? min : 0, max, senders, receivers),
            Flows = flows.Select(r => r.Facts!).ToArray(),
            Details = flows.Select(r => r.Detail(rv)).ToArray(),
            Ongoing = !final && flows.Any(r => !r.Closed && !r.Recovered),
            ReceiverVantage = rv,
            Peer = g.Peer,
            Min = min,
            MinProven = minProven,
            Max = max,
            LostSize = rv ? flows.Min(r => r.FullSize) : flows.Min(r => r.LostMin),
            Since = new Timestamp(flows.Min(r => rv ? r.HoleOpenedAt : r.FirstLoss)),
            TimeLostNanos = flows.Max(r => r.LostNanos(rv)),
            AllRecovered = flows.All(r => r.Recovered),
            IcmpSeen = flows.Any(r => r.IcmpCount > 0),
            IcmpIgnored = flows.Any(r => r.IcmpIgnored),
            Confidence = confidence,
            Reasons = why,
            Senders = senders,
            Receivers = receivers,
            FlowsNotListed = g.FlowsNotListed,
            PeersNotReported = GroupsNotReported,
        };
    }

    /// <summary>The fixes for a black hole (Advice/MtuFixGenerator): the MSS from the largest packet proven to get
    /// through, or the MTU an ICMP too-big named when the sender ignored it.</summary>
    private static MtuFixPlan FixPlan(Group g, List<FlowRecord> flows, int min, int max, IReadOnlyList<IpAddress> senders, IReadOnlyList<IpAddress> receivers)
    {
        var icmp = flows.FirstOrDefault(r => r.IcmpMtu > 0 && r.IcmpMtu >= min && r.IcmpMtu <= max);
        int advertised = flows.Where(r => r.ReceiverMss > 0).Select(r => r.ReceiverMss).DefaultIfEmpty(0).Min();
        return MtuFixGenerator.Generate(new MtuFixRequest
        {
            Vantage = g.ReceiverVantage ? FixSite.Receiver : FixSite.Sender,
            Senders = senders,
            Receivers = receivers,
            Evidence = new MtuEvidence
            {
                LargestDelivered = min > 0 ? min : null,
                SmallestLost = max == int.MaxValue ? null : max + 1,
                ExactMtu = icmp?.IcmpMtu,
                ExactSource = icmp is null ? MtuSource.None : MtuSource.Icmp,
                IcmpFrom = icmp?.IcmpFrom,
                AdvertisedMss = advertised > 0 ? advertised : null,
                Link = Link(flows),
            },
        });
    }

    /// <summary>The encapsulation the lost packets travel in, when every flow of the group shows the same overhead
    /// (a PPPoE link, a tunnel's underlay): its overhead enters the fixes' size (Advice/MtuFixGenerator).</summary>
    private static LinkEncapsulation? Link(List<FlowRecord> flows)
    {
        ref readonly Encapsulation first = ref flows[0].Encap;
        if (first.MtuOverhead == 0) return null;
        foreach (var r in flows)
            if (r.Encap.MtuOverhead != first.MtuOverhead) return null;
        string name = first.Describe(analysedIsV6: flows[0].IpHeader != 20);
        if (name.Length == 0) return null;
        return new LinkEncapsulation(name, first.LayerNames(), first.MtuOverhead, IpTunnel: first.OuterIpVersion != 0, Encapsulation.EthernetMtu);
    }

    private static MssMismatchVerdict? MssVerdict(Group g, BlackHoleVerdict v)
    {
        // The side whose advertised MSS invites packets the path cannot carry.
        var r = g.Flows.FirstOrDefault(x => x.ReceiverMss > 0 || x.SenderMss > 0);
        if (r is null) return null;
        // The receiver's MSS is what invites the sender's full-size packets.
        int advertised = r.ReceiverMss > 0 ? r.ReceiverMss : r.SenderMss;
        int implied = FlowFacts.PacketSizeForMss(advertised, r.IpHeader == 20);
        if (implied <= v.Max) return null;
        return new MssMismatchVerdict
        {
            Flows = v.Flows,
            ReceiverVantage = g.ReceiverVantage,
            Peer = g.Peer,
            Since = v.Since,
            Min = v.Min,
            Max = v.Max,
            MinProven = v.MinProven,
            AdvertisedBy = r.ReceiverMss > 0 ? r.Receiver : r.Sender,
            AdvertisedMss = advertised,
            ImpliedPacketSize = implied,
            SafeMss = v.Fixes?.Mss ?? Math.Max(v.Min - r.IpHeader - 20, r.IpHeader == 20 ? 536 : 1220),
        };
    }

    private void ReportIcmp(Flow flow, bool fromClient, PathMtuDirection m)
    {
        var facts = FlowFacts.Of(flow);
        bool sentAfter = m.FitAfterIcmp + m.OversizeAfterIcmp > 0;
        _log.Raise(new IcmpTooBigVerdict
        {
            Flows = [facts],
            Hop = m.IcmpFrom,
            Mtu = m.IcmpMtu,
            Messages = m.IcmpCount,
            Sender = fromClient ? facts.Client : facts.Server,
            Receiver = fromClient ? facts.Server : facts.Client,
            First = new Timestamp(m.IcmpFirst),
            Ipv4 = flow.ClientAddress.IsV4,
            Obeyed = sentAfter ? m.OversizeAfterIcmp == 0 : null,
            PacketsAfter = m.FitAfterIcmp + m.OversizeAfterIcmp,
            OversizeAfter = m.OversizeAfterIcmp,
            LargestAfter = m.MaxAfterIcmp,
        });
    }

    private sealed class UnmatchedIcmp
    {
        public IpAddress Sender, Destination, Hop;
        public int Mtu, Count, QuotedSize, FlowId;
        public byte Protocol, IpVersion;
        public ushort SrcPort, DstPort;
        public long First;
        public Flow? Flow;
        public bool Matches(IpAddress s, IpAddress d, IpAddress hop, int mtu) => s == Sender && d == Destination && hop == Hop && mtu == Mtu;
    }

    private static IcmpTooBigVerdict UnmatchedVerdict(UnmatchedIcmp u) => new()
    {
        Flows = u.Flow is { } f && f.Id == u.FlowId && u.FlowId != 0 ? [FlowFacts.Of(f)] : [],
        Hop = u.Hop,
        Mtu = u.Mtu,
        Messages = u.Count,
        Sender = new Endpoint(u.Sender, u.SrcPort),
        Receiver = new Endpoint(u.Destination, u.DstPort),
        First = new Timestamp(u.First),
        Ipv4 = u.IpVersion == 4,
        Obeyed = null,
        FlowKnown = false,
        Protocol = u.Protocol switch { IpProtocols.Tcp => "tcp", IpProtocols.Udp => "udp", _ => $"protocol-{u.Protocol}" },
        QuotedPacketSize = u.QuotedSize,
    };

}
