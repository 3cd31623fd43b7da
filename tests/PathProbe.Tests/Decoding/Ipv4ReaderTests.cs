using PathProbe.Capture;
using PathProbe.Decoding;

namespace PathProbe.Tests.Decoding;

public class Ipv4ReaderTests
{
    [Fact]
    public void Decode_PlainHeader_FillsNetworkFields()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, Vectors.Ip4Udp, ref p));
        Assert.Equal(4, p.IpVersion);
        Assert.Equal(IpProtocols.Udp, p.Protocol);
        Assert.Equal(32, p.IpPacketLength);
        Assert.Equal(20, p.IpHeaderLength);
        Assert.Equal(64, p.Ttl);
        Assert.Equal(0x1234u, p.IpId);
        Assert.True(p.DontFragment);
        Assert.False(p.MoreFragments);
        Assert.False(p.IsFragment);
        Assert.False(p.IpChecksumBad);
        Assert.Equal(0, h.Counters.Ipv4ChecksumErrors);
    }

    [Fact]
    public void Decode_RecordRouteOption_SkipsOptionsToUdp()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        // IHL 7: NOP, Record Route (type 7, length 7, pointer 4, one empty slot).
        const string hex = "4700 0028 1234 4000 40 11 324f c0000201 c6336402 01 07 07 04 00000000 " +
                           "14e9 0035 000c 0000 61626364";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, hex, ref p));
        Assert.Equal(28, p.IpHeaderLength);
        Assert.Equal(40, p.IpPacketLength);
        Assert.False(p.IpChecksumBad);
        Assert.Equal(53, p.DstPort);
        Assert.Equal("abcd"u8.ToArray(), p.Payload.ToArray());
        Assert.Equal(0, h.Counters.MalformedTotal);
    }

    [Fact]
    public void Decode_OptionLengthPastHeader_CountsBadOptionsButDecodes()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        // Record Route claims 12 bytes in a 7-byte option area: the IHL still says where UDP starts.
        const string hex = "4700 0028 1234 4000 40 11 2d4f c0000201 c6336402 01 07 0c 04 00000000 " +
                           "14e9 0035 000c 0000 61626364";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, hex, ref p));
        Assert.Equal(1, h.Counters.Malformed(MalformedReason.BadIpv4Options));
        Assert.Equal(53, p.DstPort);
    }

    [Fact]
    public void Decode_BadHeaderChecksum_FlagsAndStillDecodes()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        const string hex = "4500 0020 1234 4000 40 11 3d63 c0000201 c6336402 14e9 0035 000c 0000 61626364";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, hex, ref p));
        Assert.True(p.IpChecksumBad);
        Assert.Equal(1, h.Counters.Ipv4ChecksumErrors);
        Assert.Equal(0, h.Counters.MalformedTotal);
        Assert.Equal(5353, p.SrcPort);
    }

    [Theory]
    // label, flags/fragment-offset word, DF, MF, offset in bytes
    [InlineData("DF", "4000", true, false, 0)]
    [InlineData("none", "0000", false, false, 0)]
    [InlineData("MF, first fragment", "2000", false, true, 0)]
    [InlineData("offset 185 units = 1480 bytes, last", "00b9", false, false, 1480)]
    [InlineData("MF and offset 8191 units", "3fff", false, true, 65528)]
    [InlineData("reserved (evil) bit ignored", "c000", true, false, 0)]
    public void ReadHeader_FlagsWord_SplitsDfMfOffset(string label, string flags, bool df, bool mf, int offset)
    {
        byte[] header = DecoderHarness.Hex("4500 0020 1234 " + flags + " 40 11 0000 c0000201 c6336402");
        var ip = new Ipv4Reader();
        Assert.Equal(MalformedReason.None, ip.ReadHeader(header));
        Assert.True(df == ip.DontFragment, label);
        Assert.Equal(mf, ip.MoreFragments);
        Assert.Equal(offset, ip.FragmentOffset);
        Assert.Equal(mf || offset != 0, ip.IsFragment);
    }

    [Theory]
    [InlineData("header cut at 6 bytes", "4500 0020 1234", MalformedReason.TruncatedIpv4Header)]
    [InlineData("IHL 4", "4400 0020 1234 4000 40 11 0000 c0000201 c6336402 00000000", MalformedReason.BadIpv4HeaderLength)]
    [InlineData("IHL 0", "4000 0020 1234 4000 40 11 0000 c0000201 c6336402 00000000", MalformedReason.BadIpv4HeaderLength)]
    [InlineData("IHL 15 with 24 bytes", "4f00 0020 1234 4000 40 11 0000 c0000201 c6336402 00000000", MalformedReason.TruncatedIpv4Header)]
    [InlineData("total length 16 < IHL*4", "4500 0010 1234 4000 40 11 0000 c0000201 c6336402 00000000", MalformedReason.BadIpv4TotalLength)]
    [InlineData("total length 24 < IHL*4 28", "4700 0018 1234 4000 40 11 0000 c0000201 c6336402 01010101 00000000", MalformedReason.BadIpv4TotalLength)]
    public void Decode_BrokenHeader_CountsMalformed(string label, string hex, MalformedReason reason)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.True(h.Decode(LinkTypes.Ipv4, hex, ref p) == DecodeStatus.Malformed, label);
        Assert.Equal(1, h.Counters.Malformed(reason));
        Assert.Equal(0, h.Counters.IpPackets);
    }

    [Fact]
    public void Decode_EtherTypeIpv4WithVersion6_IsBadVersion()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.Malformed, h.Decode(LinkTypes.Ethernet, Vectors.EthDstSrc + "0800" + Vectors.Ip6Udp, ref p));
        Assert.Equal(1, h.Counters.Malformed(MalformedReason.BadIpv4Version));
    }

    [Fact]
    public void Decode_EthernetPadding_IsNotPayload()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        // 14 + 32 = 46 bytes, padded to the 60-byte Ethernet minimum with 14 bytes that are not UDP data.
        string hex = Vectors.EthDstSrc + "0800" + Vectors.Ip4Udp + "ffffffffffffffffffffffffffff";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ethernet, hex, ref p));
        Assert.Equal(60, p.CapturedLength);
        Assert.Equal(32, p.IpPacketLength);
        Assert.Equal(12, p.UdpLength);
        Assert.Equal("abcd"u8.ToArray(), p.Payload.ToArray());
        Assert.Equal(4, p.PayloadWireLength);
    }

    [Fact]
    public void Decode_SnapLengthCut_UsesHeaderLengthsAndCapturedBytes()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        // Total length 1500 (0x05dc), TCP header complete, payload cut after 2 bytes by the snap length.
        const string hex = "4500 05dc 1234 4000 40 06 36b1 c0000201 c6336402 " +
                           "c000 0019 01020304 00000000 50 18 faf0 0000 0000 4548";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, hex, ref p, wireLength: 1500));
        Assert.Equal(1500, p.IpPacketLength);
        Assert.Equal(1460, p.PayloadWireLength);
        Assert.Equal(2, p.Payload.Length);
        Assert.False(p.IpChecksumBad);
        Assert.Equal(1, h.Counters.SnapTruncated);
    }

    [Fact]
    public void Decode_TotalLengthZero_TakesLengthFromFrameAsTso()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        // Linux shows TSO super-frames captured on the sender with total length 0.
        const string hex = "4500 0000 1234 4000 40 06 3c8d c0000201 c6336402 " +
                           "c000 0019 01020304 00000000 50 18 faf0 0000 0000 45484c4f";
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, hex, ref p, wireLength: 9000));
        Assert.Equal(9000, p.IpPacketLength);
        Assert.Equal(9000 - 40, p.PayloadWireLength);
        Assert.Equal(4, p.Payload.Length);
    }

    [Theory]
    [InlineData("MF with 12 data bytes (not a multiple of 8)", "4500 0020 1234 2000 40 11 0000 c0000201 c6336402 14e9 0035 000c 0000 61626364")]
    [InlineData("offset 65528 + 12 bytes > 65535", "4500 0020 1234 1fff 40 11 0000 c0000201 c6336402 14e9 0035 000c 0000 61626364")]
    public void Decode_ImpossibleFragment_IsBadFragmentWithoutReassembly(string label, string hex)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.True(h.Decode(LinkTypes.Raw, hex, ref p) == DecodeStatus.Malformed, label);
        Assert.Equal(1, h.Counters.Malformed(MalformedReason.BadFragment));
        Assert.True(p.IsFragment);
        Assert.Equal(4, p.IpVersion); // network fields stay filled for fragment statistics
    }
}
