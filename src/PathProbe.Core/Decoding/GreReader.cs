using System.Buffers.Binary;

namespace PathProbe.Decoding;

/// <summary>
/// GRE header: RFC 2784 (checksum), RFC 2890 (key, sequence number), RFC 1701 (routing, recognised only), and the
/// enhanced GRE of PPTP (RFC 2637 4.1: version 1, key = payload length + call id, optional acknowledgment number).
/// <see cref="Payload"/> is a slice of the input and valid as long as the input is.
/// </summary>
/// <remarks>The checksum, when present, is not verified: it covers the whole payload, and a wrong one would only be
/// counted, never change the decoding (as for TCP and UDP checksums, which PathProbe does not check either).</remarks>
internal ref struct GreReader
{
    public const int BaseHeaderLength = 4;
    private const int FlagsOffset = 0;
    private const int ProtocolTypeOffset = 2;
    private const int OptionalFieldLength = 4;

    private const ushort FlagChecksum = 0x8000;
    private const ushort FlagRouting = 0x4000;
    private const ushort FlagKey = 0x2000;
    private const ushort FlagSequence = 0x1000;
    private const ushort FlagAcknowledgment = 0x0080; // enhanced GRE only
    private const ushort VersionMask = 0x0007;
    public const int VersionEnhanced = 1;

    public ushort Flags;
    public int Version;
    public ushort ProtocolType;
    public int HeaderLength;
    public bool HasChecksum;
    public bool HasRouting;
    public bool HasKey;
    /// <summary>RFC 2890 key; for enhanced GRE, payload length (high 16 bits) and call id (low 16 bits).</summary>
    public uint Key;
    public bool HasSequence;
    public uint Sequence;
    public ReadOnlySpan<byte> Payload;
    public int PayloadWireLength;

    public MalformedReason Read(ReadOnlySpan<byte> data, int wireLength)
    {
        if (data.Length < BaseHeaderLength) return MalformedReason.TruncatedGreHeader;
        Flags = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(FlagsOffset));
        ProtocolType = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(ProtocolTypeOffset));
        Version = Flags & VersionMask;
        if (Version > VersionEnhanced) return MalformedReason.BadGreVersion;
        HasChecksum = (Flags & FlagChecksum) != 0;
        HasRouting = (Flags & FlagRouting) != 0;
        HasKey = (Flags & FlagKey) != 0;
        HasSequence = (Flags & FlagSequence) != 0;

        int offset = BaseHeaderLength;
        // RFC 1701: checksum and offset are both present when either C or R is set.
        if (HasChecksum || HasRouting) offset += OptionalFieldLength;
        if (HasKey)
        {
            if (data.Length < offset + OptionalFieldLength) return MalformedReason.TruncatedGreHeader;
            Key = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(offset));
            offset += OptionalFieldLength;
        }
        if (HasSequence)
        {
            if (data.Length < offset + OptionalFieldLength) return MalformedReason.TruncatedGreHeader;
            Sequence = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(offset));
            offset += OptionalFieldLength;
        }
        if (Version == VersionEnhanced && (Flags & FlagAcknowledgment) != 0) offset += OptionalFieldLength;
        if (data.Length < offset) return MalformedReason.TruncatedGreHeader;

        HeaderLength = offset;
        Payload = data.Slice(offset);
        PayloadWireLength = Math.Max(0, wireLength - offset);
        return MalformedReason.None;
    }
}
