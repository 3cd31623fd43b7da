using PathProbe.Capture;
using PathProbe.Decoding;

namespace PathProbe.Tests.Decoding;

public class IcmpReaderTests
{
    /// <summary>Router 203.0.113.1 → 192.0.2.1: type 3 code 4, next-hop MTU 1424, quoting the 1500-byte DF TCP
    /// segment 192.0.2.1:49152 → 198.51.100.2:25 (IP header + 8 bytes, RFC 792).</summary>
    private const string FragNeeded1424 =
        "4500 0038 0001 0000 fa 01 c2c0 cb007101 c0000201 " +
        "03 04 334c 0000 0590 " +
        "4500 05dc 1234 4000 40 06 36b1 c0000201 c6336402 " +
        "c000 0019 01020304";

    [Fact]
    public void Decode_FragmentationNeeded_GivesMtuAndQuotedTcpFlow()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, FragNeeded1424, ref p));
        Assert.True(p.IsIcmp);
        Assert.Equal(3, p.IcmpType);
        Assert.Equal(4, p.IcmpCode);
        Assert.Equal(1424, p.IcmpMtu);
        Assert.Equal(DecoderHarness.Ip("203.0.113.1"), p.Src);

        QuotedPacket q = p.Quoted;
        Assert.True(q.Present);
        Assert.Equal(4, q.IpVersion);
        Assert.Equal(DecoderHarness.Ip("192.0.2.1"), q.Src);
        Assert.Equal(DecoderHarness.Ip("198.51.100.2"), q.Dst);
        Assert.Equal(IpProtocols.Tcp, q.Protocol);
        Assert.Equal(1500, q.IpPacketLength);
        Assert.True(q.DontFragment);
        Assert.Equal(0x1234u, q.IpId);
        Assert.True(q.HasPorts);
        Assert.Equal(49152, q.SrcPort);
        Assert.Equal(25, q.DstPort);
        Assert.True(q.HasTcpSeq);
        Assert.Equal(0x01020304u, q.TcpSeq);
        Assert.Equal(28, p.Payload.Length);
        Assert.Equal(0, h.Counters.MalformedTotal);
    }

    [Fact]
    public void Decode_FragmentationNeededFromPre1191Router_KeepsMtuZero()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        const string hex = "4500 0038 0001 0000 fa 01 c2c0 cb007101 c0000201 03 04 38dc 0000 0000 " +
                           "4500 05dc 1234 4000 40 06 36b1 c0000201 c6336402 c000 0019 01020304";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, hex, ref p));
        Assert.Equal(0, p.IcmpMtu);
        Assert.True(p.Quoted.Present);
    }

    [Fact]
    public void Decode_Icmpv6PacketTooBig_GivesMtuAndQuotedTcpThroughExtensionHeader()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        const string hex =
            "6000 0000 0040 3a 40 20010db80000000000000000000000fe 20010db8000000000000000000000001 " +
            "02 00 7002 00000500 " +                                                                        // Packet Too Big, MTU 1280
            "6000 0000 0584 3c 40 20010db8000000000000000000000001 20010db8000000000000000000000002 " +     // quoted: 1452 bytes
            "06 00 0104 00000000 " +                                                                        // destination options → TCP
            "c001 024b a1b2c3d4";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ipv6, hex, ref p));
        Assert.Equal(2, p.IcmpType);
        Assert.Equal(1280, p.IcmpMtu);
        QuotedPacket q = p.Quoted;
        Assert.True(q.Present);
        Assert.Equal(6, q.IpVersion);
        Assert.Equal(DecoderHarness.Ip("2001:db8::1"), q.Src);
        Assert.Equal(DecoderHarness.Ip("2001:db8::2"), q.Dst);
        Assert.Equal(IpProtocols.Tcp, q.Protocol);
        Assert.Equal(1452, q.IpPacketLength);
        Assert.Equal(49153, q.SrcPort);
        Assert.Equal(587, q.DstPort);
        Assert.Equal(0xa1b2c3d4u, q.TcpSeq);
    }

    [Fact]
    public void Decode_TimeExceeded_QuotesUdpPortsWithoutSeq()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        const string hex = "4500 0038 0002 0000 fa 01 c2bf cb007101 c0000201 0b 00 efb5 00000000 " +
                           "4500 0028 4242 0000 01 11 8b4c c0000201 c6336402 829a 829b 0014 0000";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, hex, ref p));
        Assert.Equal(11, p.IcmpType);
        Assert.Equal(-1, p.IcmpMtu);
        QuotedPacket q = p.Quoted;
        Assert.True(q.Present);
        Assert.Equal(IpProtocols.Udp, q.Protocol);
        Assert.False(q.DontFragment);
        Assert.Equal(40, q.IpPacketLength);
        Assert.True(q.HasPorts);
        Assert.Equal(33434, q.SrcPort);
        Assert.Equal(33435, q.DstPort);
        Assert.False(q.HasTcpSeq);
    }

    [Theory]
    [InlineData("v4 quote of 12 bytes", LinkTypes.Raw,
        "4500 0028 0003 0000 fa 01 c2ce cb007101 c0000201 0b 00 e137 00000000 4500 0028 4242 0000 01 11 8b4c",
        MalformedReason.TruncatedIcmpQuote)]
    [InlineData("v4 empty quote", LinkTypes.Raw,
        "4500 001c 0003 0000 fa 01 0000 cb007101 c0000201 0b 00 0000 00000000",
        MalformedReason.TruncatedIcmpQuote)]
    [InlineData("v6 quote cut inside an extension header", LinkTypes.Ipv6,
        "6000 0000 0032 3a 40 20010db80000000000000000000000fe 20010db8000000000000000000000001 01 04 0000 00000000 " +
        "6000 0000 0010 3c 40 20010db8000000000000000000000001 20010db8000000000000000000000002 06 01",
        MalformedReason.TruncatedIcmpQuote)]
    [InlineData("quote is not IP", LinkTypes.Raw,
        "4500 0030 0003 0000 fa 01 0000 cb007101 c0000201 03 01 0000 00000000 0102030405060708090a0b0c0d0e0f1011121314",
        MalformedReason.BadIcmpQuote)]
    public void Decode_UnusableQuote_CountsButReturnsOk(string label, int linkType, string hex, MalformedReason reason)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.True(h.Decode(linkType, hex, ref p) == DecodeStatus.Ok, label);
        Assert.False(p.Quoted.Present);
        Assert.Equal(1, h.Counters.Malformed(reason));
        Assert.True(p.IsIcmp);
    }

    [Fact]
    public void Decode_QuoteOfIpHeaderOnly_IsPresentWithoutPorts()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        const string hex = "4500 0030 0003 0000 fa 01 0000 cb007101 c0000201 0b 00 0000 00000000 " +
                           "4500 0028 4242 0000 01 11 8b4c c0000201 c6336402";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, hex, ref p));
        Assert.True(p.Quoted.Present);
        Assert.False(p.Quoted.HasPorts);
    }

    [Fact]
    public void Decode_QuotedNonFirstFragment_HasNoPorts()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        // The quoted datagram is a fragment at offset 1480: the bytes after its header are not a UDP header.
        const string hex = "4500 0038 0002 0000 fa 01 0000 cb007101 c0000201 0b 01 0000 00000000 " +
                           "4500 0028 4242 00b9 01 11 0000 c0000201 c6336402 829a 829b 0014 0000";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, hex, ref p));
        Assert.True(p.Quoted.Present);
        Assert.False(p.Quoted.HasPorts);
    }

    [Fact]
    public void Decode_EchoRequest_IsNotAnErrorAndKeepsBody()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, "4500 0020 0004 0000 40 01 7cd6 c0000201 cb007101 08 00 192d 0001 0001 70696e67", ref p));
        Assert.Equal(8, p.IcmpType);
        Assert.False(p.Quoted.Present);
        Assert.Equal(-1, p.IcmpMtu);
        Assert.Equal("ping"u8.ToArray(), p.Payload.ToArray());
        Assert.Equal(4, p.PayloadWireLength);
    }

    [Fact]
    public void Decode_IcmpHeaderCut_IsTruncated()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.Malformed, h.Decode(LinkTypes.Raw, "4500 0018 0004 0000 40 01 0000 c0000201 cb007101 0800 192d", ref p));
        Assert.Equal(1, h.Counters.Malformed(MalformedReason.TruncatedIcmpHeader));
    }
}

