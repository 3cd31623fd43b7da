using PathProbe.Capture;
using PathProbe.Decoding;

namespace PathProbe.Tests.Decoding;

/// <summary>
/// Decapsulation, one labelled hex vector per encapsulation. Each vector was built from the RFC field layouts with
/// valid IPv4 header checksums and cross-checked with tshark 4.0 (text2pcap, frame.protocols): every one decodes there
/// to the same inner packet, except the Ethernet pseudowire without control word, where tshark's heuristic (which
/// looks MAC OUIs up) guesses a control word and PathProbe's EtherType check does not. Outer addresses are 203.0.113.1
/// → 203.0.113.2 (IPv4) and 2001:db8:ffff::1 → ::2 (IPv6); the inner packet is <see cref="Vectors.Ip4TcpSyn"/> or
/// <see cref="Vectors.Ip6Udp"/>.
/// </summary>
public class TunnelDecodeTests
{
    /// <summary>label, headers in front of the inner packet (hex), inner packet, layers, header bytes, MTU overhead,
    /// tunnel id (-1: none), outer IP version (0: no IP tunnel).</summary>
    public static IEnumerable<object[]> Encapsulated =>
    [
        ["GreIpv4", Vectors.EthDstSrc + "0800 4500 0040 4242 4000 402f 8048 cb007101 cb007102 0000 0800", Vectors.Ip4TcpSyn, "ipv4/gre", 24, 24, -1, 4],
        ["GreKeyed", Vectors.EthDstSrc + "0800 4500 0044 4242 4000 402f 8044 cb007101 cb007102 2000 0800 0000002a", Vectors.Ip4TcpSyn, "ipv4/gre", 28, 28, 42, 4],
        ["GreKeyedSequenced", Vectors.EthDstSrc + "0800 4500 0048 4242 4000 402f 8040 cb007101 cb007102 3000 0800 0000002a 00000007", Vectors.Ip4TcpSyn, "ipv4/gre", 32, 32, 42, 4],
        ["GreChecksumKeyedSequenced", Vectors.EthDstSrc + "0800 4500 004c 4242 4000 402f 803c cb007101 cb007102 b000 0800 38bb 0000 0000002a 00000007", Vectors.Ip4TcpSyn, "ipv4/gre", 36, 36, 42, 4],
        ["GreIpv6Inner", Vectors.EthDstSrc + "0800 4500 004c 4242 4000 402f 803c cb007101 cb007102 0000 86dd", Vectors.Ip6Udp, "ipv4/gre", 24, 24, -1, 4],
        ["GreOverIpv6", Vectors.EthDstSrc + "86dd 6000 0000 002c 2f 40 20010db8ffff00000000000000000001 20010db8ffff00000000000000000002 0000 0800", Vectors.Ip4TcpSyn, "ipv6/gre", 44, 44, -1, 6],
        ["GreEthernet", Vectors.EthDstSrc + "0800 4500 0052 4242 4000 402f 8036 cb007101 cb007102 0000 6558 00005e005303 00005e005304 8100 0064 0800", Vectors.Ip4TcpSyn, "ipv4/gre/eth/vlan", 42, 42, -1, 4],
        ["GrePptpPpp", Vectors.EthDstSrc + "0800 4500 004c 4242 4000 402f 803c cb007101 cb007102 3001 880b 002c 0007 00000001 ff03 0021", Vectors.Ip4TcpSyn, "ipv4/gre/ppp", 36, 36, 7, 4],
        ["GreMpls", Vectors.EthDstSrc + "0800 4500 0044 4242 4000 402f 8044 cb007101 cb007102 0000 8847 003e8140", Vectors.Ip4TcpSyn, "ipv4/gre/mpls", 28, 28, -1, 4],
        ["IpInIp", Vectors.EthDstSrc + "0800 4500 003c 4242 4000 4004 8077 cb007101 cb007102", Vectors.Ip4TcpSyn, "ipv4", 20, 20, -1, 4],
        ["Ipv6InIpv4", Vectors.EthDstSrc + "0800 4500 0048 4242 4000 4029 8046 cb007101 cb007102", Vectors.Ip6Udp, "ipv4", 20, 20, -1, 4],
        ["Ipv4InIpv6", Vectors.EthDstSrc + "86dd 6000 0000 0028 04 40 20010db8ffff00000000000000000001 20010db8ffff00000000000000000002", Vectors.Ip4TcpSyn, "ipv6", 40, 40, -1, 6],
        ["Ipv6InIpv6", Vectors.EthDstSrc + "86dd 6000 0000 0034 29 40 20010db8ffff00000000000000000001 20010db8ffff00000000000000000002", Vectors.Ip6Udp, "ipv6", 40, 40, -1, 6],
        ["Ipv6InIpv6EncapLimit", Vectors.EthDstSrc + "86dd 6000 0000 003c 3c 40 20010db8ffff00000000000000000001 20010db8ffff00000000000000000002 29 00 04 01 04 01 01 00", Vectors.Ip6Udp, "ipv6", 48, 48, -1, 6],
        ["Vxlan", Vectors.EthDstSrc + "0800 4500 005a 4242 4000 4011 804c cb007101 cb007102 c350 12b5 0046 0000 08000000 00002a00 00005e005303 00005e005304 0800", Vectors.Ip4TcpSyn, "ipv4/vxlan/eth", 50, 50, 42, 4],
        ["VxlanLinuxPort", Vectors.EthDstSrc + "0800 4500 005a 4242 4000 4011 804c cb007101 cb007102 c350 2118 0046 0000 08000000 00002a00 00005e005303 00005e005304 0800", Vectors.Ip4TcpSyn, "ipv4/vxlan/eth", 50, 50, 42, 4],
        ["Geneve", Vectors.EthDstSrc + "0800 4500 005e 4242 4000 4011 8048 cb007101 cb007102 c350 17c1 004a 0000 0140 6558 00002a00 01020300 00005e005303 00005e005304 0800", Vectors.Ip4TcpSyn, "ipv4/geneve/eth", 54, 54, 42, 4],
        ["MplsInUdp", Vectors.EthDstSrc + "0800 4500 0048 4242 4000 4011 805e cb007101 cb007102 c350 19eb 0034 0000 003e8140", Vectors.Ip4TcpSyn, "ipv4/udp/mpls", 32, 32, -1, 4],
        ["GreInUdp", Vectors.EthDstSrc + "0800 4500 0048 4242 4000 4011 805e cb007101 cb007102 c350 1292 0034 0000 0000 0800", Vectors.Ip4TcpSyn, "ipv4/udp/gre", 32, 32, -1, 4],
        ["Mpls", Vectors.EthDstSrc + "8847 003e8140", Vectors.Ip4TcpSyn, "mpls", 4, 4, -1, 0],
        ["MplsTwoLabelsIpv6", Vectors.EthDstSrc + "8847 00064040 003e8140", Vectors.Ip6Udp, "mpls×2", 8, 8, -1, 0],
        ["MplsExplicitNull", Vectors.EthDstSrc + "8847 00000140", Vectors.Ip4TcpSyn, "mpls", 4, 4, -1, 0],
        ["MplsControlWordEthernet", Vectors.EthDstSrc + "8847 003e8140 00000000 00005e005303 00005e005304 0800", Vectors.Ip4TcpSyn, "mpls/pw/eth", 22, 22, -1, 0],
        ["MplsEthernetNoControlWord", Vectors.EthDstSrc + "8847 003e8140 02005e005303 02005e005304 0800", Vectors.Ip4TcpSyn, "mpls/eth", 18, 18, -1, 0],
        ["Pppoe", Vectors.EthDstSrc + "8864 1100 1234 002a 0021", Vectors.Ip4TcpSyn, "pppoe", 8, 8, -1, 0],
        ["PppoeIpv6", Vectors.EthDstSrc + "8864 1100 1234 0036 0057", Vectors.Ip6Udp, "pppoe", 8, 8, -1, 0],
        ["QinQPppoe", Vectors.EthDstSrc + "88a8 00c8 8100 0064 8864 1100 1234 002a 0021", Vectors.Ip4TcpSyn, "qinq/vlan/pppoe", 16, 8, -1, 0],
        ["VlanMpls", Vectors.EthDstSrc + "8100 0064 8847 003e8140", Vectors.Ip4TcpSyn, "vlan/mpls", 8, 4, -1, 0],
        ["ErspanII", Vectors.EthDstSrc + "0800 4500 005a 4242 4000 402f 802e cb007101 cb007102 1000 88be 00000005 100a0001 00000000 00005e005303 00005e005304 0800", Vectors.Ip4TcpSyn, "ipv4/gre/erspan/eth", 50, 0, -1, 4],
        ["ErspanIII", Vectors.EthDstSrc + "0800 4500 005e 4242 4000 402f 802a cb007101 cb007102 1000 22eb 00000005 2001 0000 00000000 00000000 00005e005303 00005e005304 0800", Vectors.Ip4TcpSyn, "ipv4/gre/erspan/eth", 54, 0, -1, 4],
        ["CiscoMetadata", Vectors.EthDstSrc + "8909 0101 0001 0064 0800", Vectors.Ip4TcpSyn, "cmd", 8, 0, -1, 0],
        ["GreCiscoMetadata", Vectors.EthDstSrc + "0800 4500 004c 4242 4000 402f 803c cb007101 cb007102 2000 8909 00000028 0800 0101 0001 0064", Vectors.Ip4TcpSyn, "ipv4/gre/cmd", 36, 36, 40, 4],
        ["GreWccp", Vectors.EthDstSrc + "0800 4500 0044 4242 4000 402f 8044 cb007101 cb007102 0000 883e 00000000", Vectors.Ip4TcpSyn, "ipv4/gre/wccp", 28, 28, -1, 4],
    ];

