using System.Buffers.Binary;

namespace PathProbe.Decoding;

/// <summary>
/// ICMPv4 (RFC 792, RFC 1191) and ICMPv6 (RFC 4443) header, plus the offending packet quoted in error messages.
/// <see cref="Body"/> is a slice of the input and valid as long as the input is.
/// </summary>
internal ref struct IcmpReader
{
    public const int HeaderLength = 8;
    private const int TypeOffset = 0;
    private const int CodeOffset = 1;
    private const int NextHopMtuOffset = 6; // RFC 1191 4: low 16 bits of the "unused" word
    private const int V6MtuOffset = 4;      // RFC 4443 3.2

    // ICMPv4 error types (RFC 792, RFC 1812 4.3.2.2).
    private const byte V4DestinationUnreachable = 3;
    private const byte V4SourceQuench = 4;
    private const byte V4Redirect = 5;
    private const byte V4TimeExceeded = 11;
    private const byte V4ParameterProblem = 12;
    private const byte V4FragmentationNeeded = 4; // code of type 3
    // ICMPv6 error types (RFC 4443 2.1: types 0-127 are errors; 1-4 are defined).
    private const byte V6DestinationUnreachable = 1;
    private const byte V6PacketTooBig = 2;
    private const byte V6TimeExceeded = 3;
    private const byte V6ParameterProblem = 4;

    public byte Type;
    public byte Code;
    /// <summary>Next-hop MTU of v4 fragmentation-needed (0 from pre-RFC 1191 routers) or the v6 Packet Too Big MTU; -1 otherwise.
    /// The v6 MTU is 32 bits; values beyond int range are clamped.</summary>
    public int Mtu;
    /// <summary>An error message whose body quotes the offending packet.</summary>
    public bool IsError;
    /// <summary>Everything after the 8-byte header (the quote for errors, echo data for echo).</summary>
    public ReadOnlySpan<byte> Body;

    public MalformedReason Read(ReadOnlySpan<byte> message, bool v6)
    {
        Mtu = -1;
        if (message.Length < HeaderLength) return MalformedReason.TruncatedIcmpHeader;
        Type = message[TypeOffset];
        Code = message[CodeOffset];
        if (v6)
        {
            IsError = Type is V6DestinationUnreachable or V6PacketTooBig or V6TimeExceeded or V6ParameterProblem;
            if (Type == V6PacketTooBig)
                Mtu = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(message.Slice(V6MtuOffset)), int.MaxValue);
        }
        else
        {
            IsError = Type is V4DestinationUnreachable or V4SourceQuench or V4Redirect or V4TimeExceeded or V4ParameterProblem;
            if (Type == V4DestinationUnreachable && Code == V4FragmentationNeeded)
                Mtu = BinaryPrimitives.ReadUInt16BigEndian(message.Slice(NextHopMtuOffset));
        }
        Body = message.Slice(HeaderLength);
        return MalformedReason.None;
    }

    /// <summary>
    /// Decodes the IP header and first transport bytes quoted in an ICMP error (RFC 792: IP header + 8 bytes;
    /// RFC 4443 2.4(c), RFC 1812 4.3.2.3: as much as fits). The version is taken from the quote itself, so
    /// SIIT/NAT64-translated errors (RFC 7915) decode too. Returns <see cref="MalformedReason.TruncatedIcmpQuote"/>
    /// when the quote is too short for the IP header (including IPv6 extension headers), or
    /// <see cref="MalformedReason.BadIcmpQuote"/> when it is not an IP header; <paramref name="q"/> is then not Present.
    /// Checksums and lengths are not checked: routers may have altered the quoted packet (RFC 1812 4.3.2.3).
    /// </summary>
    public static MalformedReason ReadQuote(ReadOnlySpan<byte> quote, ref QuotedPacket q)
    {
        if (quote.IsEmpty) return MalformedReason.TruncatedIcmpQuote;
        ReadOnlySpan<byte> transport;
        bool firstFragment;
        switch (quote[0] >> 4)
        {
            case 4:
            {
                var ip = new Ipv4Reader();
                MalformedReason r = ip.ReadHeader(quote);
                if (r != MalformedReason.None) return r == MalformedReason.TruncatedIpv4Header ? MalformedReason.TruncatedIcmpQuote : MalformedReason.BadIcmpQuote;
                q.IpVersion = 4;
                q.Src = ip.Src;
                q.Dst = ip.Dst;
                q.Protocol = ip.Protocol;
                q.IpPacketLength = ip.TotalLength;
                q.DontFragment = ip.DontFragment;
                q.IpId = ip.Identification;
                firstFragment = ip.FragmentOffset == 0;
                // RFC 4884 extensions may follow a short original datagram: stop at its total length.
                int end = ip.TotalLength >= ip.HeaderLength ? Math.Min(ip.TotalLength, quote.Length) : quote.Length;
                transport = quote.Slice(ip.HeaderLength, end - ip.HeaderLength);
                break;
            }
            case 6:
            {
                var ip = new Ipv6Reader();
                MalformedReason r = ip.ReadHeader(quote);
                if (r != MalformedReason.None) return r == MalformedReason.TooManyIpv6ExtensionHeaders ? MalformedReason.BadIcmpQuote : MalformedReason.TruncatedIcmpQuote;
                q.IpVersion = 6;
                q.Src = ip.Src;
                q.Dst = ip.Dst;
                q.Protocol = ip.NextHeader;
                q.IpPacketLength = ip.PacketLength;
                q.DontFragment = false; // IPv6 routers never fragment (RFC 8200 5)
                q.IpId = ip.FragmentId;
                firstFragment = ip.FragmentOffset == 0;
                transport = quote.Slice(ip.HeaderLength);
                break;
            }
            default:
                return MalformedReason.BadIcmpQuote;
        }
        q.Present = true;

        // Ports sit at the same place in TCP, UDP, UDP-Lite, DCCP and SCTP; only the first fragment carries them.
        if (firstFragment && HasPorts(q.Protocol) && transport.Length >= 4)
        {
            q.HasPorts = true;
            q.SrcPort = BinaryPrimitives.ReadUInt16BigEndian(transport);
            q.DstPort = BinaryPrimitives.ReadUInt16BigEndian(transport.Slice(2));
            if (q.Protocol == IpProtocols.Tcp && transport.Length >= 8)
            {
                q.HasTcpSeq = true;
                q.TcpSeq = BinaryPrimitives.ReadUInt32BigEndian(transport.Slice(4));
            }
        }
        return MalformedReason.None;
    }

    private static bool HasPorts(byte protocol) => protocol is IpProtocols.Tcp or IpProtocols.Udp or 33 /* DCCP */ or 132 /* SCTP */ or 136 /* UDP-Lite */;
}
