using PathProbe.Capture;
using PathProbe.Decoding;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Tests.Support;
using static PathProbe.Tests.Support.PacketBuilder;

namespace PathProbe.Tests.Decoding;

/// <summary>Tunnels whose inside PathProbe does not decode, malformed and truncated encapsulation headers (each counted
/// under its name, never a crash), the nesting limit, other link types, IP fragments inside and outside tunnels, and
/// ICMP errors that quote a tunnel packet.</summary>
public class TunnelEdgeCaseTests
{
    /// <summary>label, frame (Ethernet), status, the counter that must read 1: a malformed or undecoded reason name, or
    /// "ppp_control" / "pppoe_discovery" (empty: only NotIp).</summary>
    public static TheoryData<string, string, DecodeStatus, string> Vectors2 => new()
    {
        { "GreOtherProtocol", Vectors.EthDstSrc + "0800 4500 001c 4242 4000 402f 806c cb007101 cb007102 0000 2000 01020304", DecodeStatus.Undecoded, "gre_protocol" },
        { "GreRouting", Vectors.EthDstSrc + "0800 4500 0044 4242 4000 402f 8044 cb007101 cb007102 4000 0800 0000 0000 450000281234400040063c65c0000201c6336402c000001901020304000000005002faf000000000", DecodeStatus.Undecoded, "gre_routing" },
        { "GreKeepalive", Vectors.EthDstSrc + "0800 4500 0018 4242 4000 402f 8070 cb007101 cb007102 0000 0000", DecodeStatus.NotIp, "" },
        { "PptpAckOnly", Vectors.EthDstSrc + "0800 4500 0020 4242 4000 402f 8068 cb007101 cb007102 2081 880b 0000 0007 00000001", DecodeStatus.NotIp, "" },
        { "PptpLcp", Vectors.EthDstSrc + "0800 4500 0028 4242 4000 402f 8060 cb007101 cb007102 3001 880b 0008 0007 00000001 ff03 c021 01010004", DecodeStatus.NotIp, "ppp_control" },
        { "PptpMppe", Vectors.EthDstSrc + "0800 4500 0028 4242 4000 402f 8060 cb007101 cb007102 3001 880b 0008 0007 00000001 ff03 00fd 90001234", DecodeStatus.Undecoded, "ppp_compressed" },
        { "Esp", Vectors.EthDstSrc + "0800 4500 0024 4242 4000 4032 8061 cb007101 cb007102 00000101 00000001 0102030405060708", DecodeStatus.Undecoded, "esp" },
        { "L2tpV3", Vectors.EthDstSrc + "0800 4500 0020 4242 4000 4073 8024 cb007101 cb007102 00000101 0102030405060708", DecodeStatus.Undecoded, "l2tpv3" },
        { "ErspanUnknownVersion", Vectors.EthDstSrc + "0800 4500 0024 4242 4000 402f 8064 cb007101 cb007102 1000 88be 00000001 3000 0000 00000000", DecodeStatus.Undecoded, "erspan" },
        { "VxlanArp", Vectors.EthDstSrc + "0800 4500 003a 4242 4000 4011 806c cb007101 cb007102 c350 12b5 0026 0000 08000000 00002a00 ffffffffffff 00005e005303 0806 0001 0800 0604 0001", DecodeStatus.NotIp, "" },
        { "GeneveOtherProtocol", Vectors.EthDstSrc + "0800 4500 0024 4242 4000 4011 8082 cb007101 cb007102 c350 17c1 0010 0000 0000 88cc 00002a00", DecodeStatus.Undecoded, "geneve_protocol" },
        { "GreBadVersion", Vectors.EthDstSrc + "0800 4500 0040 4242 4000 402f 8048 cb007101 cb007102 0002 0800 450000281234400040063c65c0000201c6336402c000001901020304000000005002faf000000000", DecodeStatus.Malformed, "bad_gre_version" },
        { "GreTruncated", Vectors.EthDstSrc + "0800 4500 0017 4242 4000 402f 8071 cb007101 cb007102 2000 08", DecodeStatus.Malformed, "truncated_gre_header" },
        { "GreKeyTruncated", Vectors.EthDstSrc + "0800 4500 001a 4242 4000 402f 806e cb007101 cb007102 2000 0800 0000", DecodeStatus.Malformed, "truncated_gre_header" },
        { "GreInnerTruncated", Vectors.EthDstSrc + "0800 4500 001b 4242 4000 402f 806d cb007101 cb007102 0000 0800 4500 00", DecodeStatus.Malformed, "truncated_ipv4_header" },
        { "VxlanTruncated", Vectors.EthDstSrc + "0800 4500 0020 4242 4000 4011 8086 cb007101 cb007102 c350 12b5 000c 0000 08000000", DecodeStatus.Malformed, "truncated_vxlan_header" },
        { "VxlanInnerEthernetTruncated", Vectors.EthDstSrc + "0800 4500 0028 4242 4000 4011 807e cb007101 cb007102 c350 12b5 0014 0000 08000000 00002a00 ffffffff", DecodeStatus.Malformed, "truncated_link_header" },
        { "GeneveOptionsTruncated", Vectors.EthDstSrc + "0800 4500 0024 4242 4000 4011 8082 cb007101 cb007102 c350 17c1 0010 0000 0400 6558 00002a00", DecodeStatus.Malformed, "truncated_geneve_header" },
        { "ErspanIIITruncated", Vectors.EthDstSrc + "0800 4500 0020 4242 4000 402f 8068 cb007101 cb007102 1000 22eb 00000001 2001 0000", DecodeStatus.Malformed, "truncated_erspan_header" },
        { "PptpPppTruncated", Vectors.EthDstSrc + "0800 4500 0022 4242 4000 402f 8066 cb007101 cb007102 3001 880b 0002 0007 00000001 ff03", DecodeStatus.Malformed, "truncated_ppp_header" },
        { "PppoeDiscoveryPadi", Vectors.EthDstSrc + "8863 1109 0000 0004 0101 0000", DecodeStatus.NotIp, "pppoe_discovery" },
        { "PppoeLcp", Vectors.EthDstSrc + "8864 1100 1234 0006 c021 0101 0004", DecodeStatus.NotIp, "ppp_control" },
        { "PppoeCompressed", Vectors.EthDstSrc + "8864 1100 1234 0006 00fd 9000 1234", DecodeStatus.Undecoded, "ppp_compressed" },
        { "PppoeIpx", Vectors.EthDstSrc + "8864 1100 1234 0004 002b ffff", DecodeStatus.Undecoded, "ppp_protocol" },
        { "PppoeTruncated", Vectors.EthDstSrc + "8864 1100 12", DecodeStatus.Malformed, "truncated_pppoe_header" },
        { "PppoeLengthBeyondFrame", Vectors.EthDstSrc + "8864 1100 1234 0400 0021" + Vectors.Ip4TcpSyn, DecodeStatus.Malformed, "bad_pppoe_length" },
        { "PppoeLengthZero", Vectors.EthDstSrc + "8864 1100 1234 0000 0021" + Vectors.Ip4TcpSyn, DecodeStatus.Malformed, "bad_pppoe_length" },
        { "MacSec", Vectors.EthDstSrc + "88e5 2c00 00000001 0102030405060708", DecodeStatus.Undecoded, "macsec" },
        { "MplsAssociatedChannel", Vectors.EthDstSrc + "8847 003e8140 10000007 0102030405060708", DecodeStatus.Undecoded, "mpls_control_channel" },
        { "MplsGal", Vectors.EthDstSrc + "8847 003e8040 0000d140 10000007 01020304", DecodeStatus.Undecoded, "mpls_control_channel" },
        { "MplsUnknownPayload", Vectors.EthDstSrc + "8847 003e8140 90000000 01020304", DecodeStatus.Undecoded, "mpls_payload" },
        { "MplsNoBottomOfStack", Vectors.EthDstSrc + "8847 003e8040 003e9040", DecodeStatus.Malformed, "truncated_mpls_label" },
        { "MplsCutInLabel", Vectors.EthDstSrc + "8847 003e81", DecodeStatus.Malformed, "truncated_mpls_label" },
        { "CiscoMetadataTruncated", Vectors.EthDstSrc + "8909 0101", DecodeStatus.Malformed, "truncated_cisco_metadata" },
        { "QinQTruncatedTag", Vectors.EthDstSrc + "88a8 00c8 8100 00", DecodeStatus.Malformed, "truncated_vlan_tag" },
        { "VxlanLinuxPortNotVxlan", Vectors.EthDstSrc + "0800 4500 0024 4242 4000 4011 8082 cb007101 cb007102 c350 2118 0010 0000 0c000000 00002a00", DecodeStatus.Ok, "" },
    };

