namespace PathProbe.Decoding;

public enum DecodeStatus : byte
{
    /// <summary>IP packet decoded (transport fields filled when the protocol is TCP, UDP or ICMP).</summary>
    Ok,
    /// <summary>A valid frame that carries no IP (ARP, LLDP, ...).</summary>
    NotIp,
    /// <summary>The link type is not one PathProbe decodes; counted per link type.</summary>
    UnsupportedLinkType,
    /// <summary>An IP fragment was taken into reassembly; the datagram is not complete yet.</summary>
    FragmentHeld,
    /// <summary>A header is truncated or invalid; see <see cref="MalformedReason"/>.</summary>
    Malformed,
    /// <summary>Valid traffic in an encapsulation PathProbe does not look into (IPsec ESP, GRE carrying CDP, MPLS OAM,
    /// ...); counted by <see cref="UndecodedReason"/>.</summary>
    Undecoded,
}
