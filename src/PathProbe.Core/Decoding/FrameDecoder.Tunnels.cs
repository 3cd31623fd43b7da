using System.Runtime.CompilerServices;

namespace PathProbe.Decoding;

/// <summary>
/// Decapsulation: MPLS, PPPoE, Cisco metadata and tags after the link header; IP-in-IP, GRE (with Ethernet, PPP, MPLS
/// and ERSPAN payloads), VXLAN, Geneve, MPLS-in-UDP and GRE-in-UDP after an IP header. Each header is recorded in
/// <see cref="DecodedPacket.Encap"/>, whose <see cref="Encapsulation.MaxLayers"/> bounds the nesting (and with it the
/// recursion: every tunnel level adds at least one layer).
/// </summary>
/// <remarks>
/// Once a packet is recognised as a tunnel packet it is accounted to the flow inside, never to a flow of the tunnel
/// itself: a frame whose inner packet cannot be decoded returns <see cref="DecodeStatus.NotIp"/> (ARP in VXLAN, PPP
/// LCP), <see cref="DecodeStatus.Undecoded"/> (counted by <see cref="UndecodedReason"/>) or
/// <see cref="DecodeStatus.Malformed"/>.
/// </remarks>
public sealed partial class FrameDecoder
{
    private const int EthernetHeaderLength = EthernetReader.HeaderLength;
    private const int VlanTagLength = 4;
    private const int UdpHeaderLength = UdpReader.HeaderLength;
    private const int WccpRedirectHeaderLength = 4;

    /// <summary>The frame's encapsulation, written here and read through <see cref="DecodedPacket.Encap"/>: this decoder's
    /// one instance, reset by the first layer of each frame that has any.</summary>
    private Encapsulation _encap;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref Encapsulation Layers(ref DecodedPacket p)
    {
        if (Unsafe.IsNullRef(ref p.EncapRef))
        {
            _encap = default;
            p.EncapRef = ref _encap;
        }
        return ref p.EncapRef;
    }

