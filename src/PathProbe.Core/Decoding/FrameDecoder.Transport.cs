namespace PathProbe.Decoding;

public sealed partial class FrameDecoder
{
    /// <param name="data">The IP payload after all IP headers, as captured (or the reassembled datagram).</param>
    /// <param name="wireLength">Its length per the IP header.</param>
    private DecodeStatus DecodeTransport(ReadOnlySpan<byte> data, int wireLength, ref DecodedPacket packet)
    {
        // TCP first, before a switch whose cases (now including the tunnel protocols) are too sparse for a jump table.
        if (packet.Protocol == IpProtocols.Tcp) return DecodeTcp(data, wireLength, ref packet);
        switch (packet.Protocol)
        {
            case IpProtocols.Udp:
                return DecodeUdp(data, wireLength, ref packet);
            case IpProtocols.Icmp when packet.IpVersion == 4:
            case IpProtocols.IcmpV6 when packet.IpVersion == 6:
                return DecodeIcmp(data, wireLength, ref packet);
            case IpProtocols.IpInIp:
            case IpProtocols.Ipv6InIp:
            case IpProtocols.Gre:
            case IpProtocols.Esp:
            case IpProtocols.L2tpV3:
            case IpProtocols.MplsInIp:
                return DecodeIpTunnel(data, wireLength, ref packet);
            default:
                // ESP, GRE, SCTP, ...: the payload is whatever follows the IP headers.
                packet.Payload = data;
                packet.PayloadWireLength = wireLength;
                return DecodeStatus.Ok;
        }
    }

    private DecodeStatus DecodeTcp(ReadOnlySpan<byte> data, int wireLength, ref DecodedPacket packet)
    {
        var tcp = new TcpReader();
        MalformedReason r = tcp.Read(data, wireLength);
        if (r != MalformedReason.None) return Malformed(r);
        packet.SrcPort = tcp.SrcPort;
        packet.DstPort = tcp.DstPort;
        packet.Seq = tcp.Seq;
        packet.Ack = tcp.Ack;
        packet.TcpFlags = tcp.Flags;
        packet.Window = tcp.Window;
        packet.TcpHeaderLength = tcp.HeaderLength;
        packet.TcpOptions = tcp.Options;
        if (!tcp.OptionsValid) _counters.CountMalformed(MalformedReason.BadTcpOption);
        packet.Payload = tcp.Payload;
        packet.PayloadWireLength = tcp.PayloadWireLength;
        return DecodeStatus.Ok;
    }

    private DecodeStatus DecodeUdp(ReadOnlySpan<byte> data, int wireLength, ref DecodedPacket packet)
    {
        var udp = new UdpReader();
        MalformedReason r = udp.Read(data, wireLength);
        if (r != MalformedReason.None) return Malformed(r);
        packet.SrcPort = udp.SrcPort;
        packet.DstPort = udp.DstPort;
        packet.UdpLength = udp.Length;
        packet.Payload = udp.Payload;
        packet.PayloadWireLength = udp.PayloadWireLength;
        // One range check keeps DNS, NTP, QUIC, ... off the tunnel path (the tunnel ports lie within 4754..8472).
        if ((uint)(udp.DstPort - TunnelPorts.GreInUdp) <= TunnelPorts.VxlanLinux - TunnelPorts.GreInUdp)
            return DecodeUdpTunnel(ref udp, ref packet);
        return DecodeStatus.Ok;
    }

    private DecodeStatus DecodeIcmp(ReadOnlySpan<byte> data, int wireLength, ref DecodedPacket packet)
    {
        var icmp = new IcmpReader();
        MalformedReason r = icmp.Read(data, packet.IpVersion == 6);
        if (r != MalformedReason.None) return Malformed(r);
        packet.IcmpType = icmp.Type;
        packet.IcmpCode = icmp.Code;
        packet.IcmpMtu = icmp.Mtu;
        packet.Payload = icmp.Body;
        packet.PayloadWireLength = wireLength - IcmpReader.HeaderLength;
        if (icmp.IsError)
        {
            r = IcmpReader.ReadQuote(icmp.Body, ref packet.Quoted);
            if (r != MalformedReason.None)
            {
                // The error itself is fine; only the flow it refers to is unknown.
                packet.Quoted = default;
                _counters.CountMalformed(r);
            }
            else if (packet.Quoted.TunnelOverhead > 0 && packet.IcmpMtu > packet.Quoted.TunnelOverhead)
            {
                // The hop's MTU limits the tunnel packet; the packet inside has that much less room.
                packet.IcmpMtu -= packet.Quoted.TunnelOverhead;
                packet.IcmpMtuAdjustment = packet.Quoted.TunnelOverhead;
            }
        }
        return DecodeStatus.Ok;
    }
}
