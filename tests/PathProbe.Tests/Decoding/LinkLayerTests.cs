using PathProbe.Capture;
using PathProbe.Decoding;

namespace PathProbe.Tests.Decoding;

public class LinkLayerTests
{
    [Theory]
    // label, link type, link header (hex), VLAN tags, outer VLAN id
    [InlineData("ethernet", LinkTypes.Ethernet, Vectors.EthDstSrc + "0800", 0, 0)]
    [InlineData("802.1Q vlan 100", LinkTypes.Ethernet, Vectors.EthDstSrc + "8100 0064 0800", 1, 100)]
    [InlineData("802.1Q with PCP 5", LinkTypes.Ethernet, Vectors.EthDstSrc + "8100 a064 0800", 1, 100)]
    [InlineData("QinQ 802.1ad 200 / 802.1Q 100", LinkTypes.Ethernet, Vectors.EthDstSrc + "88a8 00c8 8100 0064 0800", 2, 200)]
    [InlineData("legacy 0x9100 S-tag", LinkTypes.Ethernet, Vectors.EthDstSrc + "9100 012c 8100 0064 0800", 2, 300)]
    [InlineData("three tags", LinkTypes.Ethernet, Vectors.EthDstSrc + "88a8 0001 8100 0002 8100 0003 0800", 3, 1)]
    [InlineData("linux SLL", LinkTypes.LinuxSll, "0000 0001 0006 00005e0053020000 0800", 0, 0)]
    [InlineData("linux SLL tagged", LinkTypes.LinuxSll, "0000 0001 0006 00005e0053020000 8100 0064 0800", 1, 100)]
    [InlineData("linux SLL2", LinkTypes.LinuxSll2, "0800 0000 00000002 0001 00 06 00005e0053020000", 0, 0)]
    [InlineData("raw 101", LinkTypes.Raw, "", 0, 0)]
    [InlineData("raw alias 12", LinkTypes.RawAlt12, "", 0, 0)]
    [InlineData("raw alias 14", LinkTypes.RawAlt14, "", 0, 0)]
    [InlineData("ipv4 228", LinkTypes.Ipv4, "", 0, 0)]
    [InlineData("null AF_INET little-endian", LinkTypes.Null, "02000000", 0, 0)]
    [InlineData("null AF_INET big-endian", LinkTypes.Null, "00000002", 0, 0)]
    [InlineData("loop AF_INET", LinkTypes.Loop, "00000002", 0, 0)]
    public void Decode_Ipv4OverLinkType_FindsIpAndTcp(string label, int linkType, string linkHeader, int vlanTags, int vlanId)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        DecodeStatus status = h.Decode(linkType, linkHeader + Vectors.Ip4TcpSyn, ref p);