    [Theory]
    [MemberData(nameof(Vectors2))]
    public void Decode_EdgeCase_CountedUnderItsName(string label, string frame, DecodeStatus expected, string counter)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        DecodeStatus status = h.Decode(LinkTypes.Ethernet, frame, ref p);

        Assert.True(expected == status, $"{label}: {status}");
        var c = h.Counters;
        Assert.Equal(1, c.Frames);
        Assert.Equal(0, c.Ipv4ChecksumErrors);
        switch (expected)
        {
            case DecodeStatus.Malformed:
                Assert.Equal(1, c.MalformedTotal);
                Assert.Equal(counter, Assert.Single(c.MalformedByName()).Key);
                break;
            case DecodeStatus.Undecoded:
                Assert.Equal(1, c.UndecodedTotal);
                Assert.Equal(counter, Assert.Single(c.UndecodedByName()).Key);
                Assert.Equal(0, c.MalformedTotal);
                break;
            case DecodeStatus.NotIp:
                Assert.Equal(1, c.NotIp);
                Assert.Equal(counter == "ppp_control" ? 1 : 0, c.PppControl);
                Assert.Equal(counter == "pppoe_discovery" ? 1 : 0, c.PppoeDiscovery);
                Assert.Equal(0, c.MalformedTotal + c.UndecodedTotal);
                break;
            case DecodeStatus.Ok:
                // 8472 without a strictly valid VXLAN header is not VXLAN: a plain UDP packet of its own flow.
                Assert.True(p.IsUdp);
                Assert.Equal(8472, p.DstPort);
                Assert.True(p.Encap.IsEmpty);
                Assert.Equal(0, c.MalformedTotal + c.UndecodedTotal + c.Decapsulated);
                break;
        }
    }

    [Fact]
    public void Decode_GreProtocolNotDecoded_KeepsTheProtocolAsDetail()
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        h.Decode(LinkTypes.Ethernet, (string)Vectors2.First(r => (string)r[0] == "GreOtherProtocol")[1], ref p);
        var detail = Assert.Single(h.Counters.UndecodedDetails());
        Assert.Equal((UndecodedReason.GreProtocol, 0x2000, 1L), detail);
    }

    [Theory]
    // label, link type, frame, layers of the inner IPv4 TCP packet (empty: none)
    [InlineData("PPP with HDLC framing", LinkTypes.Ppp, "ff03 0021" + Vectors.Ip4TcpSyn, "")]
    [InlineData("PPP without framing", LinkTypes.Ppp, "0021" + Vectors.Ip4TcpSyn, "")]
    [InlineData("PPP compressed protocol field", LinkTypes.Ppp, "21" + Vectors.Ip4TcpSyn, "")]
    [InlineData("PPP carrying MPLS", LinkTypes.Ppp, "ff03 0281 003e8140" + Vectors.Ip4TcpSyn, "mpls")]
    [InlineData("PPP_HDLC", LinkTypes.PppHdlc, "ff03 0021" + Vectors.Ip4TcpSyn, "")]
    [InlineData("PPP_HDLC with Cisco framing", LinkTypes.PppHdlc, "0f00 0800" + Vectors.Ip4TcpSyn, "")]
    [InlineData("Cisco HDLC", LinkTypes.CiscoHdlc, "0f00 0800" + Vectors.Ip4TcpSyn, "")]
    [InlineData("Cisco HDLC with MPLS", LinkTypes.CiscoHdlc, "8f00 8847 003e8140" + Vectors.Ip4TcpSyn, "mpls")]
    [InlineData("PPP_ETHER (PPPoE without Ethernet)", LinkTypes.PppEther, "1100 1234 002a 0021" + Vectors.Ip4TcpSyn, "pppoe")]
    [InlineData("Linux SLL with MPLS", LinkTypes.LinuxSll, "0000 0001 0006 00005e0053020000 8847 003e8140" + Vectors.Ip4TcpSyn, "mpls")]
    [InlineData("Linux SLL2 with PPPoE", LinkTypes.LinuxSll2, "8864 0000 00000002 0001 00 06 00005e0053020000 1100 1234 002a 0021" + Vectors.Ip4TcpSyn, "pppoe")]
    public void Decode_OtherLinkTypes_FindInnerPacket(string label, int linkType, string frame, string layers)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.True(h.Decode(linkType, frame, ref p) == DecodeStatus.Ok, label);
        TunnelDecodeTests.AssertInner(Vectors.Ip4TcpSyn, ref p);
        Assert.Equal(layers, p.Encap.ToString());
    }

    [Theory]
    [InlineData(LinkTypes.Ppp, "ff03 c021 0101 0004", DecodeStatus.NotIp, "ppp_control")]
    [InlineData(LinkTypes.Ppp, "ff03 00fd 9000", DecodeStatus.Undecoded, "ppp_compressed")]
    [InlineData(LinkTypes.Ppp, "ff03 002b 0000", DecodeStatus.Undecoded, "ppp_protocol")]
    [InlineData(LinkTypes.Ppp, "ff03 00", DecodeStatus.Malformed, "truncated_ppp_header")]
    [InlineData(LinkTypes.Ppp, "", DecodeStatus.Malformed, "truncated_ppp_header")]
    [InlineData(LinkTypes.CiscoHdlc, "0f00 08", DecodeStatus.Malformed, "truncated_link_header")]
    [InlineData(LinkTypes.CiscoHdlc, "8f00 8035 0000", DecodeStatus.NotIp, "")] // SLARP
    public void Decode_PppLinkNotIp_CountedUnderItsName(int linkType, string frame, DecodeStatus expected, string counter)
    {
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(expected, h.Decode(linkType, frame, ref p));
        if (expected == DecodeStatus.Malformed) Assert.Equal(counter, Assert.Single(h.Counters.MalformedByName()).Key);
        if (expected == DecodeStatus.Undecoded) Assert.Equal(counter, Assert.Single(h.Counters.UndecodedByName()).Key);
        if (expected == DecodeStatus.NotIp) Assert.Equal(counter == "ppp_control" ? 1 : 0, h.Counters.PppControl);
    }

    /// <summary>Every encapsulated vector cut at every length, once as a snap-length cut (the wire length is the whole
    /// frame) and once as a frame that really is that short: never an exception, every frame counted under exactly one
    /// outcome, and whatever decodes keeps the packet invariants.</summary>
    [Fact]
    public void Decode_EveryVectorCutAtEveryLength_CountsAndNeverThrows()
    {
        var h = new DecoderHarness();
        int frames = 0, ok = 0;
        foreach (var row in TunnelDecodeTests.Encapsulated)
        {
            byte[] full = DecoderHarness.Hex((string)row[1] + (string)row[2]);
            for (int cut = 0; cut <= full.Length; cut++)
            {
                foreach (int wire in new[] { full.Length, cut })
                {
                    long malformed = h.Counters.MalformedTotal, undecoded = h.Counters.UndecodedTotal, notIp = h.Counters.NotIp;
                    var p = new DecodedPacket();
                    DecodeStatus status = h.Decode(LinkTypes.Ethernet, full.AsSpan(0, cut).ToArray(), ref p, wire);
                    frames++;
                    switch (status)
                    {
                        case DecodeStatus.Ok:
                            ok++;
                            Assert.InRange(p.Encap.Depth, 0, Encapsulation.MaxLayers);
                            Assert.True(p.IpHeaderLength <= p.IpPacketLength);
                            Assert.InRange(p.Payload.Length, 0, p.PayloadWireLength);
                            break;
                        case DecodeStatus.Malformed:
                            Assert.True(h.Counters.MalformedTotal > malformed, $"{row[0]} cut at {cut}: malformed but not counted");
                            break;
                        case DecodeStatus.Undecoded:
                            Assert.Equal(undecoded + 1, h.Counters.UndecodedTotal);
                            break;
                        case DecodeStatus.NotIp:
                            Assert.Equal(notIp + 1, h.Counters.NotIp);
                            break;
                    }
                    if (cut == full.Length) Assert.True(status == DecodeStatus.Ok, $"{row[0]} whole: {status}");
                }
            }
        }
        Assert.Equal(frames, h.Counters.Frames);
        Assert.True(ok > TunnelDecodeTests.Encapsulated.Count() * 2);
    }

    /// <summary>The encapsulation a packet reads lives in the decoder: every frame starts from nothing, whatever came before.</summary>
    [Fact]
    public void Decode_FramesInTurn_EachHasOnlyItsOwnLayers()
    {
        var h = new DecoderHarness();
        string gre = (string)TunnelDecodeTests.Encapsulated.First(r => (string)r[0] == "GreKeyed")[1] + Vectors.Ip4TcpSyn;
        string qinqPppoe = (string)TunnelDecodeTests.Encapsulated.First(r => (string)r[0] == "QinQPppoe")[1] + Vectors.Ip4TcpSyn;
        for (int i = 0; i < 3; i++)
        {
            var p = new DecodedPacket();
            Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ethernet, gre, ref p));
            Assert.Equal("ipv4/gre", p.Encap.ToString());
            Assert.Equal(42u, p.Encap.TunnelId);
            Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ethernet, Vectors.EthDstSrc + "0800" + Vectors.Ip4TcpSyn, ref p));
            Assert.True(p.Encap.IsEmpty);
            Assert.False(p.Encap.HasTunnelId);
            Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ethernet, qinqPppoe, ref p));
            Assert.Equal("qinq/vlan/pppoe", p.Encap.ToString());
            Assert.False(p.Encap.HasTunnelId);
            Assert.Equal(0, p.Encap.OuterIpVersion);
        }
    }

    [Theory]
    [InlineData(Encapsulation.MaxLayers, DecodeStatus.Ok)]
    [InlineData(Encapsulation.MaxLayers + 1, DecodeStatus.Undecoded)]
    [InlineData(200, DecodeStatus.Undecoded)]
    public void Decode_NestedIpInIp_BoundedByTheLayerLimit(int levels, DecodeStatus expected)
    {
        byte[] packet = DecoderHarness.Hex(Vectors.Ip4TcpSyn);
        for (int i = 0; i < levels; i++) packet = Ipv4(4, packet, "203.0.113.1", "203.0.113.2", totalLength: Math.Min(65535, 20 + packet.Length));
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(expected, h.Decode(LinkTypes.Ethernet, Ethernet(0x0800, packet), ref p));
        if (expected == DecodeStatus.Ok)
        {
            TunnelDecodeTests.AssertInner(Vectors.Ip4TcpSyn, ref p);
            Assert.Equal(levels, p.Encap.Depth);
            Assert.Equal(20 * levels, p.Encap.MtuOverhead);
        }
        else Assert.Equal(1, h.Counters.Undecoded(UndecodedReason.TooManyLayers));
    }

    [Theory]
    [InlineData(Encapsulation.MaxLayers - 2, DecodeStatus.Ok)] // two VLAN tags take two layers
    [InlineData(Encapsulation.MaxLayers - 1, DecodeStatus.Undecoded)]
    public void Decode_LongMplsStack_BoundedByTheLayerLimit(int labels, DecodeStatus expected)
    {
        var stack = Enumerable.Range(0, labels).Select(i => MplsLabel(1000 + (uint)i, i == labels - 1)).ToArray();
        byte[] frame = Concat(DecoderHarness.Hex(Vectors.EthDstSrc + "88a8 00c8 8100 0064 8847"), Concat(stack), DecoderHarness.Hex(Vectors.Ip4TcpSyn));
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(expected, h.Decode(LinkTypes.Ethernet, frame, ref p));
        if (expected == DecodeStatus.Ok) Assert.Equal(4 * labels, p.Encap.MtuOverhead);
    }

    // ---- IP fragments and tunnels -----------------------------------------------------------------------------------

    private static byte[] InnerTcp(int payloadBytes, string src = "192.0.2.1", string dst = "198.51.100.2") =>
        Ipv4(6, Tcp(49152, 25, 1000, 1, 0x18, Enumerable.Range(0, payloadBytes).Select(i => (byte)i).ToArray()), src, dst, id: 7);

    private static byte[] GreFrame(byte[] innerIp, ushort outerId = 0x99) =>
        Ethernet(0x0800, Ipv4(47, Gre(0x0800, innerIp), "203.0.113.1", "203.0.113.2", id: outerId, df: false));

    [Fact]
    public void Decode_FragmentedGrePacket_ReassembledThenDecapsulated()
    {
        byte[] inner = InnerTcp(1460); // a full-size 1500-byte packet
        byte[] outer = Ipv4(47, Gre(0x0800, inner), "203.0.113.1", "203.0.113.2", id: 0x99, df: false);
        Assert.Equal(1524, outer.Length);
        var fragments = FragmentIpv4(outer, 1480);
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.FragmentHeld, h.Decode(LinkTypes.Ethernet, Ethernet(0x0800, fragments[0]), ref p));
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ethernet, Ethernet(0x0800, fragments[1]), ref p));

        Assert.True(p.IsTcp);
        Assert.Equal(DecoderHarness.Ip("192.0.2.1"), p.Src);
        Assert.Equal(49152, p.SrcPort);
        Assert.Equal(1460, p.PayloadWireLength);
        Assert.Equal(Enumerable.Range(0, 1460).Select(i => (byte)i).ToArray(), p.Payload.ToArray());
        // Path-MTU evidence is the inner packet's; the tunnel packet's sizes are known beside it.
        Assert.Equal(1500, p.IpPacketLength);
        Assert.False(p.Reassembled);
        Assert.True(p.Encap.OuterReassembled);
        Assert.Equal(2, p.Encap.OuterFragmentCount);
        Assert.Equal(1524, p.Encap.OuterIpPacketLength);
        Assert.Equal(1500, p.Encap.OuterIpWireLength);
        Assert.Equal("ipv4/gre", p.Encap.ToString());
        Assert.Equal(24, p.Encap.MtuOverhead);
    }

    [Fact]
    public void Decode_FragmentsInsideGre_ReassembledAsTheInnerDatagram()
    {
        byte[] datagram = Ipv4(17, Udp(5353, 53, Enumerable.Range(0, 2000).Select(i => (byte)(i * 7)).ToArray()), "192.0.2.53", "198.51.100.2", id: 0x1111, df: false);
        var innerFragments = FragmentIpv4(datagram, 1480);
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.FragmentHeld, h.Decode(LinkTypes.Ethernet, GreFrame(innerFragments[0]), ref p));
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ethernet, GreFrame(innerFragments[1]), ref p));
        Assert.True(p.Reassembled);
        Assert.Equal(2, p.FragmentCount);
        Assert.Equal(53, p.DstPort);
        Assert.Equal(2000, p.Payload.Length);
        Assert.Equal(1500, p.LargestFragment);
        Assert.Equal("ipv4/gre", p.Encap.ToString());
    }

    /// <summary>Fragmented twice: the inner sender fragmented the datagram, and the tunnel's path fragmented the GRE
    /// packet carrying the first inner fragment. The inner fragment is read out of the reassembled tunnel packet's
    /// buffer, which must stay valid until it has been copied (IpReassembler keeps it one call longer). The pool
    /// scribbles over every array given back, as another thread renting it would, so a read after return shows.</summary>
    [Fact]
    public void Decode_FragmentsInsideFragmentedGre_BothReassembled()
    {
        byte[] body = Enumerable.Range(0, 2400).Select(i => (byte)(i * 13 + 1)).ToArray();
        byte[] datagram = Ipv4(17, Udp(5353, 53, body), "192.0.2.53", "198.51.100.2", id: 0x2222, df: false);
        var innerFragments = FragmentIpv4(datagram, 1480);
        var pool = new ScribblingPool();
        var reassembler = new PathProbe.Decoding.Reassembly.IpReassembler(new PathProbe.Decoding.Reassembly.ReassemblyOptions { Pool = pool });
        var counters = new DecodeCounters();
        var decoder = new FrameDecoder(reassembler, counters);
        DecodeStatus Decode(byte[] frame, ref DecodedPacket p)
        {
            var raw = new RawFrame(frame, frame.Length, DecoderHarness.Time, LinkTypes.Ethernet, 0);
            return decoder.Decode(in raw, ref p);
        }
        var p = new DecodedPacket();
        for (int round = 0; round < 3; round++)
        {
            byte[] outerFirst = Ipv4(47, Gre(0x0800, innerFragments[0]), "203.0.113.1", "203.0.113.2", id: (ushort)(0x300 + round), df: false);
            var outerFragments = FragmentIpv4(outerFirst, 1000);
            Assert.Equal(DecodeStatus.FragmentHeld, Decode(Ethernet(0x0800, outerFragments[0]), ref p));
            Assert.Equal(DecodeStatus.FragmentHeld, Decode(Ethernet(0x0800, outerFragments[1]), ref p));
            Assert.Equal(DecodeStatus.Ok, Decode(GreFrame(innerFragments[1], (ushort)(0x400 + round)), ref p));
            Assert.True(p.Reassembled);
            Assert.Equal(body, p.Payload.ToArray());
            Assert.Equal(DecoderHarness.Ip("192.0.2.53"), p.Src);
        }
        Assert.Equal(3 * 2, reassembler.Counters.Completed); // per round: the tunnel packet, then the inner datagram
        Assert.True(pool.Returned > 0);
    }

    /// <summary>An array pool that fills every returned array with 0xdd before reusing it.</summary>
    private sealed class ScribblingPool : System.Buffers.ArrayPool<byte>
    {
        private readonly List<byte[]> _free = new();
        public int Returned;
        public override byte[] Rent(int minimumLength)
        {
            int size = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, minimumLength));
            int i = _free.FindLastIndex(a => a.Length == size);
            if (i < 0) return new byte[size];
            byte[] reused = _free[i];
            _free.RemoveAt(i);
            return reused;
        }
        public override void Return(byte[] array, bool clearArray = false)
        {
            Returned++;
            array.AsSpan().Fill(0xdd);
            _free.Add(array);
        }
    }

    // ---- ICMP errors quoting a tunnel packet --------------------------------------------------------------------

    private static byte[] FragNeeded(byte[] quote, int mtu) =>
        Ethernet(0x0800, Ipv4(1, Concat([3, 4, 0, 0, 0, 0, (byte)(mtu >> 8), (byte)mtu], quote), "198.51.100.254", "203.0.113.1", df: false));

    [Fact]
    public void Decode_IcmpQuotingGrePacket_DescribesTheInnerPacket()
    {
        byte[] tunnelPacket = Ipv4(47, Gre(0x0800, InnerTcp(1460)), "203.0.113.1", "203.0.113.2");
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        // Linux quotes as much as fits in 576 bytes: here the outer and inner headers and the start of TCP.
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ethernet, FragNeeded(tunnelPacket.AsSpan(0, 20 + 4 + 20 + 8).ToArray(), 1400), ref p));

        Assert.True(p.Quoted.Present);
        Assert.Equal(DecoderHarness.Ip("192.0.2.1"), p.Quoted.Src);
        Assert.Equal(DecoderHarness.Ip("198.51.100.2"), p.Quoted.Dst);
        Assert.Equal(IpProtocols.Tcp, p.Quoted.Protocol);
        Assert.True(p.Quoted.HasPorts);
        Assert.Equal(49152, p.Quoted.SrcPort);
        Assert.Equal(25, p.Quoted.DstPort);
        Assert.True(p.Quoted.HasTcpSeq);
        Assert.Equal(1500, p.Quoted.IpPacketLength);
        Assert.Equal(24, p.Quoted.TunnelOverhead);
        Assert.Equal(1524, p.Quoted.OuterIpPacketLength);
        Assert.Equal(1400, p.IcmpMtuOnWire);
        Assert.Equal(1376, p.IcmpMtu); // what is left for the packet inside the tunnel
    }

    [Fact]
    public void Decode_IcmpQuotingOnlyTheTunnelHeader_DescribesTheOuterPacket()
    {
        byte[] tunnelPacket = Ipv4(47, Gre(0x0800, InnerTcp(1460)), "203.0.113.1", "203.0.113.2");
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        // RFC 792's minimum: the IP header and 8 bytes, which end inside the inner IP header.
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ethernet, FragNeeded(tunnelPacket.AsSpan(0, 28).ToArray(), 1400), ref p));
        Assert.True(p.Quoted.Present);
        Assert.Equal(IpProtocols.Gre, p.Quoted.Protocol);
        Assert.Equal(DecoderHarness.Ip("203.0.113.1"), p.Quoted.Src);
        Assert.Equal(0, p.Quoted.TunnelOverhead);
        Assert.Equal(1400, p.IcmpMtu);
    }

    [Fact]
    public void Decode_IcmpQuotingVxlanPacket_DescribesTheInnerPacket()
    {
        byte[] innerFrame = Ethernet(0x0800, InnerTcp(1400));
        byte[] tunnelPacket = Ipv4(17, Udp(40000, 4789, Vxlan(42, innerFrame)), "203.0.113.1", "203.0.113.2");
        var h = new DecoderHarness();
        var p = new DecodedPacket();
        Assert.Equal(DecodeStatus.Ok, h.Decode(LinkTypes.Ethernet, FragNeeded(tunnelPacket.AsSpan(0, 20 + 8 + 8 + 14 + 20 + 8).ToArray(), 1450), ref p));
        Assert.Equal(DecoderHarness.Ip("192.0.2.1"), p.Quoted.Src);
        Assert.Equal(25, p.Quoted.DstPort);
        Assert.Equal(50, p.Quoted.TunnelOverhead);
        Assert.Equal(1400, p.IcmpMtu);
    }

    /// <summary>End to end: the ICMP error a router on the tunnel's path sends to the tunnel endpoint is tied to the
    /// TCP flow inside the tunnel (the path-MTU detector maps it through the quoted inner header).</summary>
    [Fact]
    public void Engine_IcmpQuotingGrePacket_MapsToTheInnerFlow()
    {
        var engine = new Engine();
        long t = 1_700_000_000_000_000_000;
        void Feed(byte[] frame)
        {
            t += 1_000_000;
            engine.Process(new RawFrame(frame, frame.Length, new Timestamp(t), LinkTypes.Ethernet, 0));
        }
        byte[] Syn(bool fromClient, byte flags, uint seq, uint ack) => GreFrame(fromClient
            ? Ipv4(6, Tcp(49152, 25, seq, ack, flags, []), "192.0.2.1", "198.51.100.2")
            : Ipv4(6, Tcp(25, 49152, seq, ack, flags, []), "198.51.100.2", "192.0.2.1"));
        Feed(Syn(true, 0x02, 999, 0));
        Feed(Syn(false, 0x12, 5000, 1000));
        Feed(Syn(true, 0x10, 1000, 5001));
        byte[] big = Ipv4(6, Tcp(49152, 25, 1000, 5001, 0x18, new byte[1460]), "192.0.2.1", "198.51.100.2");
        Feed(GreFrame(big));
        byte[] tunnelPacket = Ipv4(47, Gre(0x0800, big), "203.0.113.1", "203.0.113.2");
        Feed(FragNeeded(tunnelPacket.AsSpan(0, 576 - 28).ToArray(), 1400));
        var analysis = engine.Complete(new InputSummary { Path = "test" });

        var tcpFlow = Assert.Single(analysis.Flows, f => f.Protocol == PathProbe.Flows.FlowProtocol.Tcp);
        Assert.Equal("ipv4/gre", tcpFlow.ClientToServer.Encap.ToString());
        Assert.Equal(1524, tcpFlow.ClientToServer.MaxOuterIpPacket);
        Assert.Equal(1500, tcpFlow.ClientToServer.MaxIpPacket);
        var tooBig = Assert.Single(analysis.Findings, f => f.Kind == PathProbe.Findings.FindingKind.IcmpTooBig);
        Assert.Equal([tcpFlow.Id], tooBig.Flows);
        Assert.Equal(1376, tooBig.Verdict<PathProbe.Findings.Kinds.IcmpTooBigVerdict>().Mtu);
    }
}
