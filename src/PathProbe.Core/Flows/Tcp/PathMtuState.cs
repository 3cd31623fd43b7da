using PathProbe.Primitives;

namespace PathProbe.Flows.Tcp;

/// <summary>A segment whose IP packet is larger than anything known to have been delivered in its direction: it
/// either proves a larger size gets through (acknowledged) or, resent and never acknowledged at that size, that it
/// does not.</summary>
internal struct MtuCandidate
{
    public uint Start;
    public uint End;
    public int IpSize;
    /// <summary>Transmissions of exactly this range at this size (original + resends).</summary>
    public int Sends;
    public long FirstSend;
    /// <summary>Part of the range was later carried by a smaller packet, so an acknowledgement no longer proves that
    /// this size got through (it proves the smaller one did).</summary>
    public bool SupersededBySmaller;
    /// <summary>Part of the range was carried by a packet of another size (not smaller): ambiguous either way.</summary>
    public bool Ambiguous;
    /// <summary>Size of the first smaller packet that carried part of this range later (when superseded).</summary>
    public int SupersedingSize;
    /// <summary>A smaller packet sent after this one was acknowledged while this one was not (yet).</summary>
    public bool SmallerGotThrough;
    /// <summary>First seen as a resend (data below what the sender had already sent): its first transmission is not
    /// in the capture.</summary>
    public bool SeenFirstAsResend;
}

/// <summary>
/// Path-MTU evidence for one direction of a TCP connection (sender → receiver), kept by
/// <c>Analysis/Mtu/PathMtuDetector</c>. Allocated on first need and reused with the connection state; sizes are IP packet
/// lengths.
/// </summary>
internal sealed class PathMtuDirection
{
    public const int MaxCandidates = 8;

    // ---- sender's vantage: what was acknowledged, what never was ---------------------------------------------------
    /// <summary>Largest IP packet known to have got through (acknowledged, cumulatively or by SACK, and every
    /// transmission of its range had that size), 0 = none.</summary>
    public int DeliveredMax;
    /// <summary>Start of the latest range delivered at <see cref="DeliveredMax"/> (to tell that a resend first seen
    /// later carries earlier data).</summary>
    public uint DeliveredLastStart;
    public bool DeliveredStartKnown;
    /// <summary>Smallest IP packet size that was sent at least twice (resent at the same size) and never acknowledged
    /// at that size; int.MaxValue = none.</summary>
    public int LostMin = int.MaxValue;
    /// <summary>Transmissions of that range at that size.</summary>
    public int LostMinSends;
    /// <summary>Smallest size seen lost only once before a smaller packet carried its data (e.g. a lost PLPMTUD probe
    /// or a segment answered by ICMP too-big); weaker evidence, used only to tighten the upper bound.</summary>
    public int LostOnceMin = int.MaxValue;
    /// <summary>First send of the earliest range that was never delivered at its size.</summary>
    public long FirstLossSend;
    /// <summary>Resends of never-delivered sizes.</summary>
    public int LostResends;
    /// <summary>A packet smaller than the lost size, first sent after the loss began, was acknowledged: the path
    /// works for small packets while large ones vanish (size-dependent loss, not a dead path).</summary>
    public bool SmallerDeliveredAfterLoss;
    /// <summary>A range lost at a large size was acknowledged after it was resent in smaller packets: when, and the
    /// size of that first packet that got through.</summary>
    public long RecoveredAt;
    public int RecoveredSize;
    /// <summary>Largest delivered IP packet after recovery (where the sender settled).</summary>
    public int DeliveredAfterRecovery;
    /// <summary>Delivered at a size at or above <see cref="LostMin"/>: the "losses" were not size-dependent.</summary>
    public bool Contradicted;

    /// <summary>Segments that may yet prove a size (the first <see cref="CandidateCount"/>); made with the first (room
    /// for 2, doubled as needed up to <see cref="MaxCandidates"/>), let go when the flow leaves the table
    /// (<see cref="ReleaseForReport"/>).</summary>
    public MtuCandidate[]? Candidates;
    public int CandidateCount;

