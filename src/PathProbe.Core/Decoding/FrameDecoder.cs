using System.Runtime.CompilerServices;
using PathProbe.Capture;
using PathProbe.Decoding.Reassembly;
using PathProbe.Primitives;

namespace PathProbe.Decoding;

/// <summary>
/// Decodes link, IP and transport headers of one frame into a <see cref="DecodedPacket"/>. Reused for
/// every frame; never throws on packet data: problems are counted in <see cref="Counters"/>.
/// </summary>
/// <remarks>
/// Spans in the decoded packet point into the frame, or into the reassembler's buffer for a reassembled
/// datagram; both are valid only until the next frame is read and decoded.
/// <para>Counting: <see cref="DecodeCounters.Ipv4ChecksumErrors"/> counts bad IPv4 header checksums (the packet
/// is flagged and decoded; <see cref="MalformedReason.Ipv4ChecksumBad"/> is not counted as well, so
/// <see cref="DecodeCounters.MalformedTotal"/> stays a count of anomalies in the malformed table only).
/// <see cref="MalformedReason.BadIpv4Options"/>, <see cref="MalformedReason.BadTcpOption"/> and
/// <see cref="MalformedReason.TruncatedIcmpQuote"/>/<see cref="MalformedReason.BadIcmpQuote"/> are counted but the
/// packet is still returned as <see cref="DecodeStatus.Ok"/>. <see cref="DecodeCounters.IpPackets"/> counts every
/// frame with a usable IP header, fragments included. When the transport header is malformed the network-layer
/// fields stay filled.</para>
/// <para>Fragments (IPv4 MF or offset, IPv6 fragment header other than an atomic fragment): the network-layer fields
/// are filled (<see cref="DecodedPacket.IsFragment"/>, <see cref="DecodedPacket.MoreFragments"/>,
/// <see cref="DecodedPacket.FragmentOffset"/>, <see cref="DecodedPacket.IpId"/>; <see cref="DecodedPacket.Protocol"/>
/// is the IPv4 protocol or the IPv6 fragment header's next header; <see cref="DecodedPacket.IpPacketLength"/> is the
/// fragment's own size). While the datagram is incomplete the result is <see cref="DecodeStatus.FragmentHeld"/> with
/// empty transport fields and payload. The fragment that completes it is decoded from the reassembled datagram:
/// <see cref="DecodedPacket.Reassembled"/>, <see cref="DecodedPacket.FragmentCount"/>, IpPacketLength = this
/// fragment's IP header length (IPv6: including the fragment header) + reassembled payload length, and
/// <see cref="DecodedPacket.Payload"/> points into the reassembler's buffer. A fragment cut by the snap length is
/// reported as FragmentHeld but not stored (its bytes are incomplete); an impossible one (a non-last fragment
/// not a multiple of 8 bytes, or past 65535) is <see cref="MalformedReason.BadFragment"/>.</para>
/// </remarks>
public sealed partial class FrameDecoder
{
    private readonly IpReassembler _reassembler;
    private readonly DecodeCounters _counters;
    // The key is passed to the reassembler by reference from a field, not a local: a ref to a local would limit
    // the returned datagram span to this method (C# ref safety: IpReassembler.Add's key is not `scoped in`).
    // A field is fine because a decoder, like a packet source, is used by one thread.
    private FragmentKey _fragmentKey;

    public FrameDecoder(IpReassembler reassembler, DecodeCounters counters)
    {
        ArgumentNullException.ThrowIfNull(reassembler);
        ArgumentNullException.ThrowIfNull(counters);
        _reassembler = reassembler;
        _counters = counters;
    }

    public DecodeCounters Counters => _counters;
    public IpReassembler Reassembler => _reassembler;