public class Icmpv6ReaderTests
{
    private const string Router = "20010db80000000000000000000000fe ";
    private const string Host = "20010db8000000000000000000000001 ";
    private const string Peer = "20010db8000000000000000000000002 ";

    [Fact]
    public void Decode_DestinationUnreachable_QuotesUdp()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        const string hex = "6000 0000 003c 3a 40 " + Router + Host + "01 04 0000 00000000 " + // port unreachable
                           "6000 0000 000c 11 40 " + Host + Peer + "14e9 0035 000c 0000 61626364";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ipv6, hex, ref p));
        Assert.Equal(1, p.IcmpType);
        Assert.Equal(4, p.IcmpCode);
        Assert.Equal(-1, p.IcmpMtu);
        Assert.True(p.Quoted.Present);
        Assert.Equal(IpProtocols.Udp, p.Quoted.Protocol);
        Assert.Equal(52, p.Quoted.IpPacketLength);
        Assert.Equal(5353, p.Quoted.SrcPort);
        Assert.Equal(53, p.Quoted.DstPort);
    }

    [Fact]
    public void Decode_EchoRequest_IsNotAnError()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ipv6, "6000 0000 000c 3a 40 " + Host + Peer + "80 00 0000 0001 0001 70696e67", ref p));
        Assert.Equal(128, p.IcmpType);
        Assert.False(p.Quoted.Present);
        Assert.Equal("ping"u8.ToArray(), p.Payload.ToArray());
    }

    [Fact]
    public void Decode_Icmpv4ProtocolInsideIpv6_IsNotDecodedAsIcmp()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ipv6, "6000 0000 0008 01 40 " + Host + Peer + "03 04 0000 0000 0590", ref p));
        Assert.Equal(-1, p.IcmpMtu);
        Assert.Equal(8, p.Payload.Length);
    }
}
