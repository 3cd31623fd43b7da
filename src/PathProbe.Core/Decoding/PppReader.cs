using System.Buffers.Binary;

namespace PathProbe.Decoding;

/// <summary>What a PPP protocol number (RFC 1661 2, IANA PPP DLL protocol numbers) carries, for the decoder.</summary>
internal enum PppPayload : byte
{
    /// <summary>IPv4, IPv6 or MPLS: <see cref="PppReader.EtherType"/> says which.</summary>
    Network,
    /// <summary>LCP, the NCPs (IPCP, IPv6CP, ...), authentication: link control, not user traffic.</summary>
    Control,
    /// <summary>Compressed or encrypted datagrams (CCP/MPPE, Van Jacobson TCP/IP header compression).</summary>
    Compressed,
    /// <summary>Another network protocol (IPX, AppleTalk, ...).</summary>
    Other,
}

/// <summary>
/// A PPP header (RFC 1661 2) with optional HDLC-like address and control bytes (RFC 1662 3.1: 0xff 0x03) and a
/// protocol field of 2 bytes, or 1 when protocol-field compression is in use (RFC 1661 6.5: an odd first byte).
/// Also the PPPoE session header that carries PPP on Ethernet (RFC 2516 4). <see cref="Payload"/> is a slice of the
/// input and valid as long as the input is.
/// </summary>
internal ref struct PppReader
{
    private const byte HdlcAddress = 0xFF;
    private const byte HdlcControl = 0x03;
    private const ushort ProtocolIpv4 = 0x0021;
    private const ushort ProtocolIpv6 = 0x0057;
    private const ushort ProtocolMpls = 0x0281;
    private const ushort ProtocolMplsMulticast = 0x0283;
    private const ushort ProtocolVjCompressed = 0x002D;
    private const ushort ProtocolVjUncompressed = 0x002F;
    private const ushort ProtocolCompressedSingleLink = 0x00FB;
    private const ushort ProtocolCompressed = 0x00FD;
    /// <summary>RFC 1661 2: 0x8000-0xbfff are NCPs, 0xc000-0xffff link-layer control (LCP, PAP, CHAP, ...).</summary>
    private const ushort FirstControlProtocol = 0x8000;

    // PPPoE (RFC 2516 4): ver/type(1) code(1) session id(2) length(2); a session frame's payload is PPP.
    public const int PppoeHeaderLength = 6;
    private const int PppoeSessionIdOffset = 2;
    private const int PppoeLengthOffset = 4;

    public ushort Protocol;
    /// <summary>Bytes of the PPP header read (address/control when present, protocol field).</summary>
    public int HeaderLength;
    /// <summary>For <see cref="PppPayload.Network"/>: 0x0800, 0x86dd or 0x8847.</summary>
    public ushort EtherType;
    public ushort SessionId;
    public ReadOnlySpan<byte> Payload;
    /// <summary>Payload length on the wire (for PPPoE, from its length field).</summary>
    public int PayloadWireLength;

    /// <summary>A PPP header at the start of <paramref name="data"/>.</summary>
    /// <param name="allowHdlcFraming">PPP links may keep 0xff 0x03 in front (RFC 1662); PPPoE never does (RFC 2516 7).</param>
    public MalformedReason Read(ReadOnlySpan<byte> data, int wireLength, bool allowHdlcFraming)
    {
        int offset = 0;
        if (allowHdlcFraming && data.Length >= 2 && data[0] == HdlcAddress && data[1] == HdlcControl) offset = 2;
        if (data.Length <= offset) return MalformedReason.TruncatedPppHeader;
        if ((data[offset] & 1) != 0)
        {
            Protocol = data[offset]; // compressed protocol field
            offset += 1;
        }
        else
        {
            if (data.Length < offset + 2) return MalformedReason.TruncatedPppHeader;
            Protocol = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(offset));
            offset += 2;
        }
        HeaderLength = offset;
        Payload = data.Slice(offset);
        PayloadWireLength = Math.Max(0, wireLength - offset);
        return MalformedReason.None;
    }

    /// <summary>A PPPoE session header, then the PPP header. The PPPoE length (PPP protocol field and payload) bounds
    /// the payload: Ethernet padding after it is not PPP.</summary>
    public MalformedReason ReadPppoeSession(ReadOnlySpan<byte> data, int wireLength)
    {
        if (data.Length < PppoeHeaderLength) return MalformedReason.TruncatedPppoeHeader;
        SessionId = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(PppoeSessionIdOffset));
        int length = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(PppoeLengthOffset));
        if (length > wireLength - PppoeHeaderLength) return MalformedReason.BadPppoeLength;
        ReadOnlySpan<byte> ppp = data.Slice(PppoeHeaderLength, Math.Min(length, data.Length - PppoeHeaderLength));
        MalformedReason r = Read(ppp, length, allowHdlcFraming: false);
        if (r == MalformedReason.TruncatedPppHeader && length < 2) return MalformedReason.BadPppoeLength;
        if (r != MalformedReason.None) return MalformedReason.TruncatedPppoeHeader;
        HeaderLength += PppoeHeaderLength;
        return MalformedReason.None;
    }

    /// <summary>What <see cref="Protocol"/> carries; sets <see cref="EtherType"/> for network protocols PathProbe decodes.</summary>
    public PppPayload Classify()
    {
        switch (Protocol)
        {
            case ProtocolIpv4: EtherType = EtherTypes.Ipv4; return PppPayload.Network;
            case ProtocolIpv6: EtherType = EtherTypes.Ipv6; return PppPayload.Network;
            case ProtocolMpls: EtherType = EtherTypes.Mpls; return PppPayload.Network;
            case ProtocolMplsMulticast: EtherType = EtherTypes.MplsMulticast; return PppPayload.Network;
            case ProtocolVjCompressed or ProtocolVjUncompressed or ProtocolCompressed or ProtocolCompressedSingleLink:
                return PppPayload.Compressed;
            default:
                return Protocol >= FirstControlProtocol ? PppPayload.Control : PppPayload.Other;
        }
    }
}
