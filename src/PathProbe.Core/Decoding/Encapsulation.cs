using System.Runtime.CompilerServices;
using System.Text;
using PathProbe.Primitives;

namespace PathProbe.Decoding;

/// <summary>One header an encapsulation put in front of the IP packet PathProbe analyses. Stable names (see
/// <see cref="Encapsulation.LayerName"/>) appear in reports and JSON: never rename one; add new ones at the end.</summary>
public enum EncapsulationLayer : byte
{
    None = 0,
    /// <summary>IEEE 802.1Q C-tag (EtherType 0x8100), 4 bytes.</summary>
    Vlan,
    /// <summary>IEEE 802.1ad S-tag (0x88A8, or the pre-standard 0x9100), 4 bytes: QinQ.</summary>
    ServiceVlan,
    /// <summary>One MPLS label stack entry (RFC 3032), 4 bytes.</summary>
    Mpls,
    /// <summary>Pseudowire control word (RFC 4385), 4 bytes.</summary>
    PwControlWord,
    /// <summary>An Ethernet header inside a tunnel (VXLAN, Geneve, GRE 0x6558, an Ethernet pseudowire), 14 bytes.</summary>
    Ethernet,
    /// <summary>PPPoE session header and PPP protocol field (RFC 2516), 8 bytes.</summary>
    Pppoe,
    /// <summary>The outer IPv4 header of a tunnel (IP-in-IP, GRE, VXLAN, ...).</summary>
    Ipv4,
    /// <summary>The outer IPv6 header (with extension headers) of a tunnel.</summary>
    Ipv6,
    /// <summary>GRE header (RFC 2784, RFC 2890 key and sequence, RFC 2637 enhanced GRE), 4-16 bytes.</summary>
    Gre,
    /// <summary>UDP + VXLAN header (RFC 7348), 16 bytes.</summary>
    Vxlan,
    /// <summary>PPP header inside enhanced GRE (PPTP, RFC 2637), 1-4 bytes.</summary>
    Ppp,
    /// <summary>UDP + Geneve header with options (RFC 8926), 16+ bytes.</summary>
    Geneve,
    /// <summary>UDP header of MPLS-in-UDP (RFC 7510) or GRE-in-UDP (RFC 8086), 8 bytes.</summary>
    Udp,
    /// <summary>Cisco metadata (TrustSec SGT inline tagging, EtherType 0x8909), 8 bytes.</summary>
    CiscoMetadata,
    /// <summary>ERSPAN header (types I-III) in front of a mirrored frame: the frame was copied, not tunnelled.</summary>
    Erspan,
    /// <summary>WCCPv2 redirect header inside GRE, 4 bytes.</summary>
    Wccp,
    /// <summary>Marker for array sizing; not a layer.</summary>
    Count,
}

/// <summary>
/// The encapsulation headers in front of a decoded IP packet, outermost first, and the bytes they take. A fixed-size
/// value (no heap): reset with the packet, copied into a flow direction when the flow records it.
/// </summary>
/// <remarks>
/// <para>What counts against the IP MTU (<see cref="MtuOverhead"/>): every byte between the capture link's own header
/// (Ethernet and its 802.1Q/802.1ad tags, a Linux cooked header, PPP framing) and the analysed IP header. VLAN tags on
/// the capture link do not reduce the IP MTU (IEEE 802.1Q lets the frame grow to 1522 bytes); PPPoE (8), MPLS labels
/// (4 each), an outer IP header with GRE (24 over IPv4, 44 over IPv6), VXLAN (50 over IPv4: IP 20, UDP 8, VXLAN 8,
/// inner Ethernet 14) do, because they travel inside the link's payload. Tags inside a tunnel (an inner Ethernet's
/// 802.1Q tag) count, being tunnel payload. ERSPAN starts the count again: what follows it is a copy of a frame, not
/// a packet that crossed the tunnel.</para>
/// <para><see cref="HeaderBytes"/> counts every layer, tags on the capture link included.</para>
/// </remarks>
public struct Encapsulation : IEquatable<Encapsulation>
{
    /// <summary>Layers recorded at most; a frame with more is not decoded further
    /// (<see cref="UndecodedReason.TooManyLayers"/>). Bounds the decoder's work on crafted nesting.</summary>
    public const int MaxLayers = 16;

    /// <summary>The link IP MTU assumed when the capture cannot tell: Ethernet's. What <see cref="InnerMtu"/> and the
    /// MTU advice for an encapsulation start from.</summary>
    public const int EthernetMtu = 1500;

    /// <summary>No layers: what a plain frame's <see cref="DecodedPacket.Encap"/> reads.</summary>
    public static readonly Encapsulation None;

