using System.Buffers.Binary;

namespace PathProbe.Decoding;

/// <summary>
/// ERSPAN (draft-foschiano-erspan): a switch's mirrored copy of a frame sent to a collector in GRE. Type I: GRE
/// 0x88be without sequence number and no ERSPAN header; type II: GRE 0x88be with a sequence number and an 8-byte
/// header (version 1); type III: GRE 0x22eb, a 12-byte header (version 2) and, when its O bit is set, an 8-byte
/// platform-specific subheader. The Ethernet frame that follows is the mirrored one.
/// </summary>
internal ref struct ErspanReader
{
    public const int TypeIIHeaderLength = 8;
    public const int TypeIIIHeaderLength = 12;
    private const int PlatformSubheaderLength = 8;
    private const int VersionShift = 4;
    public const int VersionTypeII = 1;
    public const int VersionTypeIII = 2;
    private const int TypeIIIFlagsOffset = 11;
    private const byte TypeIIIOptionalSubheader = 0x01;

    public int Version;
    public int HeaderLength;
    public ReadOnlySpan<byte> Payload;

    /// <param name="greProtocol">0x88be or 0x22eb.</param>
    /// <param name="greHasSequence">Type I and II share 0x88be; only type II sends sequence numbers.</param>
    public MalformedReason Read(ReadOnlySpan<byte> data, ushort greProtocol, bool greHasSequence)
    {
        if (greProtocol == EtherTypes.ErspanTypeII && !greHasSequence)
        {
            Version = 0; // type I: the frame follows GRE directly
            HeaderLength = 0;
            Payload = data;
            return MalformedReason.None;
        }
        if (data.IsEmpty) return MalformedReason.TruncatedErspanHeader;
        Version = data[0] >> VersionShift;
        if (Version == VersionTypeII) HeaderLength = TypeIIHeaderLength;
        else if (Version == VersionTypeIII)
        {
            if (data.Length < TypeIIIHeaderLength) return MalformedReason.TruncatedErspanHeader;
            HeaderLength = TypeIIIHeaderLength + ((data[TypeIIIFlagsOffset] & TypeIIIOptionalSubheader) != 0 ? PlatformSubheaderLength : 0);
        }
        else return MalformedReason.None; // unknown version: the caller counts it as not decoded
        if (data.Length < HeaderLength) return MalformedReason.TruncatedErspanHeader;
        Payload = data.Slice(HeaderLength);
        return MalformedReason.None;
    }

    public readonly bool Known => Version is 0 or VersionTypeII or VersionTypeIII;
}

/// <summary>Cisco metadata (0x8909, TrustSec inline SGT tagging), 8 bytes read at fixed offsets as Wireshark does
/// (packet-cisco-metadata.c). After an Ethernet header: version(1) length(1) option(2) SGT(2), then the payload's
/// EtherType(2). As a GRE protocol type (DMVPN with SGT): the payload's EtherType comes first, then the same 6 bytes.</summary>
internal ref struct CiscoMetadataReader
{
    public const int HeaderLength = 8;
    private const int EtherTypeOffsetAfterEthernet = 6;
    private const int EtherTypeOffsetInGre = 0;

    public ushort EtherType;
    public ReadOnlySpan<byte> Payload;

    public MalformedReason Read(ReadOnlySpan<byte> data, bool inGre)
    {
        if (data.Length < HeaderLength) return MalformedReason.TruncatedCiscoMetadata;
        EtherType = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(inGre ? EtherTypeOffsetInGre : EtherTypeOffsetAfterEthernet));
        Payload = data.Slice(HeaderLength);
        return MalformedReason.None;
    }
}
