using PathProbe.Capture;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Flows;
using PathProbe.Primitives;
using PathProbe.Tests.Decoding;
using static PathProbe.Tests.Support.PacketBuilder;

namespace PathProbe.Tests.Flows;

/// <summary>What a flow records of the encapsulation its packets came in, and that tunnelled traffic costs the flow
/// table no allocation per packet.</summary>
[Collection(PathProbe.Tests.Support.AllocationCollection.Name)]
public sealed class FlowEncapsulationTests
{
    private const string Client = "192.0.2.1", Server = "198.51.100.2";

    private static byte[] Segment(bool fromClient, byte flags, uint seq, int payload = 0) => fromClient
        ? Ipv4(6, Tcp(49152, 25, seq, 1, flags, new byte[payload]), Client, Server)
        : Ipv4(6, Tcp(25, 49152, seq, 1, flags, new byte[payload]), Server, Client);

    private static byte[] InGre(byte[] ip, string outerSrc = "203.0.113.1", string outerDst = "203.0.113.2") =>
        Ethernet(0x0800, Ipv4(47, Gre(0x0800, ip), outerSrc, outerDst));

    private static byte[] Plain(byte[] ip) => Ethernet(0x0800, ip);

    private sealed class Harness
    {
        private readonly FrameDecoder _decoder = new(new IpReassembler(), new DecodeCounters());
        public readonly FlowTable Table = new();
        private long _t = 1_700_000_000_000_000_000;

        public long NotOk;

        public Flow? Feed(byte[] frame)
        {
            var raw = new RawFrame(frame, frame.Length, new Timestamp(_t += 1_000_000), LinkTypes.Ethernet, 0);
            var p = new DecodedPacket();
            if (_decoder.Decode(in raw, ref p) != DecodeStatus.Ok) NotOk++; // no Assert here: xunit's comparers allocate
            return Table.Update(ref p, out _);
        }
    }

    private static void AllOk(Harness h) => Assert.Equal(0, h.NotOk);

    [Fact]
    public void Update_GreBothWays_RecordsLayersOverheadAndOuterSizes()
    {
        var h = new Harness();
        var f = h.Feed(InGre(Segment(true, 0x02, 100)))!;
        h.Feed(InGre(Segment(false, 0x12, 500), "203.0.113.2", "203.0.113.1"));
        h.Feed(InGre(Segment(true, 0x18, 101, 1460)));

        AllOk(h);
        Assert.Equal("ipv4/gre", f.ClientToServer.Encap.ToString());
        Assert.Equal(24, f.ClientToServer.Encap.MtuOverhead);
        Assert.Equal(1476, f.ClientToServer.Encap.InnerMtu());
        Assert.Equal(IpAddress.Parse("203.0.113.1"), f.ClientToServer.Encap.OuterSrc);
        Assert.Equal(IpAddress.Parse("203.0.113.2"), f.ServerToClient.Encap.OuterSrc);
        Assert.Equal(1500, f.ClientToServer.MaxIpPacket); // the inner packet: what the path MTU of this flow is about
        Assert.Equal(1524, f.ClientToServer.MaxOuterIpPacket);
        Assert.Equal(1538, f.ClientToServer.MaxFrame);
        Assert.Equal(0, f.ClientToServer.EncapChanges + f.ServerToClient.EncapChanges);
    }

    /// <summary>A DSR load balancer: requests arrive in a tunnel, answers leave plain. One flow, each direction with
    /// its own encapsulation; keying on the tunnel would have split the connection in two halves.</summary>
    [Fact]
    public void Update_TunnelledOneWayPlainTheOther_OneFlowTwoEncapsulations()
    {
        var h = new Harness();
        var f1 = h.Feed(InGre(Segment(true, 0x02, 100)));
        var f2 = h.Feed(Plain(Segment(false, 0x12, 500)));
        var f3 = h.Feed(InGre(Segment(true, 0x10, 101)));
        AllOk(h);
        Assert.Same(f1, f2);
        Assert.Same(f1, f3);
        Assert.Equal(1, h.Table.LiveCount);
        Assert.Equal("ipv4/gre", f1!.ClientToServer.Encap.ToString());
        Assert.True(f1.ServerToClient.Encap.IsEmpty);
        Assert.Equal(0, f1.ServerToClient.MaxOuterIpPacket);
        Assert.Equal(0, f1.ClientToServer.EncapChanges + f1.ServerToClient.EncapChanges);
    }

    /// <summary>The same inner addresses and ports in another tunnel, or plain, within one direction: still one flow (the
    /// inner 5-tuple is the key), and the mix is counted.</summary>
    [Fact]
    public void Update_SameInnerTupleInAnotherTunnel_CountedAsChange()
    {
        var h = new Harness();
        var f = h.Feed(InGre(Segment(true, 0x02, 100)))!;
        h.Feed(InGre(Segment(true, 0x10, 101), "203.0.113.9", "203.0.113.2"));
        h.Feed(Plain(Segment(true, 0x10, 101)));
        h.Feed(InGre(Segment(true, 0x10, 101)));
        AllOk(h);
        Assert.Equal(1, h.Table.LiveCount);
        Assert.Equal(2, f.ClientToServer.EncapChanges);
        Assert.Equal(IpAddress.Parse("203.0.113.1"), f.ClientToServer.Encap.OuterSrc); // the first packet's
    }

    [Fact]
    public void Update_PlainTraffic_NoEncapsulationRecorded()
    {
        var h = new Harness();
        var f = h.Feed(Plain(Segment(true, 0x02, 100)))!;
        h.Feed(Plain(Segment(false, 0x12, 500)));
        AllOk(h);
        Assert.True(f.ClientToServer.Encap.IsEmpty && f.ServerToClient.Encap.IsEmpty);
        Assert.Equal(0, f.ClientToServer.EncapChanges + f.ServerToClient.EncapChanges);
    }

    [Fact]
    public void Update_TunnelledSteadyState_AllocatesNothing()
    {
        var h = new Harness();
        byte[] innerEthernet(byte[] ip) => Ethernet(0x0800, ip);
        byte[][] frames =
        [
            InGre(Segment(true, 0x18, 101, 1000)),
            InGre(Segment(false, 0x10, 500)),
            Ethernet(0x0800, Ipv4(17, Udp(40000, 4789, Vxlan(42, innerEthernet(Segment(true, 0x18, 101, 1000)))), "203.0.113.1", "203.0.113.2")),
            Ethernet(0x8864, Pppoe(0x1234, 0x0021, Segment(false, 0x10, 500))),
            Ethernet(0x8847, Concat(MplsLabel(1000, true), Segment(true, 0x18, 101, 100))),
            Ethernet(0x0800, Ipv4(4, Segment(true, 0x18, 101, 100), "203.0.113.1", "203.0.113.2")),
        ];
        h.Feed(InGre(Segment(true, 0x02, 100)));
        long before = 0;
        for (int round = 0; round < 2; round++) // the first round warms up
        {
            before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 500; i++)
                foreach (var frame in frames) h.Feed(frame);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(0, h.NotOk);
        Assert.Equal(1, h.Table.LiveCount);
    }
}