    /// <summary>Decodes <paramref name="frame"/>. On <see cref="DecodeStatus.Malformed"/> the reason has been counted.</summary>
    public DecodeStatus Decode(in RawFrame frame, ref DecodedPacket packet)
    {
        packet = default;
        packet.IcmpMtu = -1;
        packet.TcpOptions.WindowScale = -1;
        packet.Time = frame.Time;
        packet.LinkType = frame.LinkType;
        packet.CapturedLength = frame.Data.Length;
        packet.WireLength = frame.OriginalLength;
        _counters.Frames++;
        if (frame.IsTruncated) _counters.SnapTruncated++;

        var link = new LinkLayerReader();
        LinkStatus linkStatus = link.Read(frame.LinkType, frame.Data);
        packet.VlanTags = link.VlanTags;
        packet.VlanId = link.VlanId;

        // Bytes from the IP header to the end of the frame on the wire: what a snap length cut off counts too.
        int wireLength = link.Network.Length + Math.Max(0, frame.OriginalLength - frame.Data.Length);
        // The common case stays a tail call with nothing to do afterwards: an IP tunnel found in it counts itself
        // (see CountIfOutermost); tags, link encapsulations and everything not IP go the other way.
        if (linkStatus == LinkStatus.Ip && link.VlanTags == 0)
        {
            return link.IpVersion == 4
                ? DecodeIpv4(link.Network, wireLength, frame.Time, ref packet)
                : DecodeIpv6(link.Network, wireLength, frame.Time, ref packet);
        }
        return DecodeLinkSlowPath(linkStatus, link, wireLength, frame.LinkType, ref packet);
    }

