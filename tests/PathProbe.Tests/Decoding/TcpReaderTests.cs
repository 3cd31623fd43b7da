using PathProbe.Capture;
using PathProbe.Decoding;

namespace PathProbe.Tests.Decoding;

public class TcpReaderTests
{
    /// <summary>IPv4 header for a TCP segment; the total length is patched in by <see cref="Ip4"/>.</summary>
    private static string Ip4(string tcpHex)
    {
        int length = 20 + DecoderHarness.Hex(tcpHex).Length;
        // Checksum left 0: these tests are about TCP; a bad IP checksum only flags the packet.
        return "4500 " + length.ToString("x4") + " 1234 4000 40 06 0000 c0000201 c6336402 " + tcpHex;
    }

    [Fact]
    public void Decode_SynWithMssSackPermittedTimestampsWindowScale_ReadsAllOptions()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        const string tcp = "c000 0019 01020304 00000000 a0 02 faf0 0000 0000 " +
                           "020405b4 0402 080a 00000064 00000000 01 030307";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, Ip4(tcp), ref p));
        Assert.Equal(40, p.TcpHeaderLength);
        Assert.Equal(TcpFlags.Syn, p.TcpFlags);
        Assert.Equal(0x01020304u, p.Seq);
        Assert.Equal(64240, p.Window);
        Assert.Equal(1460, p.TcpOptions.Mss);
        Assert.True(p.TcpOptions.SackPermitted);
        Assert.True(p.TcpOptions.HasTimestamps);
        Assert.Equal(100u, p.TcpOptions.TsVal);
        Assert.Equal(0u, p.TcpOptions.TsEcr);
        Assert.Equal(7, p.TcpOptions.WindowScale);
        Assert.Equal(0, p.TcpOptions.SackBlockCount);
        Assert.Equal(0, h.Counters.MalformedTotal);
    }

    [Fact]
    public void Decode_AckWithTimestampsAndThreeSackBlocks_ReadsBlocksFlagsAndPayload()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        const string tcp = "c000 0019 01020304 0a0b0c0d f1 d8 faf0 0000 0000 " + // offset 15, AE | CWR ECE ACK PSH
                           "0101 080a 000000c8 00000064 " +
                           "0101 051a 000003e8 000007d0 00000bb8 00000fa0 00001388 00001770 " +
                           "68656c6c6f";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, Ip4(tcp), ref p));
        Assert.Equal(60, p.TcpHeaderLength);
        Assert.Equal(TcpFlags.Ae | TcpFlags.Cwr | TcpFlags.Ece | TcpFlags.Ack | TcpFlags.Psh, p.TcpFlags);
        Assert.Equal(0x0a0b0c0du, p.Ack);
        Assert.Equal(200u, p.TcpOptions.TsVal);
        Assert.Equal(100u, p.TcpOptions.TsEcr);
        Assert.Equal(3, p.TcpOptions.SackBlockCount);
        Assert.Equal(1000u, p.TcpOptions.SackLeft(0));
        Assert.Equal(2000u, p.TcpOptions.SackRight(0));
        Assert.Equal(3000u, p.TcpOptions.SackLeft(1));
        Assert.Equal(4000u, p.TcpOptions.SackRight(1));
        Assert.Equal(5000u, p.TcpOptions.SackLeft(2));
        Assert.Equal(6000u, p.TcpOptions.SackRight(2));
        Assert.Equal(-1, p.TcpOptions.WindowScale);
        Assert.Equal("hello"u8.ToArray(), p.Payload.ToArray());
        Assert.Equal(5, p.PayloadWireLength);
    }

    [Fact]
    public void Decode_FourSackBlocks_ReadsAll()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        const string tcp = "c000 0019 01020304 0a0b0c0d e0 10 faf0 0000 0000 0101 0522 " +
                           "00000001 00000002 00000003 00000004 00000005 00000006 00000007 00000008";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, Ip4(tcp), ref p));
        Assert.Equal(4, p.TcpOptions.SackBlockCount);
        Assert.Equal(7u, p.TcpOptions.SackLeft(3));
        Assert.Equal(8u, p.TcpOptions.SackRight(3));
    }

    [Fact]
    public void Decode_WindowScaleAbove14_IsClampedTo14()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        // RFC 7323 2.3: a shift above 14 MUST be used as 14.
        const string tcp = "c000 0019 01020304 00000000 60 02 faf0 0000 0000 03030f 00";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, Ip4(tcp), ref p));
        Assert.Equal(14, p.TcpOptions.WindowScale);
    }

    [Theory]
    [InlineData("option length 0", "020405b4 0300 0000")]
    [InlineData("option length 1", "020405b4 0301 0000")]
    [InlineData("option past header", "020405b4 0808 0000")]
    [InlineData("WS with length 4", "020405b4 03040700")]
    [InlineData("kind alone at the end", "020405b4 010101 03")]
    public void Decode_BadOptionLength_CountsAndKeepsSegmentAndEarlierOptions(string label, string options)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        string tcp = "c000 0019 01020304 00000000 70 02 faf0 0000 0000 " + options + " 6869";
        Assert.True(h.Decode(LinkTypes.Raw, Ip4(tcp), ref p) == DecodeStatus.Ok, label);
        Assert.Equal(1, h.Counters.Malformed(MalformedReason.BadTcpOption));
        Assert.Equal(1460, p.TcpOptions.Mss);
        Assert.Equal(-1, p.TcpOptions.WindowScale);
        Assert.Equal("hi"u8.ToArray(), p.Payload.ToArray());
    }

    [Theory]
    [InlineData("data offset 4", "c000 0019 01020304 00000000 40 02 faf0 0000 0000", MalformedReason.BadTcpDataOffset)]
    [InlineData("data offset 0", "c000 0019 01020304 00000000 00 02 faf0 0000 0000", MalformedReason.BadTcpDataOffset)]
    [InlineData("data offset 6 beyond a 20-byte segment", "c000 0019 01020304 00000000 60 02 faf0 0000 0000", MalformedReason.BadTcpDataOffset)]
    [InlineData("12 bytes", "c000 0019 01020304 00000000", MalformedReason.TruncatedTcpHeader)]
    public void Decode_BrokenHeader_CountsMalformed(string label, string tcp, MalformedReason reason)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.True(h.Decode(LinkTypes.Raw, Ip4(tcp), ref p) == DecodeStatus.Malformed, label);
        Assert.Equal(1, h.Counters.Malformed(reason));
        Assert.Equal(4, p.IpVersion); // the network layer was fine
    }

    [Fact]
    public void Decode_OptionsCutBySnapLength_IsTruncatedHeader()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        // IP total length 60 (40-byte TCP header) but only 28 bytes of TCP were captured.
        const string hex = "4500 003c 1234 4000 40 06 0000 c0000201 c6336402 " +
                           "c000 0019 01020304 00000000 a0 02 faf0 0000 0000 020405b4 0402 080a";
        Assert.Equal(DecodeStatus.Malformed, h.Decode(LinkTypes.Raw, hex, ref p, wireLength: 60));
        Assert.Equal(1, h.Counters.Malformed(MalformedReason.TruncatedTcpHeader));
    }
}