        Assert.True(status == DecodeStatus.Ok, label);
        Assert.Equal(4, p.IpVersion);
        Assert.Equal(DecoderHarness.Ip("192.0.2.1"), p.Src);
        Assert.Equal(DecoderHarness.Ip("198.51.100.2"), p.Dst);
        Assert.Equal(49152, p.SrcPort);
        Assert.Equal(25, p.DstPort);
        Assert.Equal(vlanTags, p.VlanTags);
        Assert.Equal(vlanId, p.VlanId);
        Assert.Equal(linkType, p.LinkType);
        Assert.Equal(1, h.Counters.Frames);
        Assert.Equal(1, h.Counters.IpPackets);
    }

    [Theory]
    [InlineData("ethernet", LinkTypes.Ethernet, Vectors.EthDstSrc + "86dd")]
    [InlineData("802.1Q", LinkTypes.Ethernet, Vectors.EthDstSrc + "8100 0064 86dd")]
    [InlineData("linux SLL", LinkTypes.LinuxSll, "0004 0001 0006 00005e0053020000 86dd")]
    [InlineData("linux SLL2", LinkTypes.LinuxSll2, "86dd 0000 00000002 0001 04 06 00005e0053020000")]
    [InlineData("raw 101", LinkTypes.Raw, "")]
    [InlineData("ipv6 229", LinkTypes.Ipv6, "")]
    [InlineData("null AF_INET6 24 (NetBSD/OpenBSD) little-endian", LinkTypes.Null, "18000000")]
    [InlineData("null AF_INET6 28 (FreeBSD) big-endian", LinkTypes.Null, "0000001c")]
    [InlineData("null AF_INET6 30 (macOS) little-endian", LinkTypes.Null, "1e000000")]
    [InlineData("null AF_INET6 30 (macOS) big-endian", LinkTypes.Null, "0000001e")]
    [InlineData("loop AF_INET6 24", LinkTypes.Loop, "00000018")]
    public void Decode_Ipv6OverLinkType_FindsIpAndUdp(string label, int linkType, string linkHeader)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        DecodeStatus status = h.Decode(linkType, linkHeader + Vectors.Ip6Udp, ref p);

        Assert.True(status == DecodeStatus.Ok, label);
        Assert.Equal(6, p.IpVersion);
        Assert.Equal(DecoderHarness.Ip("2001:db8::1"), p.Src);
        Assert.Equal(DecoderHarness.Ip("2001:db8::2"), p.Dst);
        Assert.Equal(IpProtocols.Udp, p.Protocol);
        Assert.Equal(5353, p.SrcPort);
        Assert.Equal(53, p.DstPort);
        Assert.Equal("abcd"u8.ToArray(), p.Payload.ToArray());
    }

    [Theory]
    [InlineData("ARP", LinkTypes.Ethernet, Vectors.EthDstSrc + "0806 0001 0800 0604 0001")]
    [InlineData("LLDP behind a tag", LinkTypes.Ethernet, Vectors.EthDstSrc + "8100 0064 88cc 0000")]
    [InlineData("802.3 length + LLC", LinkTypes.Ethernet, Vectors.EthDstSrc + "0026 4242 03")]
    [InlineData("SLL ARP", LinkTypes.LinuxSll, "0000 0001 0006 00005e0053020000 0806")]
    [InlineData("null AF_APPLETALK-ish family 7", LinkTypes.Null, "07000000 00")]
    public void Decode_NonIpFrame_ReturnsNotIp(string label, int linkType, string hex)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.True(h.Decode(linkType, hex, ref p) == DecodeStatus.NotIp, label);
        Assert.Equal(1, h.Counters.NotIp);
        Assert.Equal(0, p.IpVersion);
        Assert.Equal(0, h.Counters.MalformedTotal);
    }

    [Theory]
    [InlineData("ethernet 13 bytes", LinkTypes.Ethernet, "00005e005301 00005e005302 08", MalformedReason.TruncatedLinkHeader)]
    [InlineData("tag cut short", LinkTypes.Ethernet, Vectors.EthDstSrc + "8100 00", MalformedReason.TruncatedVlanTag)]
    [InlineData("four tags", LinkTypes.Ethernet, Vectors.EthDstSrc + "88a8 0001 8100 0002 8100 0003 8100 0004 0800 45", MalformedReason.TooManyVlanTags)]
    [InlineData("SLL 15 bytes", LinkTypes.LinuxSll, "0000 0001 0006 00005e0053020000 08", MalformedReason.TruncatedLinkHeader)]
    [InlineData("SLL2 19 bytes", LinkTypes.LinuxSll2, "0800 0000 00000002 0001 00 06 00005e00530200", MalformedReason.TruncatedLinkHeader)]
    [InlineData("raw version 5", LinkTypes.Raw, "5500 0028", MalformedReason.BadRawIpVersion)]
    [InlineData("raw empty", LinkTypes.Raw, "", MalformedReason.TruncatedLinkHeader)]
    [InlineData("null 3 bytes", LinkTypes.Null, "020000", MalformedReason.TruncatedLinkHeader)]
    [InlineData("null garbage family", LinkTypes.Null, "deadbeef 45", MalformedReason.BadNullFamily)]
    [InlineData("loop little-endian family is not LOOP", LinkTypes.Loop, "02000000 45", MalformedReason.BadNullFamily)]
    public void Decode_BrokenLinkHeader_CountsMalformed(string label, int linkType, string hex, MalformedReason reason)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.True(h.Decode(linkType, hex, ref p) == DecodeStatus.Malformed, label);
        Assert.Equal(1, h.Counters.Malformed(reason));
        Assert.Equal(1, h.Counters.MalformedTotal);
    }

    [Fact]
    public void Decode_UnknownLinkType_CountsPerLinkType()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.UnsupportedLinkType, h.Decode(147, "0102", ref p));
        Assert.Equal(DecodeStatus.UnsupportedLinkType, h.Decode(147, "0102", ref p));
        Assert.Equal(2, h.Counters.UnsupportedLinkTypes[147]);
        Assert.Equal(2, h.Counters.Frames);
    }

    [Fact]
    public void Decode_AnyFrame_ResetsPacketAndFillsFrameFields()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        h.Decode(LinkTypes.Ethernet, Vectors.EthDstSrc + "8100 0064 0800" + Vectors.Ip4TcpSyn, ref p);
        Assert.Equal(49152, p.SrcPort);

        byte[] arp = DecoderHarness.Hex(Vectors.EthDstSrc + "0806 0001 0800 0604 0001");
        Assert.Equal(DecodeStatus.NotIp, h.Decode(LinkTypes.Ethernet, arp, ref p, wireLength: 60));
        Assert.Equal(0, p.SrcPort);
        Assert.Equal(0, p.VlanTags);
        Assert.Equal(-1, p.IcmpMtu);
        Assert.Equal(-1, p.TcpOptions.WindowScale);
        Assert.Equal(DecoderHarness.Time, p.Time);
        Assert.Equal(arp.Length, p.CapturedLength);
        Assert.Equal(60, p.WireLength);
        Assert.Equal(1, h.Counters.SnapTruncated);
    }
}