    /// <summary>VLAN-tagged frames, encapsulations right after the link header (MPLS, PPPoE, ...), and frames that carry
    /// no IP. Counts the frame's encapsulation layers once the whole frame is decoded.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private DecodeStatus DecodeLinkSlowPath(LinkStatus linkStatus, LinkLayerReader link, int wireLength, int linkType, ref DecodedPacket packet)
    {
        if (link.VlanTags != 0) PushTags(ref Layers(ref packet), link.VlanTags, link.ServiceTags, countsTowardMtu: false);
        DecodeStatus status;
        switch (linkStatus)
        {
            case LinkStatus.Ip:
                status = link.IpVersion == 4
                    ? DecodeIpv4(link.Network, wireLength, packet.Time, ref packet)
                    : DecodeIpv6(link.Network, wireLength, packet.Time, ref packet);
                break;
            case LinkStatus.Encapsulated:
                status = DecodeEtherPayload(link.EtherType, link.Network, wireLength, onCaptureLink: true, ref packet);
                break;
            case LinkStatus.NotIp:
                return NotIp();
            case LinkStatus.PppControl:
                return NotIp(pppControl: true);
            case LinkStatus.Unsupported:
                _counters.CountUnsupportedLinkType(linkType);
                return DecodeStatus.UnsupportedLinkType;
            case LinkStatus.Undecoded:
                return Undecoded(link.Undecoded, link.EtherType);
            default:
                return Malformed(link.Error);
        }
        if (packet.Encap.Depth != 0) CountEncapsulation(status, in packet.Encap);
        return status;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private DecodeStatus Malformed(MalformedReason reason)
    {
        _counters.CountMalformed(reason);
        return DecodeStatus.Malformed;
    }

    private DecodeStatus DecodeIpv4(ReadOnlySpan<byte> data, int wireLength, Timestamp time, ref DecodedPacket packet)
    {
        var ip = new Ipv4Reader();
        MalformedReason r = ip.Read(data, wireLength);
        if (r != MalformedReason.None) return Malformed(r);

        if (packet.IpVersion == 0) _counters.IpPackets++; // once per frame, not per tunnel level
        packet.IpVersion = 4;
        packet.Src = ip.Src;
        packet.Dst = ip.Dst;
        packet.Protocol = ip.Protocol;
        packet.IpPacketLength = ip.TotalLength;
        packet.IpHeaderLength = ip.HeaderLength;
        packet.Ttl = ip.Ttl;
        packet.IpId = ip.Identification;
        packet.DontFragment = ip.DontFragment;
        packet.MoreFragments = ip.MoreFragments;
        packet.FragmentOffset = ip.FragmentOffset;
        packet.TrafficClass = ip.Tos;
        if (!ip.ChecksumValid) CountBadChecksum(ref packet);
        if (!ip.OptionsValid) _counters.CountMalformed(MalformedReason.BadIpv4Options);

        if (ip.IsFragment)
        {
            _fragmentKey = new FragmentKey(ip.Src, ip.Dst, ip.Identification, ip.Protocol, 4);
            return AddFragment(ip.FragmentOffset, ip.MoreFragments, ip.Payload, ip.PayloadWireLength, time, ref packet);
        }
        return DecodeTransport(ip.Payload, ip.PayloadWireLength, ref packet);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountBadChecksum(ref DecodedPacket packet)
    {
        _counters.Ipv4ChecksumErrors++;
        packet.IpChecksumBad = true;
    }

    private DecodeStatus DecodeIpv6(ReadOnlySpan<byte> data, int wireLength, Timestamp time, ref DecodedPacket packet)
    {
        var ip = new Ipv6Reader();
        MalformedReason r = ip.Read(data, wireLength);
        if (r != MalformedReason.None) return Malformed(r);

        if (packet.IpVersion == 0) _counters.IpPackets++;
        packet.IpVersion = 6;
        packet.Src = ip.Src;
        packet.Dst = ip.Dst;
        packet.Protocol = ip.NextHeader;
        packet.IpPacketLength = ip.PacketLength;
        packet.IpHeaderLength = ip.HeaderLength;
        packet.Ttl = ip.HopLimit;
        packet.IpId = ip.FragmentId;
        packet.MoreFragments = ip.MoreFragments;
        packet.FragmentOffset = ip.FragmentOffset;
        packet.TrafficClass = ip.TrafficClass;

        if (ip.IsFragment)
        {
            // RFC 8200 4.5 keys on (src, dst, id) and takes the next header from the offset-0 fragment; every stack
            // seen in practice repeats it in all fragments, so it is part of the key as for IPv4.
            _fragmentKey = new FragmentKey(ip.Src, ip.Dst, ip.FragmentId, ip.NextHeader, 6);
            return AddFragment(ip.FragmentOffset, ip.MoreFragments, ip.Payload, ip.PayloadWireLength, time, ref packet);
        }
        return DecodeTransport(ip.Payload, ip.PayloadWireLength, ref packet);
    }

    /// <summary>
    /// Hands the fragment identified by <see cref="_fragmentKey"/> to the reassembler. The network-layer fields are
    /// already filled; the transport fields stay empty unless this fragment completes the datagram, which is then
    /// decoded from the reassembled payload.
    /// </summary>
    private DecodeStatus AddFragment(int offset, bool more, ReadOnlySpan<byte> data, int dataWireLength,
        Timestamp time, ref DecodedPacket packet)
    {
        // RFC 8200 4.5 (and RFC 791 by the same arithmetic): a non-last fragment is a non-empty multiple of 8 bytes,
        // and no fragment reaches past the largest payload the reassembler can build (one rule, the reassembler's).
        if ((more && (dataWireLength == 0 || (dataWireLength & 7) != 0)) || offset + dataWireLength > IpReassembler.MaxPayload(_fragmentKey.IpVersion))
            return Malformed(MalformedReason.BadFragment);
        // A fragment cut by the snap length has lost bytes the datagram needs; feeding it would corrupt the
        // reassembly, so it is reported as held without being stored (the datagram will show as incomplete).
        if (data.Length < dataWireLength) return DecodeStatus.FragmentHeld;

        ReassemblyResult result = _reassembler.Add(in _fragmentKey, offset, more, data, time, out ReadOnlySpan<byte> datagram, out int count);
        if (result != ReassemblyResult.Completed) return DecodeStatus.FragmentHeld;

        packet.Reassembled = true;
        packet.FragmentCount = count;
        packet.IpPacketLength = packet.IpHeaderLength + datagram.Length;
        packet.LargestFragment = packet.IpHeaderLength + _reassembler.LastCompletedLargestFragment;
        if (_fragmentKey.IpVersion == 6)
        {
            // The fragmentable part can start with more extension headers (destination options, RFC 8200 4.1).
            var ext = new Ipv6Reader { NextHeader = _fragmentKey.Protocol };
            MalformedReason r = ext.WalkExtensionHeaders(datagram);
            if (r != MalformedReason.None) return Malformed(r);
            packet.Protocol = ext.NextHeader;
            packet.IpHeaderLength += ext.HeaderLength;
            datagram = datagram.Slice(ext.HeaderLength);
        }
        return DecodeTransport(datagram, datagram.Length, ref packet);
    }
}
