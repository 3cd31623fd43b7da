using System.Buffers.Binary;

namespace PathProbe.Decoding;

/// <summary>UDP destination ports of the tunnels PathProbe decodes. The destination port identifies the tunnel; the
/// source port is entropy for ECMP (RFC 7348 5, RFC 8926 3.3, RFC 7510 3, RFC 8086 3.1), so it is never looked at.</summary>
internal static class TunnelPorts
{
    /// <summary>VXLAN, IANA (RFC 7348).</summary>
    public const ushort Vxlan = 4789;
    /// <summary>The Linux kernel's VXLAN default when no dstport is given (flannel uses it too); accepted only with a
    /// strictly valid VXLAN header and inner Ethernet header, since the port is not VXLAN's by assignment.</summary>
    public const ushort VxlanLinux = 8472;
    public const ushort Geneve = 6081;
    /// <summary>MPLS-in-UDP (RFC 7510).</summary>
    public const ushort MplsInUdp = 6635;
    /// <summary>GRE-in-UDP (RFC 8086).</summary>
    public const ushort GreInUdp = 4754;

    /// <summary>A destination port the decoder takes for a tunnel (8472 only with a valid VXLAN header, which this does
    /// not look at).</summary>
    public static bool IsTunnel(ushort port) => port is Vxlan or VxlanLinux or Geneve or MplsInUdp or GreInUdp;
}

/// <summary>VXLAN header (RFC 7348 5): flags(1) reserved(3) VNI(3) reserved(1), then an Ethernet frame.</summary>
internal ref struct VxlanReader
{
    public const int HeaderLength = 8;
    private const int FlagsOffset = 0;
    private const int VniOffset = 4;
    private const byte FlagVniValid = 0x08;

    public bool VniValid;
    public uint Vni;
    public ReadOnlySpan<byte> Payload;
    public int PayloadWireLength;

    public MalformedReason Read(ReadOnlySpan<byte> data, int wireLength)
    {
        if (data.Length < HeaderLength) return MalformedReason.TruncatedVxlanHeader;
        VniValid = (data[FlagsOffset] & FlagVniValid) != 0;
        Vni = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(VniOffset)) >> 8;
        Payload = data.Slice(HeaderLength);
        PayloadWireLength = Math.Max(0, wireLength - HeaderLength);
        return MalformedReason.None;
    }

    /// <summary>For the non-IANA port: exactly the I flag, reserved fields zero, and an Ethernet header whose EtherType
    /// the decoder knows follows. Unlike 4789, a failure here means "not VXLAN": the datagram stays a UDP flow.</summary>
    public static bool IsStrictlyValid(ReadOnlySpan<byte> data)
    {
        const int innerEtherTypeOffset = HeaderLength + 12;
        if (data.Length < innerEtherTypeOffset + 2) return false;
        if (data[0] != FlagVniValid || data[1] != 0 || data[2] != 0 || data[3] != 0 || data[7] != 0) return false;
        return EtherTypes.IsPlausiblePayload(BinaryPrimitives.ReadUInt16BigEndian(data.Slice(innerEtherTypeOffset)));
    }
}

/// <summary>Geneve header (RFC 8926 3.4): ver(2) opt len(6) | O C rsvd(6) | protocol type(16) | VNI(24) rsvd(8) | options.</summary>
internal ref struct GeneveReader
{
    public const int FixedHeaderLength = 8;
    private const int VersionOptionsOffset = 0;
    private const int ProtocolTypeOffset = 2;
    private const int VniOffset = 4;
    private const int OptionLengthMask = 0x3F;
    private const int OptionUnit = 4;

    public int Version;
    public ushort ProtocolType;
    public uint Vni;
    public int HeaderLength;
    public ReadOnlySpan<byte> Payload;
    public int PayloadWireLength;

    public MalformedReason Read(ReadOnlySpan<byte> data, int wireLength)
    {
        if (data.Length < FixedHeaderLength) return MalformedReason.TruncatedGeneveHeader;
        Version = data[VersionOptionsOffset] >> 6;
        HeaderLength = FixedHeaderLength + (data[VersionOptionsOffset] & OptionLengthMask) * OptionUnit;
        if (data.Length < HeaderLength) return MalformedReason.TruncatedGeneveHeader;
        ProtocolType = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(ProtocolTypeOffset));
        Vni = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(VniOffset)) >> 8;
        Payload = data.Slice(HeaderLength);
        PayloadWireLength = Math.Max(0, wireLength - HeaderLength);
        return MalformedReason.None;
    }
}
