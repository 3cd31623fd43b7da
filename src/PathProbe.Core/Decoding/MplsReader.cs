using System.Buffers.Binary;

namespace PathProbe.Decoding;

/// <summary>What follows an MPLS label stack, as far as the packet itself says (RFC 3032 carries no payload type).</summary>
internal enum MplsPayload : byte
{
    Ipv4,
    Ipv6,
    /// <summary>An Ethernet pseudowire (RFC 4448); <see cref="MplsReader.ControlWord"/> says whether a control word came first.</summary>
    Ethernet,
    /// <summary>Associated channel (first nibble 1, or the GAL label 13): OAM, not user traffic.</summary>
    ControlChannel,
    Unknown,
}

/// <summary>
/// An MPLS label stack (RFC 3032 2.1) and a guess at its payload. <see cref="Payload"/> is a slice of the input and valid
/// as long as the input is.
/// </summary>
/// <remarks>
/// The guess follows RFC 4928 and RFC 4385 and what Wireshark does: the IPv4/IPv6 explicit-null labels (0, 2) say IP;
/// otherwise the first nibble after the stack says 4 (IPv4) or 6 (IPv6) when the IP length field matches the bytes
/// that are there (an Ethernet pseudowire without control word can start with a MAC address whose first nibble is 4
/// or 6), 0 a pseudowire control word, 1 an associated channel. An Ethernet pseudowire is accepted, with or without a
/// control word, when the would-be EtherType is one an Ethernet frame plausibly carries.
/// </remarks>
internal ref struct MplsReader
{
    public const int LabelLength = 4;
    private const uint BottomOfStackBit = 0x100;
    private const int LabelShift = 12;
    private const uint Ipv4ExplicitNull = 0;
    private const uint Ipv6ExplicitNull = 2;
    private const uint GenericAssociatedChannelLabel = 13; // GAL, RFC 5586
    public const int ControlWordLength = 4;
    private const int Ipv4TotalLengthOffset = 2;
    private const int Ipv4MinHeader = 20;
    private const int Ipv6PayloadLengthOffset = 4;
    private const int Ipv6FixedHeader = 40;
    private const int EthernetTypeOffset = 12;
    private const int EthernetHeaderLength = 14;
    /// <summary>Ethernet pads frames to 60 bytes: a short IP packet after the stack may be followed by padding.</summary>
    private const int MinEthernetPayload = 46;
    /// <summary>Slack for a frame check sequence kept at the end (Wireshark allows the same 4 bytes).</summary>
    private const int FcsLength = 4;

    /// <summary>Label stack entries read (each is an encapsulation layer of 4 bytes).</summary>
    public int Labels;
    public uint BottomLabel;
    public MplsPayload Kind;
    public bool ControlWord;
    /// <summary>After the label stack (and the control word, when there is one).</summary>
    public ReadOnlySpan<byte> Payload;

    /// <param name="data">The label stack onward, as captured.</param>
    /// <param name="wireLength">Its length on the wire.</param>
    /// <param name="maxLabels">Entries accepted before giving up (the caller's remaining layer budget).</param>
    /// <param name="truncatedQuote">The bytes are a quote in an ICMP error, cut short: IP is taken from the first nibble
    /// alone, since its length field cannot match what is there.</param>
    /// <returns><see cref="MalformedReason.TruncatedMplsLabel"/> when the stack ends before the bottom-of-stack bit;
    /// <see cref="MalformedReason.None"/> otherwise (also when <paramref name="maxLabels"/> was reached: then
    /// <see cref="Labels"/> &gt; <paramref name="maxLabels"/> and nothing else is set).</returns>
    public MalformedReason Read(ReadOnlySpan<byte> data, int wireLength, int maxLabels, bool truncatedQuote = false)
    {
        int offset = 0;
        while (true)
        {
            if (data.Length - offset < LabelLength) return MalformedReason.TruncatedMplsLabel;
            uint entry = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(offset));
            offset += LabelLength;
            Labels++;
            if (Labels > maxLabels) return MalformedReason.None;
            if ((entry & BottomOfStackBit) != 0)
            {
                BottomLabel = entry >> LabelShift;
                break;
            }
        }
        ReadOnlySpan<byte> rest = data.Slice(offset);
        int restWire = wireLength - offset;
        Payload = rest;
        Kind = truncatedQuote ? GuessFromNibble(rest) : Guess(rest, restWire);
        if (ControlWord) Payload = rest.Slice(ControlWordLength);
        return MalformedReason.None;
    }

    private MplsPayload Guess(ReadOnlySpan<byte> rest, int restWire)
    {
        if (BottomLabel == Ipv4ExplicitNull) return MplsPayload.Ipv4;
        if (BottomLabel == Ipv6ExplicitNull) return MplsPayload.Ipv6;
        if (BottomLabel == GenericAssociatedChannelLabel) return MplsPayload.ControlChannel;
        if (rest.IsEmpty) return MplsPayload.Unknown;
        switch (rest[0] >> 4)
        {
            case 4:
                if (rest.Length >= Ipv4MinHeader && IsIpv4(rest, restWire)) return MplsPayload.Ipv4;
                break;
            case 6:
                if (rest.Length >= Ipv6PayloadLengthOffset + 2)
                {
                    int length = Ipv6FixedHeader + BinaryPrimitives.ReadUInt16BigEndian(rest.Slice(Ipv6PayloadLengthOffset));
                    if (length <= restWire && (LengthFits(length, restWire) || !LooksLikeEthernet(rest))) return MplsPayload.Ipv6;
                }
                break;
            case 0:
                // RFC 4385: a control word starts with 0000. An Ethernet frame without one can too (a MAC starting 0x0).
                if (LooksLikeEthernet(rest.Slice(Math.Min(ControlWordLength, rest.Length)))) { ControlWord = true; return MplsPayload.Ethernet; }
                break;
            case 1:
                return MplsPayload.ControlChannel;
        }
        return LooksLikeEthernet(rest) ? MplsPayload.Ethernet : MplsPayload.Unknown;
    }

    private readonly MplsPayload GuessFromNibble(ReadOnlySpan<byte> rest)
    {
        if (BottomLabel == Ipv4ExplicitNull) return MplsPayload.Ipv4;
        if (BottomLabel == Ipv6ExplicitNull) return MplsPayload.Ipv6;
        if (rest.IsEmpty) return MplsPayload.Unknown;
        return (rest[0] >> 4) switch { 4 => MplsPayload.Ipv4, 6 => MplsPayload.Ipv6, _ => MplsPayload.Unknown };
    }

    /// <summary>IPv4 when the total length fits in what follows and either matches it, or the header checksum is right,
    /// or the bytes do not read as an Ethernet header either (a trailer after the packet is then the likelier story).</summary>
    private static bool IsIpv4(ReadOnlySpan<byte> rest, int restWire)
    {
        int length = BinaryPrimitives.ReadUInt16BigEndian(rest.Slice(Ipv4TotalLengthOffset));
        int headerLength = (rest[0] & 0x0F) * 4;
        if (length > restWire || headerLength < Ipv4MinHeader || headerLength > length) return false;
        if (LengthFits(length, restWire) || !LooksLikeEthernet(rest)) return true;
        return rest.Length >= headerLength && Checksum.OnesComplementSum(rest.Slice(0, headerLength)) == 0xFFFF;
    }

    /// <summary>The IP length equals the bytes after the stack, give or take a frame check sequence, or the packet is
    /// short enough that Ethernet padding may follow it.</summary>
    private static bool LengthFits(int ipLength, int restWire) =>
        ipLength <= restWire && (restWire - ipLength <= FcsLength || restWire <= MinEthernetPayload);

    private static bool LooksLikeEthernet(ReadOnlySpan<byte> frame) =>
        frame.Length >= EthernetHeaderLength && EtherTypes.IsPlausiblePayload(BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(EthernetTypeOffset)));
}
