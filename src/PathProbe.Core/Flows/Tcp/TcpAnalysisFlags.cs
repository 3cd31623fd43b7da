namespace PathProbe.Flows.Tcp;

/// <summary>Per-segment classification, bit for bit Wireshark's TCP_A_* flags (packet-tcp.h), so counts can be
/// cross-checked against tshark's tcp.analysis.* fields.</summary>
[Flags]
public enum TcpAnalysisFlags : ushort
{
    None = 0,
    Retransmission = 0x1,
    LostPacket = 0x2,
    AckLostPacket = 0x4,
    KeepAlive = 0x8,
    DuplicateAck = 0x10,
    ZeroWindow = 0x20,
    ZeroWindowProbe = 0x40,
    ZeroWindowProbeAck = 0x80,
    KeepAliveAck = 0x100,
    OutOfOrder = 0x200,
    FastRetransmission = 0x400,
    WindowUpdate = 0x800,
    WindowFull = 0x1000,
    ReusedPorts = 0x2000,
    SpuriousRetransmission = 0x4000,

    /// <summary>Any kind of retransmission (what tshark's tcp.analysis.retransmission filter matches).</summary>
    AnyRetransmission = Retransmission | FastRetransmission | SpuriousRetransmission,
}
