using PathProbe.Capture;
using PathProbe.Decoding;

namespace PathProbe.Tests.Decoding;

/// <summary>
/// End-to-end fragment paths: the decoder hands fragments to <see cref="PathProbe.Decoding.Reassembly.IpReassembler"/>
/// and decodes the completed datagram's transport header.
/// </summary>
public class FragmentDecodeTests
{
    // UDP 5353 → 53, length 32, payload "ABCDEFGHIJKLMNOPQRSTUVWX", split after 16 bytes (offset 2 units).
    private const string V4First = "4500 0024 7777 2000 40 11 f71a c0000201 c6336402 14e9 0035 0020 0000 4142434445464748";
    private const string V4Last = "4500 0024 7777 0002 40 11 1719 c0000201 c6336402 494a4b4c4d4e4f505152535455565758";

    private const string Addrs = "20010db8000000000000000000000001 20010db8000000000000000000000002 ";
    private const string V6First = "6000 0000 0018 2c 40 " + Addrs + "11 00 0001 cafef00d 14e9 0035 0020 0000 4142434445464748";
    private const string V6Last = "6000 0000 0018 2c 40 " + Addrs + "11 00 0010 cafef00d 494a4b4c4d4e4f505152535455565758";

    [Fact]
    public void Decode_Ipv4FirstFragment_IsHeldWithNetworkFields()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.FragmentHeld, h.Decode(LinkTypes.Raw, V4First, ref p));
        Assert.Equal(4, p.IpVersion);
        Assert.Equal(IpProtocols.Udp, p.Protocol);
        Assert.Equal(36, p.IpPacketLength);
        Assert.Equal(0x7777u, p.IpId);
        Assert.True(p.MoreFragments);
        Assert.True(p.IsFragment);
        Assert.False(p.Reassembled);
        Assert.Equal(0, p.SrcPort); // transport fields stay empty until the datagram is complete
    }

    [Theory]
    [InlineData("in order", false)]
    [InlineData("last first", true)]
    public void Decode_Ipv4TwoFragments_ReassemblesUdp(string label, bool reversed)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.True(h.Decode(LinkTypes.Raw, reversed ? V4Last : V4First, ref p) == DecodeStatus.FragmentHeld, label);
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Raw, reversed ? V4First : V4Last, ref p));
        Assert.True(p.Reassembled);
        Assert.Equal(2, p.FragmentCount);
        Assert.Equal(20 + 32, p.IpPacketLength);
        Assert.Equal(20 + 16, p.LargestFragment); // both fragments carry 16 payload bytes
        Assert.Equal(5353, p.SrcPort);
        Assert.Equal(53, p.DstPort);
        Assert.Equal(32, p.UdpLength);
        Assert.Equal("ABCDEFGHIJKLMNOPQRSTUVWX"u8.ToArray(), p.Payload.ToArray());
    }

    [Fact]
    public void Decode_Ipv6TwoFragments_ReassemblesUdp()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.FragmentHeld, h.Decode(LinkTypes.Ipv6, V6First, ref p));
        Assert.Equal(0xcafef00du, p.IpId);
        Assert.Equal(IpProtocols.Udp, p.Protocol);
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ipv6, V6Last, ref p));
        Assert.True(p.Reassembled);
        Assert.Equal(2, p.FragmentCount);
        Assert.Equal(48 + 32, p.IpPacketLength);
        Assert.Equal(53, p.DstPort);
        Assert.Equal("ABCDEFGHIJKLMNOPQRSTUVWX"u8.ToArray(), p.Payload.ToArray());
    }

    [Fact]
    public void Decode_SnapCutFragment_IsHeldButNotStored()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        string cut = V4First.Substring(0, V4First.Length - 8); // 4 data bytes missing
        Assert.Equal(DecodeStatus.FragmentHeld, h.Decode(LinkTypes.Raw, cut, ref p, wireLength: 36));
        Assert.Equal(DecodeStatus.FragmentHeld, h.Decode(LinkTypes.Raw, V4Last, ref p));
        Assert.False(p.Reassembled);
    }
}
