using System.Buffers.Binary;
using PathProbe.Capture;

namespace PathProbe.Decoding;

internal enum LinkStatus : byte
{
    /// <summary><see cref="LinkLayerReader.Network"/> starts at an IPv4 or IPv6 header.</summary>
    Ip,
    NotIp,
    Unsupported,
    /// <summary>See <see cref="LinkLayerReader.Error"/>.</summary>
    Malformed,
    /// <summary><see cref="LinkLayerReader.Network"/> starts at a header the decoder continues with (MPLS, PPPoE,
    /// Cisco metadata, ...) named by <see cref="LinkLayerReader.EtherType"/>.</summary>
    Encapsulated,
    /// <summary>A valid encapsulation PathProbe does not look into: <see cref="LinkLayerReader.Undecoded"/>, with the PPP
    /// protocol number in <see cref="LinkLayerReader.EtherType"/>.</summary>
    Undecoded,
    /// <summary>A PPP control frame (LCP, the NCPs, authentication) on a PPP link: not IP.</summary>
    PppControl,
}

/// <summary>
/// Strips the link-layer header of every link type PathProbe decodes (tcpdump.org/linktypes.html) and says
/// which IP version follows. <see cref="Network"/> is a slice of the frame and valid as long as the frame is.
/// </summary>
internal ref struct LinkLayerReader
{
    // LINKTYPE_LINUX_SLL: packet type(2) ARPHRD(2) address length(2) address(8) protocol(2).
    private const int SllHeaderLength = 16;
    private const int SllProtocolOffset = 14;
    // LINKTYPE_LINUX_SLL2: protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) address length(1) address(8).
    private const int Sll2HeaderLength = 20;
    private const int Sll2ProtocolOffset = 0;
    // LINKTYPE_NULL / LINKTYPE_LOOP: a 4-byte address family.
    private const int NullHeaderLength = 4;
    // LINKTYPE_C_HDLC, and Cisco framing in LINKTYPE_PPP_HDLC: address(1) control(1) protocol = EtherType(2).
    private const int CiscoHdlcHeaderLength = 4;
    private const int CiscoHdlcProtocolOffset = 2;
    private const byte CiscoHdlcUnicast = 0x0F;
    private const byte CiscoHdlcMulticast = 0x8F;

    private const uint AfInet = 2;
    private const uint AfInet6NetBsd = 24; // also OpenBSD, BSD/OS
    private const uint AfInet6FreeBsd = 28; // also DragonFly
    private const uint AfInet6Darwin = 30;
    /// <summary>Address families are small numbers; a value above this in both byte orders is garbage, not a family.</summary>
    private const uint MaxPlausibleFamily = 255;

    // Kept small: the reader is created for every frame.
    public ReadOnlySpan<byte> Network;
    /// <summary>IP version announced by the link layer (EtherType, family or first nibble): 4 or 6.</summary>
    public byte IpVersion;
    public byte VlanTags;
    /// <summary>Bit i set: VLAN tag i is an S-tag (see <see cref="EthernetReader.ServiceTags"/>).</summary>
    public byte ServiceTags;
    public MalformedReason Error;
    /// <summary>For <see cref="LinkStatus.Undecoded"/>: why (the PPP protocol number is in <see cref="EtherType"/>).</summary>
    public UndecodedReason Undecoded;
    public ushort VlanId;
    /// <summary>For <see cref="LinkStatus.Encapsulated"/>: what <see cref="Network"/> starts with.</summary>
    public ushort EtherType;

    public LinkStatus Read(int linkType, ReadOnlySpan<byte> frame)
    {
        switch (linkType)
        {
            case LinkTypes.Ethernet:
            {
                var eth = new EthernetReader();
                Error = eth.Read(frame);
                VlanTags = eth.VlanTags;
                VlanId = eth.VlanId;
                ServiceTags = eth.ServiceTags;
                if (Error != MalformedReason.None) return LinkStatus.Malformed;
                Network = eth.Payload;
                return FromEtherType(eth.EtherType);
            }
            case LinkTypes.LinuxSll:
                if (frame.Length < SllHeaderLength) return Fail(MalformedReason.TruncatedLinkHeader);
                return FromCookedProtocol(BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(SllProtocolOffset)), frame.Slice(SllHeaderLength));
            case LinkTypes.LinuxSll2:
                if (frame.Length < Sll2HeaderLength) return Fail(MalformedReason.TruncatedLinkHeader);
                return FromCookedProtocol(BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(Sll2ProtocolOffset)), frame.Slice(Sll2HeaderLength));
            case LinkTypes.Raw or LinkTypes.RawAlt12 or LinkTypes.RawAlt14:
                if (frame.IsEmpty) return Fail(MalformedReason.TruncatedLinkHeader);
                IpVersion = (byte)(frame[0] >> 4);
                if (IpVersion != 4 && IpVersion != 6) return Fail(MalformedReason.BadRawIpVersion);
                Network = frame;
                return LinkStatus.Ip;
            case LinkTypes.Ipv4:
                IpVersion = 4;
                Network = frame;
                return LinkStatus.Ip;
            case LinkTypes.Ipv6:
                IpVersion = 6;
                Network = frame;
                return LinkStatus.Ip;
            case LinkTypes.Null:
                // Host byte order of the machine that wrote the capture, which need not be the file's byte order
                // (pcap-linktype(7)); the two orders never collide for the values we accept.
                if (frame.Length < NullHeaderLength) return Fail(MalformedReason.TruncatedLinkHeader);
                return FromFamily(BinaryPrimitives.ReadUInt32LittleEndian(frame), BinaryPrimitives.ReadUInt32BigEndian(frame), frame.Slice(NullHeaderLength));
            case LinkTypes.Loop:
                if (frame.Length < NullHeaderLength) return Fail(MalformedReason.TruncatedLinkHeader);
                uint family = BinaryPrimitives.ReadUInt32BigEndian(frame); // always network order
                return FromFamily(family, family, frame.Slice(NullHeaderLength));
            case LinkTypes.Ppp:
                return FromPpp(frame);
            case LinkTypes.PppHdlc:
                if (!frame.IsEmpty && frame[0] is CiscoHdlcUnicast or CiscoHdlcMulticast) return FromCiscoHdlc(frame);
                return FromPpp(frame);
            case LinkTypes.CiscoHdlc:
                return FromCiscoHdlc(frame);
            case LinkTypes.PppEther:
                Network = frame;
                EtherType = EtherTypes.PppoeSession;
                return LinkStatus.Encapsulated;
            default:
                return LinkStatus.Unsupported;
        }
    }

    private LinkStatus Fail(MalformedReason reason)
    {
        Error = reason;
        return LinkStatus.Malformed;
    }

    private LinkStatus FromEtherType(ushort etherType)
    {
        if (etherType == EtherTypes.Ipv4) { IpVersion = 4; return LinkStatus.Ip; }
        if (etherType == EtherTypes.Ipv6) { IpVersion = 6; return LinkStatus.Ip; }
        return NotIpEtherType(etherType);
    }

    /// <summary>Kept out of <see cref="FromEtherType"/> so the IP path stays two comparisons.</summary>
    private LinkStatus NotIpEtherType(ushort etherType)
    {
        if (!EtherTypes.IsDecodable(etherType)) return LinkStatus.NotIp; // ARP, LLDP, 802.3 length + LLC, STP, ...
        EtherType = etherType;
        return LinkStatus.Encapsulated;
    }

    /// <summary>PPP links (RFC 1661): the PPP protocol says what follows; the framing is the link's, not a layer.</summary>
    private LinkStatus FromPpp(ReadOnlySpan<byte> frame)
    {
        var ppp = new PppReader();
        MalformedReason r = ppp.Read(frame, frame.Length, allowHdlcFraming: true);
        if (r != MalformedReason.None) return Fail(r);
        Network = ppp.Payload;
        switch (ppp.Classify())
        {
            case PppPayload.Network:
                return FromEtherType(ppp.EtherType);
            case PppPayload.Control:
                return LinkStatus.PppControl;
            case PppPayload.Compressed:
                return NotDecoded(UndecodedReason.PppCompressed, ppp.Protocol);
            default:
                return NotDecoded(UndecodedReason.PppProtocol, ppp.Protocol);
        }
    }

    private LinkStatus FromCiscoHdlc(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < CiscoHdlcHeaderLength) return Fail(MalformedReason.TruncatedLinkHeader);
        Network = frame.Slice(CiscoHdlcHeaderLength);
        return FromEtherType(BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(CiscoHdlcProtocolOffset)));
    }

    private LinkStatus NotDecoded(UndecodedReason reason, ushort detail)
    {
        Undecoded = reason;
        EtherType = detail;
        return LinkStatus.Undecoded;
    }

    /// <summary>Linux cooked headers carry an EtherType; tagged frames keep their 802.1Q tag when the NIC did not strip it.</summary>
    private LinkStatus FromCookedProtocol(ushort protocol, ReadOnlySpan<byte> payload)
    {
        Error = EthernetReader.StripVlanTags(ref protocol, ref payload, ref VlanTags, ref VlanId, ref ServiceTags);
        if (Error != MalformedReason.None) return LinkStatus.Malformed;
        Network = payload;
        return FromEtherType(protocol);
    }

    private LinkStatus FromFamily(uint littleEndian, uint bigEndian, ReadOnlySpan<byte> payload)
    {
        Network = payload;
        if (littleEndian == AfInet || bigEndian == AfInet) { IpVersion = 4; return LinkStatus.Ip; }
        if (IsInet6(littleEndian) || IsInet6(bigEndian)) { IpVersion = 6; return LinkStatus.Ip; }
        // A plausible family (AF_APPLETALK, AF_ISO, ...) is a valid non-IP frame; anything else is a broken header.
        if (littleEndian <= MaxPlausibleFamily || bigEndian <= MaxPlausibleFamily) return LinkStatus.NotIp;
        return Fail(MalformedReason.BadNullFamily);
    }

    private static bool IsInet6(uint family) => family == AfInet6NetBsd || family == AfInet6FreeBsd || family == AfInet6Darwin;
}
