using System.Runtime.CompilerServices;
using PathProbe.Primitives;

namespace PathProbe.Decoding;

/// <summary>What the decoder found in one frame. A ref struct because <see cref="Payload"/> points into the
/// frame (or the reassembly buffer) and is only valid until the next frame is decoded. Reset per frame.</summary>
public ref struct DecodedPacket
{
    public Timestamp Time;
    public int LinkType;
    public int CapturedLength;
    public int WireLength;
    /// <summary>Number of 802.1Q/802.1ad tags stripped from the capture link's header (tags inside a tunnel are in
    /// <see cref="Encap"/> only).</summary>
    public byte VlanTags;
    public ushort VlanId;
    /// <summary>The encapsulation headers in front of the IP packet below, outermost first: VLAN tags, MPLS labels,
    /// PPPoE, and the outer IP and tunnel headers of IP-in-IP, GRE, VXLAN, Geneve. Everything from the network layer
    /// on (addresses, <see cref="IpPacketLength"/>, ports, payload) describes the innermost IP packet, the one the
    /// flow is about; the outermost tunnel packet's addresses and size are in <see cref="Encapsulation.OuterSrc"/>,
    /// <see cref="Encapsulation.OuterIpPacketLength"/> and <see cref="Encapsulation.OuterIpWireLength"/>.</summary>
    /// <remarks>Read-only here; it lives in the decoder (a packet holds a reference to it, not a copy, so plain frames,
    /// nearly all of them, do not pay for resetting it) and, like <see cref="Payload"/>, is valid until the decoder
    /// decodes the next frame. <see cref="Encapsulation.None"/> for plain frames.</remarks>
    public readonly ref readonly Encapsulation Encap => ref Unsafe.IsNullRef(in EncapRef) ? ref Encapsulation.None : ref EncapRef;
    /// <summary>The decoder's encapsulation of this frame, or a null reference for a plain frame.</summary>
    internal ref Encapsulation EncapRef;
    /// <summary>The frame had encapsulation layers (<see cref="Encap"/> is not empty); one pointer test.</summary>
    internal readonly bool HasEncapsulation => !Unsafe.IsNullRef(in EncapRef);

    // ---- network layer -------------------------------------------------------------------------
    /// <summary>4, 6, or 0 when the frame carried no IP.</summary>
    public byte IpVersion;
    public IpAddress Src;
    public IpAddress Dst;
    /// <summary>Upper-layer protocol after IPv6 extension headers (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).</summary>
    public byte Protocol;
    /// <summary>Size of the IP packet on the wire per its header: IPv4 total length, IPv6 40 + payload length.
    /// For a reassembled datagram this is the size of the whole reassembled datagram.</summary>
    public int IpPacketLength;
    /// <summary>IPv4 header incl. options, or IPv6 fixed header plus extension headers.</summary>
    public int IpHeaderLength;
    public byte Ttl;
    /// <summary>IPv4 identification, or the IPv6 fragment header identification (0 without one).</summary>
    public uint IpId;
    public bool DontFragment;
    public bool IpChecksumBad;
    /// <summary>Set when this packet came out of IP reassembly (the frame was its last missing fragment). For a tunnelled
    /// packet this is about the inner packet; a reassembled outer (tunnel) packet sets
    /// <see cref="Encapsulation.OuterReassembled"/> instead.</summary>
    public bool Reassembled;
    /// <summary>Number of fragments that made up a reassembled datagram.</summary>
    public int FragmentCount;
    /// <summary>For a reassembled datagram: the IP packet size of its largest fragment on the wire.</summary>
    public int LargestFragment;
    /// <summary>IPv4 MF flag, or the M flag of the IPv6 fragment header.</summary>
    public bool MoreFragments;
    /// <summary>Fragment offset in bytes (IPv4, or the IPv6 fragment header); 0 when not a fragment.</summary>
    public int FragmentOffset;
    /// <summary>IPv4 TOS byte or IPv6 traffic class: DSCP in the upper 6 bits, ECN in the lower 2 (RFC 3168).</summary>
    public byte TrafficClass;

    // ---- transport -----------------------------------------------------------------------------
    public ushort SrcPort;
    public ushort DstPort;

    public uint Seq;
    public uint Ack;
    public TcpFlags TcpFlags;
    /// <summary>Raw (unscaled) TCP window.</summary>
    public ushort Window;
    public int TcpHeaderLength;
    public TcpOptions TcpOptions;

    public int UdpLength;

    public byte IcmpType;
    public byte IcmpCode;
    /// <summary>Next-hop MTU of ICMPv4 type 3 code 4 (RFC 1191) or the MTU of ICMPv6 Packet Too Big; -1 otherwise.
    /// When the error quotes a tunnel packet (<see cref="QuotedPacket.TunnelOverhead"/> &gt; 0), this is the MTU left
    /// for the packet inside the tunnel, the one <see cref="Quoted"/> describes: the hop's MTU
    /// (<see cref="IcmpMtuOnWire"/>) minus the tunnel overhead.</summary>
    public int IcmpMtu;
    /// <summary>The MTU exactly as the ICMP message states it (equal to <see cref="IcmpMtu"/> unless the quote was
    /// decapsulated).</summary>
    public readonly int IcmpMtuOnWire => IcmpMtu < 0 ? IcmpMtu : IcmpMtu + IcmpMtuAdjustment;
    /// <summary>What was taken off the stated MTU for the tunnel (0 for other packets: a default needs no reset).</summary>
    internal int IcmpMtuAdjustment;
    /// <summary>The packet quoted inside an ICMP error (destination unreachable, time exceeded, too big, ...).</summary>
    public QuotedPacket Quoted;

    /// <summary>Transport payload: TCP/UDP data, or the ICMP body after the 8-byte ICMP header.
    /// Limited to what was captured.</summary>
    public ReadOnlySpan<byte> Payload;
    /// <summary>Payload length according to the headers (may exceed Payload.Length when the frame was cut by the snap length).</summary>
    public int PayloadWireLength;

    /// <summary>A connection's opening SYN and nothing else: SYN without ACK, FIN or RST, and no payload (what a flow
    /// whose only packet it is keeps instead of its state: Engine and SmtpAnalyzer "hold" it).</summary>
    internal readonly bool IsBareSyn =>
        (TcpFlags & (TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Fin | TcpFlags.Rst)) == TcpFlags.Syn && PayloadWireLength == 0;

    /// <summary>This frame is an IP fragment (not an atomic IPv6 fragment). When it completed a datagram,
    /// <see cref="Reassembled"/> is set as well.</summary>
    public readonly bool IsFragment => IpVersion != 0 && (MoreFragments || FragmentOffset != 0);

    public readonly bool IsTcp => Protocol == IpProtocols.Tcp && IpVersion != 0;
    public readonly bool IsUdp => Protocol == IpProtocols.Udp && IpVersion != 0;
    public readonly bool IsIcmp => IpVersion != 0 && (Protocol == IpProtocols.Icmp || Protocol == IpProtocols.IcmpV6);
}

