using PathProbe.Capture;
using PathProbe.Decoding;

namespace PathProbe.Tests.Decoding;

public class UdpReaderTests
{
    private const string Ip4Header = "4500 0020 1234 4000 40 11 3c62 c0000201 c6336402 ";

    [Fact]
    public void Decode_Datagram_FillsPortsLengthAndPayload()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, Vectors.Ip4Udp, ref p));
        Assert.True(p.IsUdp);
        Assert.Equal(5353, p.SrcPort);
        Assert.Equal(53, p.DstPort);
        Assert.Equal(12, p.UdpLength);
        Assert.Equal("abcd"u8.ToArray(), p.Payload.ToArray());
        Assert.Equal(4, p.PayloadWireLength);
    }

    [Fact]
    public void Decode_UdpLengthShorterThanIpPayload_PayloadEndsAtUdpLength()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        // UDP length 10: "ab" is data, "cd" is trailing (UDP options area).
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, Ip4Header + "14e9 0035 000a 0000 61626364", ref p));
        Assert.Equal("ab"u8.ToArray(), p.Payload.ToArray());
        Assert.Equal(2, p.PayloadWireLength);
    }

    [Theory]
    [InlineData("length 4 < 8", "14e9 0035 0004 0000 61626364", MalformedReason.BadUdpLength)]
    [InlineData("length 0", "14e9 0035 0000 0000 61626364", MalformedReason.BadUdpLength)]
    [InlineData("length 13 > IP payload 12", "14e9 0035 000d 0000 61626364", MalformedReason.BadUdpLength)]
    public void Decode_BadLength_CountsMalformed(string label, string udp, MalformedReason reason)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.True(h.Decode(LinkTypes.Raw, Ip4Header + udp, ref p) == DecodeStatus.Malformed, label);
        Assert.Equal(1, h.Counters.Malformed(reason));
    }

    [Fact]
    public void Decode_HeaderCut_IsTruncated()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.Malformed, h.Decode(LinkTypes.Raw, Ip4Header + "14e9 0035 00", ref p, wireLength: 32));
        Assert.Equal(1, h.Counters.Malformed(MalformedReason.TruncatedUdpHeader));
    }

    [Fact]
    public void Decode_PayloadCutBySnapLength_KeepsWireLength()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, Ip4Header + "14e9 0035 000c 0000 61", ref p, wireLength: 32));
        Assert.Equal(1, p.Payload.Length);
        Assert.Equal(4, p.PayloadWireLength);
    }
}
