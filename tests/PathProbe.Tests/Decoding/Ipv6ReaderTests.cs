using PathProbe.Capture;
using PathProbe.Decoding;

namespace PathProbe.Tests.Decoding;

public class Ipv6ReaderTests
{
    private const string Addrs = "20010db8000000000000000000000001 20010db8000000000000000000000002 ";

    [Fact]
    public void Decode_PlainHeader_FillsNetworkFields()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ipv6, Vectors.Ip6Udp, ref p));
        Assert.Equal(6, p.IpVersion);
        Assert.Equal(52, p.IpPacketLength);
        Assert.Equal(40, p.IpHeaderLength);
        Assert.Equal(64, p.Ttl);
        Assert.Equal(0u, p.IpId);
        Assert.False(p.DontFragment);
        Assert.Equal(12, p.UdpLength);
    }

    [Fact]
    public void Decode_HopByHopRoutingDestOptsAtomicFragment_ReachesTcp()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        const string hex = "6000 0000 004c 00 40 " + Addrs +
            "2b 00 0104 00000000 " +                                        // hop-by-hop, PadN → routing
            "3c 02 04 00 00 00 0000 20010db8000000000000000000000099 " +    // routing type 4 (SRH) → dest opts
            "2c 00 0104 00000000 " +                                        // destination options, PadN → fragment
            "06 00 0000 deadbeef " +                                        // atomic fragment (RFC 6946) → TCP
            "c001 024b 11223344 00000000 70 02 faf0 0000 0000 020405a0 01010402";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ipv6, hex, ref p));
        Assert.Equal(IpProtocols.Tcp, p.Protocol);
        Assert.Equal(40 + 8 + 24 + 8 + 8, p.IpHeaderLength);
        Assert.Equal(40 + 0x4c, p.IpPacketLength);
        Assert.Equal(0xdeadbeefu, p.IpId);
        Assert.False(p.IsFragment);
        Assert.False(p.Reassembled);
        Assert.Equal(49153, p.SrcPort);
        Assert.Equal(587, p.DstPort);
        Assert.Equal(0x11223344u, p.Seq);
        Assert.Equal(1440, p.TcpOptions.Mss);
        Assert.True(p.TcpOptions.SackPermitted);
        Assert.Equal(0, p.PayloadWireLength);
    }

    [Fact]
    public void Decode_AuthenticationHeader_SkippedByItsOwnLengthFormula()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        // AH (RFC 4302 2.2): payload length 4 → (4 + 2) * 4 = 24 bytes, not (4 + 1) * 8.
        const string hex = "6000 0000 0024 33 40 " + Addrs +
            "11 04 0000 00001000 00000001 0102030405060708090a0b0c " +
            "14e9 0035 000c 0000 61626364";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ipv6, hex, ref p));
        Assert.Equal(64, p.IpHeaderLength);
        Assert.Equal(IpProtocols.Udp, p.Protocol);
        Assert.Equal(53, p.DstPort);
    }

    [Fact]
    public void ReadHeader_FirstFragment_StopsAtFragmentHeader()
    {
        byte[] data = DecoderHarness.Hex("6000 0000 0018 2c 40 " + Addrs + "11 00 0001 cafef00d 14e9 0035 000c 0000 6162636465666768");
        var ip = new Ipv6Reader();
        Assert.Equal(MalformedReason.None, ip.Read(data, data.Length));
        Assert.True(ip.IsFragment);
        Assert.True(ip.MoreFragments);
        Assert.Equal(0, ip.FragmentOffset);
        Assert.Equal(0xcafef00du, ip.FragmentId);
        Assert.Equal(IpProtocols.Udp, ip.NextHeader);
        Assert.Equal(48, ip.HeaderLength);
        Assert.Equal(16, ip.Payload.Length);
    }

    [Theory]
    [InlineData("offset 1448 bytes, last", "05a8", 1448, false)]
    [InlineData("offset 8 bytes, more", "0009", 8, true)]
    public void ReadHeader_LaterFragment_GivesOffsetInBytes(string label, string offsetWord, int offset, bool more)
    {
        byte[] data = DecoderHarness.Hex("6000 0000 0010 2c 40 " + Addrs + "11 00 " + offsetWord + " 00000001 0102030405060708");
        var ip = new Ipv6Reader();
        Assert.Equal(MalformedReason.None, ip.Read(data, data.Length));
        Assert.True(offset == ip.FragmentOffset, label);
        Assert.Equal(more, ip.MoreFragments);
        Assert.True(ip.IsFragment);
    }

    [Theory]
    [InlineData("fixed header cut", "6000 0000 000c 11 40 20010db8", MalformedReason.TruncatedIpv6Header)]
    [InlineData("version 4 nibble", "4000 0000 000c 11 40 " + Addrs, MalformedReason.BadIpv6Version)]
    [InlineData("hop-by-hop claims 16 bytes, 8 present", "6000 0000 0008 00 40 " + Addrs + "3b 01 0104 00000000", MalformedReason.TruncatedIpv6ExtensionHeader)]
    [InlineData("extension header beyond payload length", "6000 0000 0004 3c 40 " + Addrs + "3b 00 0104 00000000", MalformedReason.TruncatedIpv6ExtensionHeader)]
    [InlineData("fragment header cut", "6000 0000 0004 2c 40 " + Addrs + "11 00 0001", MalformedReason.TruncatedIpv6ExtensionHeader)]
    [InlineData("jumbogram (payload length 0 + Jumbo Payload option)", "6000 0000 0000 00 40 " + Addrs + "11 00 c204 00010000 14e9 0035 000c 0000 61626364", MalformedReason.BadIpv6PayloadLength)]
    public void Decode_BrokenHeader_CountsMalformed(string label, string hex, MalformedReason reason)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.True(h.Decode(LinkTypes.Ipv6, hex, ref p) == DecodeStatus.Malformed, label);
        Assert.Equal(1, h.Counters.Malformed(reason));
    }

    [Theory]
    [InlineData(15, DecodeStatus.Ok)]
    [InlineData(16, DecodeStatus.Malformed)]
    public void Decode_LongExtensionChain_IsBounded(int headers, DecodeStatus expected)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        var hex = new System.Text.StringBuilder("6000 0000 " + (headers * 8).ToString("x4") + " 3c 40 " + Addrs);
        for (int i = 0; i < headers; i++) hex.Append(i < headers - 1 ? "3c" : "3b").Append("00 0104 00000000 ");
        Assert.Equal(expected, h.Decode(LinkTypes.Ipv6, hex.ToString(), ref p));
        if (expected == DecodeStatus.Ok)
        {
            Assert.Equal(IpProtocols.NoNext, p.Protocol);
            Assert.Equal(40 + headers * 8, p.IpHeaderLength);
        }
        else
        {
            Assert.Equal(1, h.Counters.Malformed(MalformedReason.TooManyIpv6ExtensionHeaders));
        }
    }

    [Fact]
    public void Decode_TrafficClass_CarriesDscpAndEcn()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        // Traffic class 0xb9 = DSCP 46 (EF) + ECT(1).
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ipv6, "6b90 0000" + Vectors.Ip6Udp.Substring(9), ref p));
        Assert.Equal(0xb9, p.TrafficClass);
    }
}

public class Ipv6LengthTests
{
    private const string Addrs = "20010db8000000000000000000000001 20010db8000000000000000000000002 ";

    [Fact]
    public void Decode_PayloadLengthZeroWithoutJumbo_TakesLengthFromFrameAsTso()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        // Linux BIG TCP / GSO super-frames seen on the sender carry payload length 0.
        const string hex = "6000 0000 0000 06 40 " + Addrs + "c001 024b 11223344 00000000 50 10 faf0 0000 0000 48454c4f";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ipv6, hex, ref p, wireLength: 70000));
        Assert.Equal(70000, p.IpPacketLength);
        Assert.Equal(70000 - 60, p.PayloadWireLength);
        Assert.Equal(4, p.Payload.Length);
    }

    [Fact]
    public void Decode_PayloadLengthZeroNoNextHeader_IsAnEmptyPacket()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        // 40-byte IPv6 header + 6 bytes of Ethernet padding.
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ethernet, Vectors.EthDstSrc + "86dd 6000 0000 0000 3b 40 " + Addrs + "000000000000", ref p));
        Assert.Equal(40, p.IpPacketLength);
        Assert.Equal(0, p.Payload.Length);
        Assert.Equal(IpProtocols.NoNext, p.Protocol);
    }
}