public static class IpProtocols
{
    public const byte HopByHop = 0;
    public const byte Icmp = 1;
    public const byte Tcp = 6;
    public const byte Udp = 17;
    public const byte IpInIp = 4;      // IPv4 encapsulated (RFC 2003; in IPv6, RFC 2473)
    public const byte Ipv6InIp = 41;   // IPv6 encapsulated (RFC 4213 6in4; RFC 2473 6in6)
    public const byte Gre = 47;
    public const byte L2tpV3 = 115;
    public const byte MplsInIp = 137;  // RFC 4023
    public const byte Routing = 43;
    public const byte Fragment = 44;
    public const byte Esp = 50;
    public const byte Ah = 51;
    public const byte IcmpV6 = 58;
    public const byte NoNext = 59;
    public const byte DestinationOptions = 60;
    public const byte Mobility = 135;
}

[Flags]
public enum TcpFlags : ushort
{
    None = 0,
    Fin = 0x001,
    Syn = 0x002,
    Rst = 0x004,
    Psh = 0x008,
    Ack = 0x010,
    Urg = 0x020,
    Ece = 0x040,
    Cwr = 0x080,
    Ae = 0x100, // RFC 3540 nonce sum / AccECN
}

/// <summary>Up to four SACK blocks (left, right) as 8 uints; a TCP option can carry at most 4 (RFC 2018).</summary>
[InlineArray(8)]
public struct SackEdges
{
    private uint _e0;
}

/// <summary>TCP options PathProbe uses (RFC 9293 3.2, RFC 7323, RFC 2018).</summary>
public struct TcpOptions
{
    /// <summary>Maximum segment size option, 0 when absent.</summary>
    public ushort Mss;
    /// <summary>Window scale shift, -1 when absent.</summary>
    public sbyte WindowScale;
    public bool SackPermitted;
    public byte SackBlockCount;
    public SackEdges Sack;
    public bool HasTimestamps;
    public uint TsVal;
    public uint TsEcr;

    public readonly uint SackLeft(int i) => Sack[2 * i];
    public readonly uint SackRight(int i) => Sack[2 * i + 1];
}

/// <summary>The IP + transport header quoted in an ICMP error (RFC 792, RFC 4443 2.4), enough to find the flow.</summary>
public struct QuotedPacket
{
    public bool Present;
    public byte IpVersion;
    public IpAddress Src;
    public IpAddress Dst;
    public byte Protocol;
    /// <summary>Total length of the offending IP packet as its header says.</summary>
    public int IpPacketLength;
    public bool DontFragment;
    public uint IpId;
    /// <summary>Ports are 0 when the quote is too short to hold them (RFC 792 only guarantees 8 bytes).</summary>
    public bool HasPorts;
    public ushort SrcPort;
    public ushort DstPort;
    public bool HasTcpSeq;
    public uint TcpSeq;
    /// <summary>Bytes of tunnel headers (outer IP, GRE, UDP + VXLAN + Ethernet, ...) quoted in front of the packet these
    /// fields describe; 0 when the quoted packet was not a tunnel packet (or its inner header was cut off, in which
    /// case the fields describe the outer packet).</summary>
    public ushort TunnelOverhead;
    /// <summary>For a decapsulated quote: the quoted outer packet's total length.</summary>
    public ushort OuterIpPacketLength;
}