    // One byte per layer, outermost in the lowest byte of _layers0; 8 per ulong.
    private ulong _layers0;
    private ulong _layers1;
    /// <summary>Number of layers.</summary>
    public byte Depth;
    /// <summary>Bytes of all layers together.</summary>
    public ushort HeaderBytes;
    /// <summary>Bytes of the layers that travel inside the capture link's IP MTU (see the remarks).</summary>
    public ushort MtuOverhead;
    /// <summary>IP version of the outermost tunnel's IP header; 0 when no IP tunnel (only tags, PPPoE, MPLS).</summary>
    public byte OuterIpVersion;
    /// <summary>Set when the outermost tunnel packet was reassembled from IP fragments before it was decapsulated.</summary>
    public bool OuterReassembled;
    /// <summary>VXLAN/Geneve VNI or GRE key of the innermost tunnel that has one; see <see cref="HasTunnelId"/>.</summary>
    public uint TunnelId;
    public bool HasTunnelId;
    /// <summary>Fragments of the outermost tunnel packet when it was reassembled.</summary>
    public int OuterFragmentCount;
    /// <summary>Size of the outermost tunnel's IP packet per its header (the whole reassembled datagram when fragmented).</summary>
    public int OuterIpPacketLength;
    /// <summary>The outermost tunnel IP packet's size on the wire: <see cref="OuterIpPacketLength"/>, or its largest
    /// fragment when it was reassembled.</summary>
    public int OuterIpWireLength;
    /// <summary>Addresses of the outermost tunnel's IP header (its endpoints as the capture link saw them).</summary>
    public IpAddress OuterSrc;
    public IpAddress OuterDst;

    /// <summary>No layers at all: a plain frame.</summary>
    public readonly bool IsEmpty => Depth == 0;

    /// <summary>At least one layer other than tags on the capture link: the IP packet was decapsulated.</summary>
    public readonly bool IsTunnelled
    {
        get
        {
            for (int i = 0; i < Depth; i++)
                if (this[i] is not (EncapsulationLayer.Vlan or EncapsulationLayer.ServiceVlan)) return true;
            return false;
        }
    }

    /// <summary>The layer at <paramref name="index"/> (0 = outermost).</summary>
    public readonly EncapsulationLayer this[int index]
    {
        get
        {
            if ((uint)index >= Depth) return EncapsulationLayer.None;
            ulong word = index < 8 ? _layers0 : _layers1;
            return (EncapsulationLayer)(byte)(word >> ((index & 7) * 8));
        }
    }

    /// <summary>Appends a layer; false (nothing recorded) when <see cref="MaxLayers"/> are already there.</summary>
    /// <param name="bytes">Header bytes of the layer.</param>
    /// <param name="countsTowardMtu">False only for tags on the capture link (and layers before ERSPAN).</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Push(EncapsulationLayer layer, int bytes, bool countsTowardMtu)
    {
        int d = Depth;
        if (d >= MaxLayers) return false;
        if (d < 8) _layers0 |= (ulong)layer << (d * 8);
        else _layers1 |= (ulong)layer << ((d - 8) * 8);
        Depth = (byte)(d + 1);
        HeaderBytes = (ushort)Math.Min(HeaderBytes + bytes, ushort.MaxValue);
        if (countsTowardMtu) MtuOverhead = (ushort)Math.Min(MtuOverhead + bytes, ushort.MaxValue);
        return true;
    }

    /// <summary>ERSPAN: what follows is a mirrored copy of a frame, so the overhead of the headers so far (the
    /// collector's tunnel) is not overhead of the copied packet's path.</summary>
    internal void RestartMtuCount() => MtuOverhead = 0;

    /// <summary>Records the outermost IP tunnel endpoint header once (later, inner tunnels do not overwrite it).</summary>
    internal void SetOuter(byte ipVersion, in IpAddress src, in IpAddress dst, int ipPacketLength, int wireLength, int fragments)
    {
        if (OuterIpVersion != 0) return;
        OuterIpVersion = ipVersion;
        OuterSrc = src;
        OuterDst = dst;
        OuterIpPacketLength = ipPacketLength;
        OuterIpWireLength = wireLength;
        OuterReassembled = fragments > 0;
        OuterFragmentCount = fragments;
    }

    /// <summary>The IP MTU left for the analysed (inner) packets when the capture link's IP MTU is
    /// <paramref name="linkMtu"/>: 1492 for PPPoE on Ethernet, 1476 for GRE over IPv4, 1450 for VXLAN over IPv4.</summary>
    public readonly int InnerMtu(int linkMtu = EthernetMtu) => linkMtu - MtuOverhead;

    /// <summary>Same layers and the same tunnel (endpoints, id): what a flow compares to notice a change of path.</summary>
    public readonly bool Equals(Encapsulation o) =>
        _layers0 == o._layers0 && _layers1 == o._layers1 && Depth == o.Depth && HeaderBytes == o.HeaderBytes &&
        OuterIpVersion == o.OuterIpVersion && TunnelId == o.TunnelId && HasTunnelId == o.HasTunnelId &&
        OuterSrc.Equals(o.OuterSrc) && OuterDst.Equals(o.OuterDst);

