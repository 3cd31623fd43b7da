using System.Buffers.Binary;
using PathProbe.Primitives;

namespace PathProbe.Decoding;

/// <summary>
/// IPv6 fixed header and extension header chain (RFC 8200 3, 4). <see cref="ReadHeader"/> is used for headers
/// quoted in ICMPv6 errors; <see cref="Read"/> for packets on the wire. <see cref="Payload"/> is a slice of the
/// input and valid as long as the input is.
/// </summary>
internal ref struct Ipv6Reader
{
    public const int FixedHeaderLength = 40;
    private const int VersionOffset = 0;
    private const int PayloadLengthOffset = 4;
    private const int NextHeaderOffset = 6;
    private const int HopLimitOffset = 7;
    private const int SrcOffset = 8;
    private const int DstOffset = 24;

    // Generic extension header (RFC 8200 4.3-4.6): next header(1), length in 8-octet units not counting the first 8.
    private const int ExtNextHeaderOffset = 0;
    private const int ExtLengthOffset = 1;
    private const int ExtMinLength = 8;
    // Fragment header (RFC 8200 4.5): next(1) reserved(1) offset<<3|res|M (2) identification(4).
    private const int FragmentHeaderLength = 8;
    private const int FragmentOffsetFlagsOffset = 2;
    private const int FragmentIdOffset = 4;
    private const ushort FragmentOffsetMask = 0xFFF8;
    private const ushort FragmentMoreFlag = 0x0001;
    // Jumbo Payload option (RFC 2675 2) inside hop-by-hop options.
    private const byte OptionPad1 = 0;
    private const byte OptionJumboPayload = 0xC2;
    private const byte Hip = 139;   // RFC 7401, uses the generic length formula (RFC 7045)
    private const byte Shim6 = 140; // RFC 5533, likewise

    /// <summary>Extension headers followed at most; a longer chain is <see cref="MalformedReason.TooManyIpv6ExtensionHeaders"/>.
    /// Real traffic has 0-3; the bound keeps the walk finite and cheap on crafted packets.</summary>
    public const int MaxExtensionHeaders = 15;

    public byte TrafficClass;
    public int PayloadLength;
    /// <summary>Upper-layer protocol after the extension headers walked (for a non-atomic fragment: the fragment
    /// header's next header, which may itself be an extension header inside the fragmentable part).</summary>
    public byte NextHeader;
    public byte HopLimit;
    public IpAddress Src;
    public IpAddress Dst;
    /// <summary>Fixed header plus the extension headers walked.</summary>
    public int HeaderLength;
    public int ExtensionHeaders;
    public bool HasFragmentHeader;
    public int FragmentOffset;
    public bool MoreFragments;
    public uint FragmentId;
    public bool HasJumboOption;
    /// <summary>40 + payload length (or the frame length for a TSO super-frame, see <see cref="Read"/>).</summary>
    public int PacketLength;
    /// <summary>Bytes after the headers walked, within the packet length and what was captured.</summary>
    public ReadOnlySpan<byte> Payload;
    public int PayloadWireLength;

    /// <summary>A fragment header with offset 0 and M=0 is an atomic fragment (RFC 6946): decoded directly.</summary>
    public readonly bool IsFragment => HasFragmentHeader && (MoreFragments | FragmentOffset != 0);

    /// <summary>Fixed header, then the extension headers within <paramref name="data"/>.</summary>
    public MalformedReason ReadHeader(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return MalformedReason.TruncatedIpv6Header;
        if (data[VersionOffset] >> 4 != 6) return MalformedReason.BadIpv6Version;
        if (data.Length < FixedHeaderLength) return MalformedReason.TruncatedIpv6Header;

        TrafficClass = (byte)(BinaryPrimitives.ReadUInt16BigEndian(data) >> 4);
        PayloadLength = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(PayloadLengthOffset));
        NextHeader = data[NextHeaderOffset];
        HopLimit = data[HopLimitOffset];
        Src = IpAddress.ReadV6(data.Slice(SrcOffset));
        Dst = IpAddress.ReadV6(data.Slice(DstOffset));
        HeaderLength = FixedHeaderLength;
        PacketLength = FixedHeaderLength + PayloadLength;
        return WalkExtensionHeaders(data);
    }

    /// <param name="data">From the IP header to the end of the captured frame (may include Ethernet padding).</param>
    /// <param name="wireLength">Bytes from the IP header to the end of the frame on the wire (&gt;= data.Length).</param>
    /// <remarks>
    /// Payload length 0 with a Jumbo Payload option is a jumbogram (RFC 2675), which PathProbe does not decode:
    /// <see cref="MalformedReason.BadIpv6PayloadLength"/>. Payload length 0 without it but with bytes following
    /// is a TSO/GSO super-frame captured on the sending host (Linux BIG TCP); the length is taken from the frame.
    /// </remarks>
    public MalformedReason Read(ReadOnlySpan<byte> data, int wireLength)
    {
        if (data.IsEmpty) return MalformedReason.TruncatedIpv6Header;
        if (data[VersionOffset] >> 4 != 6) return MalformedReason.BadIpv6Version;
        if (data.Length < FixedHeaderLength) return MalformedReason.TruncatedIpv6Header;

        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(PayloadLengthOffset));
        int packetLength = payloadLength == 0 && data[NextHeaderOffset] != IpProtocols.NoNext && wireLength > FixedHeaderLength
            ? wireLength
            : FixedHeaderLength + payloadLength;
        // Headers are walked only within the packet: bytes past it are padding, not extension headers.
        ReadOnlySpan<byte> packet = data.Slice(0, Math.Min(packetLength, data.Length));
        MalformedReason r = ReadHeader(packet);
        if (r != MalformedReason.None) return r;
        if (HasJumboOption && PayloadLength == 0) return MalformedReason.BadIpv6PayloadLength;

        PacketLength = packetLength;
        Payload = packet.Slice(HeaderLength);
        PayloadWireLength = packetLength - HeaderLength;
        return MalformedReason.None;
    }

    /// <summary>Follows the chain from <see cref="NextHeader"/> at <see cref="HeaderLength"/> within <paramref name="data"/>.
    /// Stops at an upper-layer protocol, ESP, No Next Header, or after a non-atomic fragment header (what follows
    /// it belongs to the fragmentable part and is walked again after reassembly).</summary>
    public MalformedReason WalkExtensionHeaders(ReadOnlySpan<byte> data)
    {
        while (true)
        {
            byte next = NextHeader;
            int length;
            switch (next)
            {
                case IpProtocols.HopByHop:
                case IpProtocols.Routing:
                case IpProtocols.DestinationOptions:
                case IpProtocols.Mobility:
                case Hip:
                case Shim6:
                    if (data.Length - HeaderLength < 2) return MalformedReason.TruncatedIpv6ExtensionHeader;
                    length = (data[HeaderLength + ExtLengthOffset] + 1) * ExtMinLength;
                    break;
                case IpProtocols.Ah:
                    // RFC 4302 2.2: length in 32-bit words minus 2.
                    if (data.Length - HeaderLength < 2) return MalformedReason.TruncatedIpv6ExtensionHeader;
                    length = (data[HeaderLength + ExtLengthOffset] + 2) * 4;
                    break;
                case IpProtocols.Fragment:
                    length = FragmentHeaderLength;
                    break;
                default:
                    return MalformedReason.None;
            }
            if (ExtensionHeaders == MaxExtensionHeaders) return MalformedReason.TooManyIpv6ExtensionHeaders;
            if (data.Length - HeaderLength < length) return MalformedReason.TruncatedIpv6ExtensionHeader;

            ReadOnlySpan<byte> ext = data.Slice(HeaderLength, length);
            NextHeader = ext[ExtNextHeaderOffset];
            HeaderLength += length;
            ExtensionHeaders++;

            if (next == IpProtocols.HopByHop)
            {
                HasJumboOption |= HasJumbo(ext.Slice(2));
            }
            else if (next == IpProtocols.Fragment)
            {
                ushort offsetFlags = BinaryPrimitives.ReadUInt16BigEndian(ext.Slice(FragmentOffsetFlagsOffset));
                HasFragmentHeader = true;
                FragmentOffset = offsetFlags & FragmentOffsetMask; // 8-octet units << 3 == bytes
                MoreFragments = (offsetFlags & FragmentMoreFlag) != 0;
                FragmentId = BinaryPrimitives.ReadUInt32BigEndian(ext.Slice(FragmentIdOffset));
                if (IsFragment) return MalformedReason.None;
            }
        }
    }

    /// <summary>Scans hop-by-hop TLV options (RFC 8200 4.2) for a Jumbo Payload option.</summary>
    private static bool HasJumbo(ReadOnlySpan<byte> options)
    {
        int i = 0;
        while (i < options.Length)
        {
            byte type = options[i];
            if (type == OptionJumboPayload) return true;
            if (type == OptionPad1) { i++; continue; }
            if (i + 1 >= options.Length) return false;
            i += 2 + options[i + 1];
        }
        return false;
    }
}
