namespace PathProbe.Capture;

/// <summary>LINKTYPE_* values used by PathProbe (tcpdump.org/linktypes.html).</summary>
public static class LinkTypes
{
    public const int Null = 0;          // BSD loopback: 4-byte host-order AF
    public const int Ethernet = 1;
    public const int Ppp = 9;           // PPP, optionally with HDLC-like 0xff 0x03 framing (RFC 1661, RFC 1662)
    public const int PppHdlc = 50;      // PPP in HDLC-like framing, or Cisco PPP with HDLC framing
    public const int PppEther = 51;     // a PPPoE session header without Ethernet
    public const int CiscoHdlc = 104;   // Cisco HDLC: address, control, EtherType
    public const int Raw = 101;         // raw IPv4/IPv6, version from the first nibble
    public const int Loop = 108;        // OpenBSD loopback: 4-byte network-order AF
    public const int LinuxSll = 113;
    public const int Ipv4 = 228;
    public const int Ipv6 = 229;
    public const int LinuxSll2 = 276;
    /// <summary>DLT_RAW as some platforms write it in pcap headers (12 or 14).</summary>
    public const int RawAlt12 = 12;
    public const int RawAlt14 = 14;

    public static string Name(int linkType) => linkType switch
    {
        Null => "NULL",
        Ethernet => "EN10MB",
        Ppp => "PPP",
        PppHdlc => "PPP_HDLC",
        PppEther => "PPP_ETHER",
        CiscoHdlc => "C_HDLC",
        Raw or RawAlt12 or RawAlt14 => "RAW",
        Loop => "LOOP",
        LinuxSll => "LINUX_SLL",
        Ipv4 => "IPV4",
        Ipv6 => "IPV6",
        LinuxSll2 => "LINUX_SLL2",
        _ => "LINKTYPE_" + linkType.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
