using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using PathProbe.Primitives;

namespace PathProbe.Decoding;

/// <summary>
/// IPv4 header (RFC 791 3.1). <see cref="ReadHeader"/> checks only what is needed to trust the fields (used for
/// headers quoted in ICMP errors); <see cref="Read"/> also checks the total length, options and checksum of a
/// packet on the wire. <see cref="Payload"/> is a slice of the input and valid as long as the input is.
/// </summary>
internal ref struct Ipv4Reader
{
    public const int MinHeaderLength = 20;
    private const int VersionIhlOffset = 0;
    private const int TosOffset = 1;
    private const int TotalLengthOffset = 2;
    private const int IdentificationOffset = 4;
    private const int FlagsFragmentOffset = 6;
    private const int TtlOffset = 8;
    private const int ProtocolOffset = 9;
    private const int SrcOffset = 12;
    private const int DstOffset = 16;

    private const ushort FlagDontFragment = 0x4000;
    private const ushort FlagMoreFragments = 0x2000;
    private const ushort FragmentOffsetMask = 0x1FFF;

    // RFC 791 3.1 options: single-byte EOL and NOP, everything else type-length-value.
    private const byte OptionEndOfList = 0;
    private const byte OptionNop = 1;

    public int HeaderLength;
    /// <summary>Total length as the header says (or, for a TSO super-frame, as the frame says).</summary>
    public int TotalLength;
    public byte Tos;
    public ushort Identification;
    public bool DontFragment;
    public bool MoreFragments;
    /// <summary>Fragment offset in bytes.</summary>
    public int FragmentOffset;
    public byte Ttl;
    public byte Protocol;
    public IpAddress Src;
    public IpAddress Dst;
    public bool ChecksumValid;
    public bool OptionsValid;
    /// <summary>Set when the total length field was 0 and the length was taken from the frame (see <see cref="Read"/>).</summary>
    public bool TsoLength;
    /// <summary>Bytes after the header, within the total length and what was captured.</summary>
    public ReadOnlySpan<byte> Payload;
    /// <summary>Payload length per the total length.</summary>
    public int PayloadWireLength;

    public readonly bool IsFragment => MoreFragments | FragmentOffset != 0;

    /// <summary>Version, IHL and the fixed fields; enough to identify the packet.</summary>
    public MalformedReason ReadHeader(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return MalformedReason.TruncatedIpv4Header;
        byte versionIhl = data[VersionIhlOffset];
        if (versionIhl >> 4 != 4) return MalformedReason.BadIpv4Version;
        if (data.Length < MinHeaderLength) return MalformedReason.TruncatedIpv4Header;
        HeaderLength = (versionIhl & 0x0F) * 4;
        if (HeaderLength < MinHeaderLength) return MalformedReason.BadIpv4HeaderLength;
        if (HeaderLength > data.Length) return MalformedReason.TruncatedIpv4Header;

        Tos = data[TosOffset];
        TotalLength = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(TotalLengthOffset));
        Identification = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(IdentificationOffset));
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(FlagsFragmentOffset));
        DontFragment = (flags & FlagDontFragment) != 0;
        MoreFragments = (flags & FlagMoreFragments) != 0;
        FragmentOffset = (flags & FragmentOffsetMask) * 8;
        Ttl = data[TtlOffset];
        Protocol = data[ProtocolOffset];
        Src = IpAddress.ReadV4(data.Slice(SrcOffset));
        Dst = IpAddress.ReadV4(data.Slice(DstOffset));
        return MalformedReason.None;
    }

    /// <param name="data">From the IP header to the end of the captured frame (may include Ethernet padding).</param>
    /// <param name="wireLength">Bytes from the IP header to the end of the frame on the wire (&gt;= data.Length).</param>
    /// <remarks>
    /// A total length of 0 is what Linux shows for TSO/GSO super-frames captured on the sending host (and IPv4
    /// BIG TCP, where the real length exceeds 65535); like Wireshark we then take the length from the frame.
    /// A bad option length sets <see cref="OptionsValid"/> false but is not fatal: the header length is still
    /// known from the IHL, so the transport header can be found.
    /// </remarks>
    public MalformedReason Read(ReadOnlySpan<byte> data, int wireLength)
    {
        MalformedReason r = ReadHeader(data);
        if (r != MalformedReason.None) return r;

        if (TotalLength == 0 && wireLength > HeaderLength)
        {
            TotalLength = wireLength;
            TsoLength = true;
        }
        if (TotalLength < HeaderLength) return MalformedReason.BadIpv4TotalLength;

        ReadOnlySpan<byte> header = data.Slice(0, HeaderLength);
        ChecksumValid = Checksum.OnesComplementSum(header) == 0xFFFF;
        OptionsValid = HeaderLength == MinHeaderLength || OptionsWellFormed(header.Slice(MinHeaderLength));

        // Padding after the total length (Ethernet minimum frame size) is not ours; a snap-cut packet is shorter.
        Payload = data.Slice(HeaderLength, Math.Min(TotalLength, data.Length) - HeaderLength);
        PayloadWireLength = TotalLength - HeaderLength;
        return MalformedReason.None;
    }

    /// <summary>Loose option walk (RFC 791 3.1): every type-length-value option must have a length of at least 2
    /// that stays within the header. Option contents are not interpreted.</summary>
    private static bool OptionsWellFormed(ReadOnlySpan<byte> options)
    {
        int i = 0;
        while (i < options.Length)
        {
            byte type = options[i];
            if (type == OptionEndOfList) return true;
            if (type == OptionNop) { i++; continue; }
            if (i + 1 >= options.Length) return false;
            int length = options[i + 1];
            if (length < 2 || i + length > options.Length) return false;
            i += length;
        }
        return true;
    }
}

/// <summary>Internet checksum (RFC 1071).</summary>
internal static class Checksum
{
    /// <summary>Folded 16-bit ones' complement sum; a header with a correct checksum sums to 0xFFFF.
    /// <paramref name="data"/> length must be even (IPv4 headers are a multiple of 4).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort OnesComplementSum(ReadOnlySpan<byte> data)
    {
        ulong sum = 0;
        int i = 0;
        for (; i + 4 <= data.Length; i += 4) sum += BinaryPrimitives.ReadUInt32BigEndian(data.Slice(i));
        if (i + 2 <= data.Length) sum += BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i));
        // Adding 32-bit words is the same ones' complement sum once folded down to 16 bits (RFC 1071 2(B)).
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }
}
