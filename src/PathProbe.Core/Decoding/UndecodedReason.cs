namespace PathProbe.Decoding;

/// <summary>
/// Why traffic inside an encapsulation was not decoded although its headers are valid: PathProbe does not (or
/// cannot) look inside. Counted per frame in <see cref="DecodeCounters"/> and said in the report, so tunnelled
/// traffic never disappears silently. Stable snake_case names (<see cref="UndecodedReasons.Name"/>) appear in reports
/// and JSON: never rename one; add new ones at the end.
/// </summary>
public enum UndecodedReason : byte
{
    None = 0,
    /// <summary>More than <see cref="Encapsulation.MaxLayers"/> encapsulation layers (crafted or pathological nesting).</summary>
    TooManyLayers,
    /// <summary>GRE with the routing bit (RFC 1701 source routing, deprecated by RFC 2784).</summary>
    GreRouting,
    /// <summary>GRE carrying a protocol type PathProbe does not decode (CDP, keepalives, ...); the type is the detail.</summary>
    GreProtocol,
    /// <summary>After the MPLS label stack: neither IPv4, IPv6 nor a recognisable Ethernet pseudowire.</summary>
    MplsPayload,
    /// <summary>MPLS generic/pseudowire associated channel (RFC 5586, RFC 4385: OAM such as BFD), not user traffic.</summary>
    MplsControlChannel,
    /// <summary>PPP (in PPPoE, PPTP or on a PPP link) carrying a network protocol other than IPv4, IPv6 or MPLS; the PPP
    /// protocol number is the detail.</summary>
    PppProtocol,
    /// <summary>PPP compressed or encrypted datagrams (CCP/MPPE 0x00fd, 0x00fb; Van Jacobson 0x002d, 0x002f).</summary>
    PppCompressed,
    /// <summary>IPsec ESP (IP protocol 50): encrypted, the flows inside can only be seen where it is decrypted.</summary>
    Esp,
    /// <summary>L2TPv3 over IP (protocol 115): the session's cookie length is configuration, not in the packet.</summary>
    L2tpV3,
    /// <summary>MACsec (EtherType 0x88e5, IEEE 802.1AE): encrypted at the link.</summary>
    MacSec,
    /// <summary>ERSPAN of a version PathProbe does not know; the version is the detail.</summary>
    Erspan,
    /// <summary>Geneve carrying a protocol type PathProbe does not decode; the type is the detail.</summary>
    GeneveProtocol,
    /// <summary>Marker for array sizing; not a reason.</summary>
    Count,
}

public static class UndecodedReasons
{
    private static readonly string[] Names =
    [
        "none", "too_many_layers", "gre_routing", "gre_protocol", "mpls_payload", "mpls_control_channel", "ppp_protocol",
        "ppp_compressed", "esp", "l2tpv3", "macsec", "erspan", "geneve_protocol",
    ];

    /// <summary>snake_case name used in reports and JSON, e.g. "gre_protocol".</summary>
    public static string Name(UndecodedReason r) => Names[(int)r];

    /// <summary>What it means, for the text report.</summary>
    public static string Describe(UndecodedReason r) => r switch
    {
        UndecodedReason.TooManyLayers => $"more than {Encapsulation.MaxLayers} encapsulation layers",
        UndecodedReason.GreRouting => "GRE with source routing (RFC 1701)",
        UndecodedReason.GreProtocol => "GRE carrying another protocol",
        UndecodedReason.MplsPayload => "MPLS with a payload that is neither IP nor Ethernet",
        UndecodedReason.MplsControlChannel => "MPLS associated channel (OAM)",
        UndecodedReason.PppProtocol => "PPP carrying another network protocol",
        UndecodedReason.PppCompressed => "PPP compressed or encrypted (CCP/MPPE, Van Jacobson)",
        UndecodedReason.Esp => "IPsec ESP (encrypted: capture where it is decrypted)",
        UndecodedReason.L2tpV3 => "L2TPv3 over IP",
        UndecodedReason.MacSec => "MACsec (encrypted at the link)",
        UndecodedReason.Erspan => "ERSPAN of an unknown version",
        UndecodedReason.GeneveProtocol => "Geneve carrying another protocol",
        _ => Name(r),
    };
}