    [Theory]
    [MemberData(nameof(Encapsulated))]
    public void Decode_Encapsulated_FindsInnerPacketAndLayers(string label, string headers, string inner, string layers,
        int headerBytes, int mtuOverhead, long tunnelId, int outerIpVersion)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        DecodeStatus status = h.Decode(LinkTypes.Ethernet, headers + inner, ref p);

        Assert.True(status == DecodeStatus.Ok, $"{label}: {status}");
        AssertInner(inner, ref p);
        Assert.Equal(layers, p.Encap.ToString());
        Assert.Equal(headerBytes, p.Encap.HeaderBytes);
        Assert.Equal(mtuOverhead, p.Encap.MtuOverhead);
        Assert.Equal(tunnelId >= 0, p.Encap.HasTunnelId);
        if (tunnelId >= 0) Assert.Equal((uint)tunnelId, p.Encap.TunnelId);
        Assert.Equal(outerIpVersion, p.Encap.OuterIpVersion);
        Assert.True(p.Encap.IsTunnelled || layers == "cmd");
        int innerLength = DecoderHarness.Hex(inner).Length;
        if (outerIpVersion == 4)
        {
            Assert.Equal(DecoderHarness.Ip("203.0.113.1"), p.Encap.OuterSrc);
            Assert.Equal(DecoderHarness.Ip("203.0.113.2"), p.Encap.OuterDst);
        }
        else if (outerIpVersion == 6)
        {
            Assert.Equal(DecoderHarness.Ip("2001:db8:ffff::1"), p.Encap.OuterSrc);
            Assert.Equal(DecoderHarness.Ip("2001:db8:ffff::2"), p.Encap.OuterDst);
        }
        if (outerIpVersion != 0 && !label.StartsWith("Erspan", StringComparison.Ordinal))
        {
            // The outer packet is everything after the Ethernet header; the overhead lies between its start and the inner packet.
            Assert.Equal(innerLength + mtuOverhead, p.Encap.OuterIpPacketLength);
            Assert.Equal(p.Encap.OuterIpPacketLength, p.Encap.OuterIpWireLength);
        }
        Assert.Equal(innerLength, p.IpPacketLength);
        Assert.Equal(1, h.Counters.IpPackets); // one frame, one IP packet counted, however deep
        Assert.Equal(1, h.Counters.Decapsulated);
        Assert.Equal(0, h.Counters.MalformedTotal);
        Assert.Equal(0, h.Counters.Ipv4ChecksumErrors);
    }

    /// <summary>The words the MTU advice uses for an encapsulation ("this link is PPPoE", "a GRE over IPv4 tunnel"):
    /// tags on the capture link left out, headers that belong to a named tunnel folded into it.</summary>
    [Theory]
    [InlineData("GreIpv4", "GRE over IPv4")]
    [InlineData("GreOverIpv6", "GRE over IPv6")]
    [InlineData("GreEthernet", "GRE over IPv4")]
    [InlineData("GreMpls", "GRE over IPv4 + MPLS (1 label)")]
    [InlineData("IpInIp", "IPv4 in IPv4")]
    [InlineData("Ipv6InIpv4", "IPv6 in IPv4")]
    [InlineData("Ipv4InIpv6", "IPv4 in IPv6")]
    [InlineData("Vxlan", "VXLAN over IPv4")]
    [InlineData("Geneve", "Geneve over IPv4")]
    [InlineData("MplsInUdp", "MPLS over IPv4")]
    [InlineData("GreInUdp", "GRE over IPv4")]
    [InlineData("Mpls", "MPLS (1 label)")]
    [InlineData("MplsTwoLabelsIpv6", "MPLS (2 labels)")]
    [InlineData("Pppoe", "PPPoE")]
    [InlineData("QinQPppoe", "PPPoE")]
    [InlineData("VlanMpls", "MPLS (1 label)")]
    [InlineData("ErspanII", "ERSPAN copy")]
    public void Describe_Encapsulated_NamesItForTheAdvice(string label, string words)
    {
        object[] row = Encapsulated.Single(r => (string)r[0] == label);
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ethernet, (string)row[1] + (string)row[2], ref p));
        Assert.Equal(words, p.Encap.Describe(analysedIsV6: p.IpVersion == 6));
    }

    [Fact]
    public void Describe_OnlyVlanTags_IsEmpty()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ethernet, Vectors.EthDstSrc + "88a8 00c8 8100 0064 0800" + Vectors.Ip4TcpSyn, ref p));
        Assert.Equal("qinq/vlan", p.Encap.ToString());
        Assert.Equal(0, p.Encap.MtuOverhead);
        Assert.Equal("", p.Encap.Describe());
    }

    internal static void AssertInner(string inner, ref DecodedPacket p)
    {
        if (inner == Vectors.Ip4TcpSyn)
        {
            Assert.Equal(4, p.IpVersion);
            Assert.Equal(DecoderHarness.Ip("192.0.2.1"), p.Src);
            Assert.Equal(DecoderHarness.Ip("198.51.100.2"), p.Dst);
            Assert.True(p.IsTcp);
            Assert.Equal(49152, p.SrcPort);
            Assert.Equal(25, p.DstPort);
            Assert.Equal(TcpFlags.Syn, p.TcpFlags);
            Assert.Equal(0x01020304u, p.Seq);
            Assert.Equal(0, p.UdpLength); // nothing of an outer UDP header leaks into the inner packet
        }
        else
        {
            Assert.Equal(6, p.IpVersion);
            Assert.Equal(DecoderHarness.Ip("2001:db8::1"), p.Src);
            Assert.Equal(DecoderHarness.Ip("2001:db8::2"), p.Dst);
            Assert.True(p.IsUdp);
            Assert.Equal(5353, p.SrcPort);
            Assert.Equal(53, p.DstPort);
            Assert.Equal(12, p.UdpLength);
            Assert.Equal("abcd"u8.ToArray(), p.Payload.ToArray());
        }
        Assert.False(p.Reassembled);
        Assert.False(p.IsFragment);
    }
}
