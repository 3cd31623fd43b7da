using System.Buffers.Binary;

namespace PathProbe.Decoding;

/// <summary>UDP header (RFC 768). <see cref="Payload"/> is a slice of the input and valid as long as the input is.</summary>
internal ref struct UdpReader
{
    public const int HeaderLength = 8;
    private const int SrcPortOffset = 0;
    private const int DstPortOffset = 2;
    private const int LengthOffset = 4;

    public ushort SrcPort;
    public ushort DstPort;
    /// <summary>The UDP length field (header + data).</summary>
    public int Length;
    public ReadOnlySpan<byte> Payload;
    public int PayloadWireLength;

    /// <param name="datagram">The IP payload as captured.</param>
    /// <param name="wireLength">The IP payload length per the IP header.</param>
    /// <remarks>A UDP length below 8, or above the IP payload length, is <see cref="MalformedReason.BadUdpLength"/>.
    /// A UDP length below the IP payload length is legal: the rest is not UDP data (and carries UDP options
    /// under draft-ietf-tsvwg-udp-options), so it is excluded from the payload.</remarks>
    public MalformedReason Read(ReadOnlySpan<byte> datagram, int wireLength)
    {
        if (datagram.Length < HeaderLength) return MalformedReason.TruncatedUdpHeader;
        SrcPort = BinaryPrimitives.ReadUInt16BigEndian(datagram.Slice(SrcPortOffset));
        DstPort = BinaryPrimitives.ReadUInt16BigEndian(datagram.Slice(DstPortOffset));
        Length = BinaryPrimitives.ReadUInt16BigEndian(datagram.Slice(LengthOffset));
        if (Length < HeaderLength || Length > wireLength) return MalformedReason.BadUdpLength;

        Payload = datagram.Slice(HeaderLength, Math.Min(Length, datagram.Length) - HeaderLength);
        PayloadWireLength = Length - HeaderLength;
        return MalformedReason.None;
    }
}
