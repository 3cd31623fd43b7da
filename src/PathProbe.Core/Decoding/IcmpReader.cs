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
    public static MalformedReason ReadQuote(ReadOnlySpan<byte> quote, ref QuotedPacket q) => ReadQuote(quote, ref q, 0);

    /// <summary>Tunnels looked through inside one quote at most.</summary>
    private const int MaxQuotedTunnels = 4;

    /// <remarks>When the quoted packet is a tunnel packet (IP-in-IP, GRE, VXLAN, ...) and the quote is long enough to
    /// hold the inner IP header (Linux quotes up to 576 bytes, RFC 1812 4.3.2.3), <paramref name="q"/> describes the
    /// inner packet, the one a flow is about, with <see cref="QuotedPacket.TunnelOverhead"/> set; otherwise the outer.</remarks>
    private static MalformedReason ReadQuote(ReadOnlySpan<byte> quote, ref QuotedPacket q, int depth)
    {
        if (quote.IsEmpty) return MalformedReason.TruncatedIcmpQuote;
        ReadOnlySpan<byte> transport;
        bool firstFragment;
        int headerLength;
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
                headerLength = ip.HeaderLength;
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
                headerLength = ip.HeaderLength;
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

        if (depth < MaxQuotedTunnels && firstFragment)
        {
            int inner = QuotedTunnel.InnerIpOffset(q.Protocol, transport);
            if (inner >= 0)
            {
                var innerPacket = new QuotedPacket();
                if (ReadQuote(transport.Slice(inner), ref innerPacket, depth + 1) == MalformedReason.None)
                {
                    int outerLength = q.IpPacketLength;
                    int overhead = headerLength + inner + innerPacket.TunnelOverhead;
                    q = innerPacket;
                    q.TunnelOverhead = (ushort)overhead;
                    q.OuterIpPacketLength = (ushort)outerLength;
                }
            }
        }
        return MalformedReason.None;
    }

    private static bool HasPorts(byte protocol) => protocol is IpProtocols.Tcp or IpProtocols.Udp or 33 /* DCCP */ or 132 /* SCTP */ or 136 /* UDP-Lite */;
}

/// <summary>Where the inner IP header starts in the quoted payload of a tunnel packet (what an ICMP error quotes
/// after the outer IP header), for the tunnels the decoder knows; -1 when it is not a tunnel or the quote ends first.</summary>
internal static class QuotedTunnel
{
    private const int EthernetHeaderLength = 14;
    private const int EthernetTypeOffset = 12;
    private const int VlanTagLength = 4;
    private const int UdpHeaderLength = 8;
    private const int UdpDstPortOffset = 2;

    public static int InnerIpOffset(byte protocol, ReadOnlySpan<byte> t)
    {
        switch (protocol)
        {
            case IpProtocols.IpInIp:
            case IpProtocols.Ipv6InIp:
                return t.IsEmpty ? -1 : 0;
            case IpProtocols.Gre:
                return Gre(t, 0);
            case IpProtocols.MplsInIp:
                return Mpls(t, 0);
            case IpProtocols.Udp:
            {
                if (t.Length < UdpHeaderLength) return -1;
                ushort port = BinaryPrimitives.ReadUInt16BigEndian(t.Slice(UdpDstPortOffset));
                switch (port)
                {
                    case TunnelPorts.Vxlan:
                        return Ethernet(t, UdpHeaderLength + VxlanReader.HeaderLength);
                    case TunnelPorts.VxlanLinux:
                        return VxlanReader.IsStrictlyValid(t.Slice(UdpHeaderLength)) ? Ethernet(t, UdpHeaderLength + VxlanReader.HeaderLength) : -1;
                    case TunnelPorts.Geneve:
                    {
                        var g = new GeneveReader();
                        if (g.Read(t.Slice(UdpHeaderLength), t.Length - UdpHeaderLength) != MalformedReason.None) return -1;
                        int at = UdpHeaderLength + g.HeaderLength;
                        return g.ProtocolType switch
                        {
                            EtherTypes.TransparentEthernetBridging => Ethernet(t, at),
                            EtherTypes.Ipv4 or EtherTypes.Ipv6 => at,
                            _ => -1,
                        };
                    }
                    case TunnelPorts.MplsInUdp:
                        return Mpls(t, UdpHeaderLength);
                    case TunnelPorts.GreInUdp:
                        return Gre(t, UdpHeaderLength);
                    default:
                        return -1;
                }
            }
            default:
                return -1;
        }
    }

    private static int Gre(ReadOnlySpan<byte> t, int at)
    {
        if (at > t.Length) return -1;
        var gre = new GreReader();
        if (gre.Read(t.Slice(at), t.Length - at) != MalformedReason.None || gre.HasRouting) return -1;
        at += gre.HeaderLength;
        if (gre.Version == GreReader.VersionEnhanced)
        {
            var ppp = new PppReader();
            if (ppp.Read(t.Slice(at), t.Length - at, allowHdlcFraming: true) != MalformedReason.None) return -1;
            return ppp.Classify() == PppPayload.Network && ppp.EtherType is EtherTypes.Ipv4 or EtherTypes.Ipv6 ? at + ppp.HeaderLength : -1;
        }
        return gre.ProtocolType switch
        {
            EtherTypes.Ipv4 or EtherTypes.Ipv6 => at,
            EtherTypes.TransparentEthernetBridging => Ethernet(t, at),
            EtherTypes.Mpls or EtherTypes.MplsMulticast => Mpls(t, at),
            _ => -1,
        };
    }

    private static int Ethernet(ReadOnlySpan<byte> t, int at)
    {
        if (t.Length < at + EthernetHeaderLength) return -1;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(t.Slice(at + EthernetTypeOffset));
        at += EthernetHeaderLength;
        for (int tags = 0; EtherTypes.IsVlanTag(type); tags++)
        {
            if (tags == EthernetReader.MaxVlanTags || t.Length < at + VlanTagLength) return -1;
            type = BinaryPrimitives.ReadUInt16BigEndian(t.Slice(at + 2));
            at += VlanTagLength;
        }
        return type is EtherTypes.Ipv4 or EtherTypes.Ipv6 ? at : -1;
    }

    private static int Mpls(ReadOnlySpan<byte> t, int at)
    {
        if (at > t.Length) return -1;
        var mpls = new MplsReader();
        if (mpls.Read(t.Slice(at), t.Length - at, Encapsulation.MaxLayers, truncatedQuote: true) != MalformedReason.None || mpls.Labels > Encapsulation.MaxLayers) return -1;
        return mpls.Kind is MplsPayload.Ipv4 or MplsPayload.Ipv6 ? at + mpls.Labels * MplsReader.LabelLength : -1;
    }
}
