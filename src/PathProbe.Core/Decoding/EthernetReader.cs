using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace PathProbe.Decoding;

/// <summary>Well-known EtherType values (IEEE 802.3 / IANA).</summary>
internal static class EtherTypes
{
    public const ushort Ipv4 = 0x0800;
    public const ushort Ipv6 = 0x86DD;
    public const ushort Vlan = 0x8100;       // IEEE 802.1Q C-tag
    public const ushort QinQ = 0x88A8;       // IEEE 802.1ad S-tag
    public const ushort QinQLegacy = 0x9100; // pre-802.1ad vendor S-tag
    public const ushort Mpls = 0x8847;       // RFC 3032 unicast
    public const ushort MplsMulticast = 0x8848;
    public const ushort PppoeDiscovery = 0x8863; // RFC 2516
    public const ushort PppoeSession = 0x8864;
    public const ushort TransparentEthernetBridging = 0x6558; // GRE/Geneve protocol type for an Ethernet payload
    public const ushort Ppp = 0x880B;        // GRE protocol type of PPTP's enhanced GRE (RFC 2637)
    public const ushort CiscoMetadata = 0x8909; // Cisco TrustSec inline SGT tagging
    public const ushort ErspanTypeII = 0x88BE;  // also type I (GRE without sequence number)
    public const ushort ErspanTypeIII = 0x22EB;
    public const ushort MacSec = 0x88E5;     // IEEE 802.1AE
    public const ushort Wccp = 0x883E;       // GRE protocol type of WCCP redirection
    public const ushort Arp = 0x0806;
    /// <summary>Values up to 1500 are an 802.3 length, not a type (IEEE 802.3 3.2.6).</summary>
    public const ushort MaxLength = 1500;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsVlanTag(ushort type) => type == Vlan || type == QinQ || type == QinQLegacy;

    /// <summary>EtherTypes after which the decoder continues: IP, or an encapsulation it decodes (or counts).</summary>
    public static bool IsDecodable(ushort type) => type is Ipv4 or Ipv6 or Mpls or MplsMulticast or PppoeSession or
        PppoeDiscovery or CiscoMetadata or MacSec;

    /// <summary>EtherTypes that make a guessed Ethernet header (an Ethernet pseudowire without control word)
    /// believable: what the payload of such a frame usually is.</summary>
    public static bool IsPlausiblePayload(ushort type) => IsDecodable(type) || IsVlanTag(type) || type == Arp;
}

/// <summary>
/// Ethernet II header (IEEE 802.3) with any number of stacked 802.1Q / 802.1ad tags up to <see cref="MaxVlanTags"/>.
/// <see cref="Payload"/> is a slice of the input and valid as long as the input is.
/// </summary>
internal ref struct EthernetReader
{
    public const int HeaderLength = 14;
    private const int EtherTypeOffset = 12;

    private const int VlanTagLength = 4;
    private const int VlanTciOffset = 0;
    private const int VlanInnerTypeOffset = 2;
    private const ushort VlanIdMask = 0x0FFF;

    /// <summary>Tags accepted before a frame is called malformed: QinQ (2) plus one for the odd triple-tagged
    /// carrier link. A 4th tag is <see cref="MalformedReason.TooManyVlanTags"/>; it bounds the loop on garbage input.</summary>
    public const int MaxVlanTags = 3;

    /// <summary>EtherType after all VLAN tags.</summary>
    public ushort EtherType;
    public byte VlanTags;
    /// <summary>VLAN id of the outermost tag (the one the capture port sees), 0 without tags.</summary>
    public ushort VlanId;
    /// <summary>Bit i set: tag i (0 = outermost) is an 802.1ad/0x9100 S-tag rather than an 802.1Q C-tag.</summary>
    public byte ServiceTags;
    public ReadOnlySpan<byte> Payload;

    /// <summary>Reads the header; returns <see cref="MalformedReason.None"/> on success.</summary>
    public MalformedReason Read(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < HeaderLength) return MalformedReason.TruncatedLinkHeader;
        EtherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(EtherTypeOffset));
        Payload = frame.Slice(HeaderLength);
        return StripVlanTags(ref EtherType, ref Payload, ref VlanTags, ref VlanId, ref ServiceTags);
    }

    /// <summary>
    /// Follows 802.1Q/802.1ad tags: each is TCI(2) + inner EtherType(2) in front of the payload (IEEE 802.1Q 9.6).
    /// Shared by Ethernet and Linux cooked captures, which can also carry tagged frames.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static MalformedReason StripVlanTags(ref ushort etherType, ref ReadOnlySpan<byte> payload, ref byte tags, ref ushort vlanId,
        ref byte serviceTags)
    {
        while (EtherTypes.IsVlanTag(etherType))
        {
            if (tags == MaxVlanTags) return MalformedReason.TooManyVlanTags;
            if (payload.Length < VlanTagLength) return MalformedReason.TruncatedVlanTag;
            if (etherType != EtherTypes.Vlan) serviceTags |= (byte)(1 << tags);
            if (tags == 0) vlanId = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(payload.Slice(VlanTciOffset)) & VlanIdMask);
            etherType = BinaryPrimitives.ReadUInt16BigEndian(payload.Slice(VlanInnerTypeOffset));
            payload = payload.Slice(VlanTagLength);
            tags++;
        }
        return MalformedReason.None;
    }
}
