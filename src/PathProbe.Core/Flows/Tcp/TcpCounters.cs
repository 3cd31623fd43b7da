namespace PathProbe.Flows.Tcp;

/// <summary>Counts of one direction of a TCP flow, named as in Wireshark's expert analysis.</summary>
public struct TcpCounters
{
    /// <summary>All retransmissions: plain, fast and spurious (tshark's tcp.analysis.retransmission).</summary>
    public long Retransmissions;
    public long FastRetransmissions;
    public long SpuriousRetransmissions;
    public long OutOfOrder;
    public long DuplicateAcks;
    /// <summary>Highest duplicate-ACK number reached (3 = the third duplicate of one ACK).</summary>
    public int MaxDuplicateAckNumber;
    /// <summary>"Previous segment not captured".</summary>
    public long LostSegments;
    /// <summary>"ACKed segment that wasn't captured".</summary>
    public long AckedUnseen;
    public long ZeroWindows;
    public long ZeroWindowProbes;
    public long ZeroWindowProbeAcks;
    public long WindowFull;
    public long WindowUpdates;
    public long KeepAlives;
    public long KeepAliveAcks;
    /// <summary>Segments carrying data.</summary>
    public long DataSegments;
    /// <summary>Retransmitted segments whose IP packet was at least 90% of the largest this side sent (for storms
    /// and black holes: full-size data lost vs. small packets lost).</summary>
    public long LargeRetransmissions;
    /// <summary>Largest bytes in flight (unacknowledged data, SACKed bytes excluded) seen.</summary>
    public long MaxBytesInFlight;

    /// <summary>Every count is zero but <see cref="DataSegments"/> and <see cref="MaxBytesInFlight"/> (a connection
    /// the analysis found nothing to say about).</summary>
    internal readonly bool OnlyDataAndInFlight =>
        MaxDuplicateAckNumber == 0 &&
        (Retransmissions | FastRetransmissions | SpuriousRetransmissions | OutOfOrder | DuplicateAcks | LostSegments |
         AckedUnseen | ZeroWindows | ZeroWindowProbes | ZeroWindowProbeAcks | WindowFull | WindowUpdates | KeepAlives |
         KeepAliveAcks | LargeRetransmissions) == 0;

    public readonly long Get(TcpAnalysisFlags kind) => kind switch
    {
        TcpAnalysisFlags.Retransmission => Retransmissions,
        TcpAnalysisFlags.FastRetransmission => FastRetransmissions,
        TcpAnalysisFlags.SpuriousRetransmission => SpuriousRetransmissions,
        TcpAnalysisFlags.OutOfOrder => OutOfOrder,
        TcpAnalysisFlags.DuplicateAck => DuplicateAcks,
        TcpAnalysisFlags.LostPacket => LostSegments,
        TcpAnalysisFlags.AckLostPacket => AckedUnseen,
        TcpAnalysisFlags.ZeroWindow => ZeroWindows,
        TcpAnalysisFlags.ZeroWindowProbe => ZeroWindowProbes,
        TcpAnalysisFlags.ZeroWindowProbeAck => ZeroWindowProbeAcks,
        TcpAnalysisFlags.WindowFull => WindowFull,
        TcpAnalysisFlags.WindowUpdate => WindowUpdates,
        TcpAnalysisFlags.KeepAlive => KeepAlives,
        TcpAnalysisFlags.KeepAliveAck => KeepAliveAcks,
        _ => 0,
    };
}