    public override readonly bool Equals(object? obj) => obj is Encapsulation e && Equals(e);
    public override readonly int GetHashCode() => HashCode.Combine(_layers0, _layers1, OuterSrc, OuterDst, TunnelId);

    private static readonly string[] Names =
    [
        "none", "vlan", "qinq", "mpls", "pw", "eth", "pppoe", "ipv4", "ipv6", "gre", "vxlan", "ppp", "geneve", "udp",
        "cmd", "erspan", "wccp",
    ];

    /// <summary>Stable short name of a layer ("vlan", "qinq" for an 802.1ad S-tag, "mpls", "pw" for a pseudowire control
    /// word, "eth", "pppoe", "ipv4", "ipv6", "gre", "vxlan", "ppp", "geneve", "udp", "cmd", "erspan", "wccp").</summary>
    public static string LayerName(EncapsulationLayer layer) => (uint)layer < (uint)Names.Length ? Names[(int)layer] : "unknown";

    /// <summary>The layer names, outermost first.</summary>
    public readonly string[] LayerNames()
    {
        var names = new string[Depth];
        for (int i = 0; i < Depth; i++) names[i] = LayerName(this[i]);
        return names;
    }

    /// <summary>The encapsulation in words for advice, outermost first, leaving out tags on the capture link (they take
    /// nothing from the IP MTU): "PPPoE", "GRE over IPv4", "VXLAN over IPv4", "MPLS (2 labels)", "IPv6 in IPv4",
    /// "MPLS (1 label) + PPPoE". Empty when only such tags (or nothing) are there.</summary>
    /// <param name="analysedIsV6">The analysed (innermost) packet is IPv6: names the payload of an IP-in-IP tunnel whose
    /// payload is that packet.</param>
    public readonly string Describe(bool analysedIsV6 = false)
    {
        var parts = new List<string>();
        int i = 0;
        while (i < Depth && this[i] is EncapsulationLayer.Vlan or EncapsulationLayer.ServiceVlan) i++;
        for (; i < Depth; i++)
        {
            var layer = this[i];
            switch (layer)
            {
                case EncapsulationLayer.Mpls:
                    int labels = 1;
                    while (i + 1 < Depth && this[i + 1] == EncapsulationLayer.Mpls) { labels++; i++; }
                    parts.Add(labels == 1 ? "MPLS (1 label)" : $"MPLS ({labels} labels)");
                    break;
                case EncapsulationLayer.Pppoe: parts.Add("PPPoE"); break;
                case EncapsulationLayer.Ipv4 or EncapsulationLayer.Ipv6:
                    string outer = layer == EncapsulationLayer.Ipv4 ? "IPv4" : "IPv6";
                    var next = this[i + 1];
                    if (next is EncapsulationLayer.Udp) next = this[i + 2]; // GRE/MPLS in UDP: named by what UDP carries
                    string? tunnel = next switch
                    {
                        EncapsulationLayer.Gre => "GRE", EncapsulationLayer.Vxlan => "VXLAN", EncapsulationLayer.Geneve => "Geneve",
                        EncapsulationLayer.Mpls => "MPLS", _ => null,
                    };
                    if (tunnel is not null)
                    {
                        parts.Add($"{tunnel} over {outer}");
                        i++;
                        if (this[i] == EncapsulationLayer.Udp) i++;
                        while (i + 1 < Depth && tunnel == "MPLS" && this[i + 1] == EncapsulationLayer.Mpls) i++;
                    }
                    else parts.Add($"{(InnerIsV6(i, analysedIsV6) ? "IPv6" : "IPv4")} in {outer}");
                    break;
                case EncapsulationLayer.Erspan: parts.Clear(); parts.Add("ERSPAN copy"); break;
                // Headers that belong to the tunnel just named (its inner Ethernet, PPP, control word, metadata).
                default: break;
            }
        }
        return string.Join(" + ", parts);
    }

    /// <summary>Whether the packet carried by the IP tunnel header at <paramref name="index"/> is IPv6: the next IP
    /// layer, or the analysed packet when there is none.</summary>
    private readonly bool InnerIsV6(int index, bool analysedIsV6) => this[index + 1] switch
    {
        EncapsulationLayer.Ipv6 => true,
        EncapsulationLayer.Ipv4 => false,
        _ => analysedIsV6,
    };

    /// <summary>Compact text for a report column: layers joined by '/', repeated layers as "mpls×2", e.g.
    /// "vlan×2/pppoe", "ipv4/gre", "ipv4/vxlan/eth". Empty for a plain frame.</summary>
    public override readonly string ToString()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < Depth;)
        {
            var layer = this[i];
            int run = 1;
            while (i + run < Depth && this[i + run] == layer) run++;
            if (sb.Length > 0) sb.Append('/');
            sb.Append(LayerName(layer));
            if (run > 1) sb.Append('×').Append(run);
            i += run;
        }
        return sb.ToString();
    }
}