    // ---- receiver's vantage: holes in the sender's sequence space --------------------------------------------------
    /// <summary>Largest IP packet that arrived from the sender (offload artifacts excluded).</summary>
    public int ArrivedMax;
    /// <summary>The first hole that was not filled at once: [HoleStart, HoleEnd), when it opened, and the size of the
    /// packet that arrived beyond it.</summary>
    public bool HoleOpen;
    public uint HoleStart;
    public uint HoleEnd;
    public long HoleOpenedAt;
    public int HoleBeyondSize;
    /// <summary>Payload bytes of the sender's packets (TCP header included) for judging whether the hole is a whole
    /// number of full-size segments.</summary>
    public int TcpHeaderLength;
    /// <summary>The hole was filled later: when, and the largest packet that filled it.</summary>
    public long HoleFilledAt;
    public int HoleFillMax;
    public long HoleBytes;
    /// <summary>Lowest sequence number of the sender's data seen (a hole below it, shown by SACK, was never in the
    /// capture's sequence numbers).</summary>
    public uint FirstSeenSeq;
    public bool FirstSeenSeqKnown;
    /// <summary>No handshake: the full size inferred from the missing data (InferFullSize), 0 when not.</summary>
    public int InferredFullSize;
    /// <summary>The hole was seen only in the receiver's SACK blocks (PathMtuDetector.HoleFromSack).</summary>
    public bool HoleFromSack;
    /// <summary>Holes the receiver acknowledged without the capture seeing their data (capture loss, not path loss).</summary>
    public int HolesAckedUnseen;

    // ---- ICMP too-big for this direction ---------------------------------------------------------------------------
    public int IcmpCount;
    public int IcmpMtu;
    public long IcmpFirst;
    public IpAddress IcmpFrom;
    /// <summary>Segments larger than the reported MTU sent after the ICMP arrived (beyond a short grace).</summary>
    public int OversizeAfterIcmp;
    /// <summary>Data segments that fitted the reported MTU after the ICMP.</summary>
    public int FitAfterIcmp;


    /// <summary>Largest segment sent after the ICMP (beyond the grace).</summary>
    public int MaxAfterIcmp;

    /// <summary>This direction was already reported as a black hole.</summary>
    public bool Decided;
    /// <summary>Decided from the receiver's vantage (a hole that never filled) rather than the sender's.</summary>
    public bool DecidedAsReceiver;
    /// <summary>The hole was judged (reported, or ruled out because full-size packets arrive).</summary>
    public bool HoleJudged;

    /// <summary>The flow left the table and is kept for the report: the candidates it still had were settled
    /// (<c>PathMtuDetector.FlowClosing</c>: resent ones became losses); those left were sent once and prove nothing.</summary>
    internal void ReleaseForReport()
    {
        GrowArrays<MtuCandidate>.Return(Candidates);
        Candidates = null;
        CandidateCount = 0;
    }

    internal void Reset()
    {
        DeliveredMax = 0; DeliveredLastStart = 0; DeliveredStartKnown = false; LostMin = int.MaxValue; LostMinSends = 0; LostOnceMin = int.MaxValue; FirstLossSend = 0;
        LostResends = 0; SmallerDeliveredAfterLoss = false; RecoveredAt = 0; RecoveredSize = 0;
        DeliveredAfterRecovery = 0; Contradicted = false; CandidateCount = 0;
        ArrivedMax = 0; HoleOpen = false; HoleStart = 0; HoleEnd = 0; HoleOpenedAt = 0;
        HoleBeyondSize = 0; TcpHeaderLength = 0; HoleFilledAt = 0; HoleFillMax = 0; HoleBytes = 0; FirstSeenSeq = 0; FirstSeenSeqKnown = false; InferredFullSize = 0; HoleFromSack = false; HolesAckedUnseen = 0;
        IcmpCount = 0; IcmpMtu = 0; IcmpFirst = 0; IcmpFrom = default; OversizeAfterIcmp = 0; FitAfterIcmp = 0;
        MaxAfterIcmp = 0; Decided = false; DecidedAsReceiver = false; HoleJudged = false;
    }
}