    /// <summary>Records VLAN tags as layers (S-tags as <see cref="EncapsulationLayer.ServiceVlan"/>).</summary>
    private static bool PushTags(ref Encapsulation e, int tags, byte serviceTags, bool countsTowardMtu)
    {
        for (int i = 0; i < tags; i++)
        {
            var layer = (serviceTags & (1 << i)) != 0 ? EncapsulationLayer.ServiceVlan : EncapsulationLayer.Vlan;
            if (!e.Push(layer, VlanTagLength, countsTowardMtu)) return false;
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountEncapsulation(DecodeStatus status, in Encapsulation e)
    {
        if (status != DecodeStatus.Ok) return;
        _counters.CountLayers(in e);
        if (e.IsTunnelled) _counters.Decapsulated++;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private DecodeStatus Undecoded(UndecodedReason reason, int detail = 0)
    {
        _counters.CountUndecoded(reason, detail);
        return DecodeStatus.Undecoded;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private DecodeStatus NotIp(bool pppControl = false)
    {
        if (pppControl) _counters.PppControl++;
        _counters.NotIp++;
        return DecodeStatus.NotIp;
    }

    private DecodeStatus TooManyLayers() => Undecoded(UndecodedReason.TooManyLayers);

    /// <summary>
    /// What follows an EtherType (or a protocol field mapped to one): the IP decoders, or one more encapsulation header
    /// and around again.
    /// </summary>
    /// <param name="onCaptureLink">Still within the capture link's own headers: tags and Cisco metadata here do not
    /// reduce the IP MTU (see <see cref="Encapsulation"/>).</param>
    /// <param name="inGre">The type is a GRE protocol type (Cisco metadata is laid out differently there).</param>
    private DecodeStatus DecodeEtherPayload(ushort type, ReadOnlySpan<byte> data, int wireLength, bool onCaptureLink, ref DecodedPacket p,
        bool inGre = false)
    {
        while (true)
        {
            switch (type)
            {
                case EtherTypes.Ipv4:
                    return DecodeIpv4(data, wireLength, p.Time, ref p);
                case EtherTypes.Ipv6:
                    return DecodeIpv6(data, wireLength, p.Time, ref p);
                case EtherTypes.Mpls:
                case EtherTypes.MplsMulticast:
                    return DecodeMpls(data, wireLength, ref p);
                case EtherTypes.PppoeSession:
                {
                    var ppp = new PppReader();
                    MalformedReason r = ppp.ReadPppoeSession(data, wireLength);
                    if (r != MalformedReason.None) return Malformed(r);
                    if (!Layers(ref p).Push(EncapsulationLayer.Pppoe, ppp.HeaderLength, countsTowardMtu: true)) return TooManyLayers();
                    return DecodePppPayload(ref ppp, ref p);
                }
                case EtherTypes.PppoeDiscovery:
                    _counters.PppoeDiscovery++;
                    return NotIp();
                case EtherTypes.CiscoMetadata:
                {
                    var cmd = new CiscoMetadataReader();
                    MalformedReason r = cmd.Read(data, inGre);
                    inGre = false;
                    if (r != MalformedReason.None) return Malformed(r);
                    if (!Layers(ref p).Push(EncapsulationLayer.CiscoMetadata, CiscoMetadataReader.HeaderLength, !onCaptureLink)) return TooManyLayers();
                    type = cmd.EtherType;
                    data = cmd.Payload;
                    wireLength -= CiscoMetadataReader.HeaderLength;
                    continue;
                }
                case EtherTypes.Vlan:
                case EtherTypes.QinQ:
                case EtherTypes.QinQLegacy:
                {
                    byte tags = 0, service = 0;
                    ushort vlanId = 0;
                    MalformedReason r = EthernetReader.StripVlanTags(ref type, ref data, ref tags, ref vlanId, ref service);
                    if (r != MalformedReason.None) return Malformed(r);
                    if (!PushTags(ref Layers(ref p), tags, service, !onCaptureLink)) return TooManyLayers();
                    wireLength -= tags * VlanTagLength;
                    continue;
                }
                case EtherTypes.MacSec:
                    return Undecoded(UndecodedReason.MacSec);
                default:
                    return NotIp();
            }
        }
    }

    /// <summary>An Ethernet frame inside a tunnel (VXLAN, Geneve, GRE 0x6558, an Ethernet pseudowire, ERSPAN).</summary>
    /// <param name="countsTowardMtu">False for a frame ERSPAN mirrored: its Ethernet header was not tunnel overhead.</param>
    private DecodeStatus DecodeInnerEthernet(ReadOnlySpan<byte> data, int wireLength, bool countsTowardMtu, ref DecodedPacket p)
    {
        var eth = new EthernetReader();
        MalformedReason r = eth.Read(data);
        if (r != MalformedReason.None) return Malformed(r);
        if (!Layers(ref p).Push(EncapsulationLayer.Ethernet, EthernetHeaderLength, countsTowardMtu)) return TooManyLayers();
        if (!PushTags(ref Layers(ref p), eth.VlanTags, eth.ServiceTags, countsTowardMtu)) return TooManyLayers();
        int headers = EthernetHeaderLength + eth.VlanTags * VlanTagLength;
        return DecodeEtherPayload(eth.EtherType, eth.Payload, wireLength - headers, onCaptureLink: !countsTowardMtu, ref p);
    }

    /// <summary>An MPLS label stack (RFC 3032) and what its payload looks like (see <see cref="MplsReader"/>).</summary>
    private DecodeStatus DecodeMpls(ReadOnlySpan<byte> data, int wireLength, ref DecodedPacket p)
    {
        var mpls = new MplsReader();
        int budget = Encapsulation.MaxLayers - p.Encap.Depth;
        MalformedReason r = mpls.Read(data, wireLength, budget);
        if (r != MalformedReason.None) return Malformed(r);
        if (mpls.Labels > budget) return TooManyLayers();
        for (int i = 0; i < mpls.Labels; i++) Layers(ref p).Push(EncapsulationLayer.Mpls, MplsReader.LabelLength, countsTowardMtu: true);
        int consumed = mpls.Labels * MplsReader.LabelLength;
        switch (mpls.Kind)
        {
            case MplsPayload.Ipv4:
                return DecodeIpv4(mpls.Payload, wireLength - consumed, p.Time, ref p);
            case MplsPayload.Ipv6:
                return DecodeIpv6(mpls.Payload, wireLength - consumed, p.Time, ref p);
            case MplsPayload.Ethernet:
                if (mpls.ControlWord)
                {
                    if (!Layers(ref p).Push(EncapsulationLayer.PwControlWord, MplsReader.ControlWordLength, countsTowardMtu: true)) return TooManyLayers();
                    consumed += MplsReader.ControlWordLength;
                }
                return DecodeInnerEthernet(mpls.Payload, wireLength - consumed, countsTowardMtu: true, ref p);
            case MplsPayload.ControlChannel:
                return Undecoded(UndecodedReason.MplsControlChannel);
            default:
                return Undecoded(UndecodedReason.MplsPayload);
        }
    }

    /// <summary>PPP's protocol field (RFC 1661 2) after PPPoE or inside enhanced GRE.</summary>
    private DecodeStatus DecodePppPayload(ref PppReader ppp, ref DecodedPacket p)
    {
        switch (ppp.Classify())
        {
            case PppPayload.Network:
                return DecodeEtherPayload(ppp.EtherType, ppp.Payload, ppp.PayloadWireLength, onCaptureLink: false, ref p);
            case PppPayload.Control:
                return NotIp(pppControl: true);
            case PppPayload.Compressed:
                return Undecoded(UndecodedReason.PppCompressed, ppp.Protocol);
            default:
                return Undecoded(UndecodedReason.PppProtocol, ppp.Protocol);
        }
    }

    /// <summary>
    /// The IP packet just decoded is a tunnel packet: its addresses and size go into <see cref="DecodedPacket.Encap"/>
    /// (the outermost only), its header becomes a layer, and the fields the inner packet sets afresh are cleared so
    /// nothing of the outer packet leaks into it (fragment state, ports, payload). False when the layer budget is spent.
    /// </summary>
    private bool EnterTunnel(ref DecodedPacket p)
    {
        int onWire = p.Reassembled ? p.LargestFragment : p.IpPacketLength;
        Layers(ref p).SetOuter(p.IpVersion, in p.Src, in p.Dst, p.IpPacketLength, onWire, p.Reassembled ? p.FragmentCount : 0);
        if (!Layers(ref p).Push(p.IpVersion == 4 ? EncapsulationLayer.Ipv4 : EncapsulationLayer.Ipv6, p.IpHeaderLength, countsTowardMtu: true))
            return false;
        p.Reassembled = false;
        p.FragmentCount = 0;
        p.LargestFragment = 0;
        p.MoreFragments = false;
        p.FragmentOffset = 0;
        p.DontFragment = false;
        p.IpId = 0;
        p.SrcPort = 0;
        p.DstPort = 0;
        p.UdpLength = 0;
        p.Payload = default;
        p.PayloadWireLength = 0;
        return true;
    }

    /// <summary>IP protocols whose payload is decapsulated (<see cref="DecodeIpTunnel"/>; ESP and L2TPv3 are counted, not
    /// decoded).</summary>
    internal static bool IsDecodedIpTunnel(byte protocol) =>
        protocol is IpProtocols.IpInIp or IpProtocols.Ipv6InIp or IpProtocols.Gre or IpProtocols.MplsInIp;

    /// <summary>An IP protocol that carries another packet (the IP header is decoded and in <paramref name="p"/>).</summary>
    /// <param name="data">The IP payload as captured (or the reassembled datagram).</param>
    private DecodeStatus DecodeIpTunnel(ReadOnlySpan<byte> data, int wireLength, ref DecodedPacket p)
    {
        byte protocol = p.Protocol;
        switch (protocol)
        {
            case IpProtocols.Esp:
                return Undecoded(UndecodedReason.Esp);
            case IpProtocols.L2tpV3:
                return Undecoded(UndecodedReason.L2tpV3);
        }
        bool outermost = p.Encap.Depth == 0;
        if (!EnterTunnel(ref p)) return TooManyLayers();
        DecodeStatus status = protocol switch
        {
            IpProtocols.IpInIp => DecodeIpv4(data, wireLength, p.Time, ref p),
            IpProtocols.Ipv6InIp => DecodeIpv6(data, wireLength, p.Time, ref p),
            IpProtocols.MplsInIp => DecodeMpls(data, wireLength, ref p),
            _ => DecodeGre(data, wireLength, ref p),
        };
        return CountIfOutermost(outermost, status, ref p);
    }

    /// <summary>A tunnel reached from <see cref="Decode"/>'s fast path (an untagged IP frame) is counted where it was
    /// entered, once the whole frame is decoded; frames that went through the link slow path are counted there.</summary>
    private DecodeStatus CountIfOutermost(bool outermost, DecodeStatus status, ref DecodedPacket p)
    {
        if (outermost) CountEncapsulation(status, in p.Encap);
        return status;
    }

    /// <summary>GRE after an outer IP header (or GRE-in-UDP); <see cref="EnterTunnel"/> has been called.</summary>
    private DecodeStatus DecodeGre(ReadOnlySpan<byte> data, int wireLength, ref DecodedPacket p)
    {
        var gre = new GreReader();
        MalformedReason r = gre.Read(data, wireLength);
        if (r != MalformedReason.None) return Malformed(r);
        if (gre.HasRouting) return Undecoded(UndecodedReason.GreRouting);
        if (!Layers(ref p).Push(EncapsulationLayer.Gre, gre.HeaderLength, countsTowardMtu: true)) return TooManyLayers();
        if (gre.HasKey)
        {
            // Enhanced GRE's key field is payload length and call id: the call id names the session.
            Layers(ref p).TunnelId = gre.Version == GreReader.VersionEnhanced ? gre.Key & 0xFFFF : gre.Key;
            Layers(ref p).HasTunnelId = true;
        }

        if (gre.Version == GreReader.VersionEnhanced)
        {
            if (gre.ProtocolType != EtherTypes.Ppp) return Undecoded(UndecodedReason.GreProtocol, gre.ProtocolType);
            if (gre.PayloadWireLength == 0) return NotIp(); // an acknowledgment without data (RFC 2637 4.1)
            var ppp = new PppReader();
            r = ppp.Read(gre.Payload, gre.PayloadWireLength, allowHdlcFraming: true);
            if (r != MalformedReason.None) return Malformed(r);
            if (!Layers(ref p).Push(EncapsulationLayer.Ppp, ppp.HeaderLength, countsTowardMtu: true)) return TooManyLayers();
            return DecodePppPayload(ref ppp, ref p);
        }

        switch (gre.ProtocolType)
        {
            case EtherTypes.Ipv4:
            case EtherTypes.Ipv6:
            case EtherTypes.Mpls:
            case EtherTypes.MplsMulticast:
            case EtherTypes.CiscoMetadata:
                return DecodeEtherPayload(gre.ProtocolType, gre.Payload, gre.PayloadWireLength, onCaptureLink: false, ref p, inGre: true);
            case EtherTypes.Wccp:
            {
                // WCCPv2 puts a 4-byte redirect header in front of the packet; WCCPv1 (and some v2 setups) none.
                // Wireshark tells them apart by the first nibble, and so do we.
                int skip = gre.Payload.Length > 0 && gre.Payload[0] >> 4 == 4 ? 0 : WccpRedirectHeaderLength;
                if (gre.Payload.Length < skip) return Malformed(MalformedReason.TruncatedGreHeader);
                if (skip > 0 && !Layers(ref p).Push(EncapsulationLayer.Wccp, skip, countsTowardMtu: true)) return TooManyLayers();
                return DecodeIpv4(gre.Payload.Slice(skip), gre.PayloadWireLength - skip, p.Time, ref p);
            }
            case EtherTypes.TransparentEthernetBridging:
                return DecodeInnerEthernet(gre.Payload, gre.PayloadWireLength, countsTowardMtu: true, ref p);
            case EtherTypes.ErspanTypeII:
            case EtherTypes.ErspanTypeIII:
                return DecodeErspan(ref gre, ref p);
            case 0 when gre.PayloadWireLength == 0:
                return NotIp(); // the returning half of a Cisco GRE keepalive: nothing inside
            default:
                return Undecoded(UndecodedReason.GreProtocol, gre.ProtocolType);
        }
    }

    /// <summary>ERSPAN: a mirrored frame, whose own headers are not tunnel overhead of its path.</summary>
    private DecodeStatus DecodeErspan(ref GreReader gre, ref DecodedPacket p)
    {
        var erspan = new ErspanReader();
        MalformedReason r = erspan.Read(gre.Payload, gre.ProtocolType, gre.HasSequence);
        if (r != MalformedReason.None) return Malformed(r);
        if (!erspan.Known) return Undecoded(UndecodedReason.Erspan, erspan.Version);
        if (!Layers(ref p).Push(EncapsulationLayer.Erspan, erspan.HeaderLength, countsTowardMtu: true)) return TooManyLayers();
        Layers(ref p).RestartMtuCount();
        return DecodeInnerEthernet(erspan.Payload, gre.PayloadWireLength - erspan.HeaderLength, countsTowardMtu: false, ref p);
    }

    /// <summary>A UDP datagram to a tunnel port (<see cref="TunnelPorts"/>); the UDP fields are in <paramref name="p"/>.
    /// A datagram that turns out not to be a tunnel (8472 without a valid VXLAN header, other ports in the range)
    /// stays a plain UDP packet.</summary>
    private DecodeStatus DecodeUdpTunnel(ref UdpReader udp, ref DecodedPacket p)
    {
        bool outermost = p.Encap.Depth == 0;
        return CountIfOutermost(outermost, DecodeUdpTunnelCore(ref udp, ref p), ref p);
    }

    private DecodeStatus DecodeUdpTunnelCore(ref UdpReader udp, ref DecodedPacket p)
    {
        ushort port = udp.DstPort;
        switch (port)
        {
            case TunnelPorts.Vxlan:
            case TunnelPorts.VxlanLinux:
            {
                if (port == TunnelPorts.VxlanLinux && !VxlanReader.IsStrictlyValid(udp.Payload)) return DecodeStatus.Ok;
                var vxlan = new VxlanReader();
                MalformedReason r = vxlan.Read(udp.Payload, udp.PayloadWireLength);
                if (r != MalformedReason.None) return Malformed(r);
                if (!EnterTunnel(ref p)) return TooManyLayers();
                if (!Layers(ref p).Push(EncapsulationLayer.Vxlan, UdpHeaderLength + VxlanReader.HeaderLength, countsTowardMtu: true)) return TooManyLayers();
                if (vxlan.VniValid)
                {
                    Layers(ref p).TunnelId = vxlan.Vni;
                    Layers(ref p).HasTunnelId = true;
                }
                return DecodeInnerEthernet(vxlan.Payload, vxlan.PayloadWireLength, countsTowardMtu: true, ref p);
            }
            case TunnelPorts.Geneve:
            {
                var geneve = new GeneveReader();
                MalformedReason r = geneve.Read(udp.Payload, udp.PayloadWireLength);
                if (r != MalformedReason.None) return Malformed(r);
                if (!EnterTunnel(ref p)) return TooManyLayers();
                if (!Layers(ref p).Push(EncapsulationLayer.Geneve, UdpHeaderLength + geneve.HeaderLength, countsTowardMtu: true)) return TooManyLayers();
                Layers(ref p).TunnelId = geneve.Vni;
                Layers(ref p).HasTunnelId = true;
                switch (geneve.ProtocolType)
                {
                    case EtherTypes.TransparentEthernetBridging:
                        return DecodeInnerEthernet(geneve.Payload, geneve.PayloadWireLength, countsTowardMtu: true, ref p);
                    case EtherTypes.Ipv4:
                    case EtherTypes.Ipv6:
                    case EtherTypes.Mpls:
                    case EtherTypes.MplsMulticast:
                        return DecodeEtherPayload(geneve.ProtocolType, geneve.Payload, geneve.PayloadWireLength, onCaptureLink: false, ref p);
                    default:
                        return Undecoded(UndecodedReason.GeneveProtocol, geneve.ProtocolType);
                }
            }
            case TunnelPorts.MplsInUdp:
            case TunnelPorts.GreInUdp:
            {
                ReadOnlySpan<byte> payload = udp.Payload;
                int payloadWire = udp.PayloadWireLength;
                if (!EnterTunnel(ref p)) return TooManyLayers();
                if (!Layers(ref p).Push(EncapsulationLayer.Udp, UdpHeaderLength, countsTowardMtu: true)) return TooManyLayers();
                return port == TunnelPorts.MplsInUdp ? DecodeMpls(payload, payloadWire, ref p) : DecodeGre(payload, payloadWire, ref p);
            }
            default:
                return DecodeStatus.Ok;
        }
    }
}
