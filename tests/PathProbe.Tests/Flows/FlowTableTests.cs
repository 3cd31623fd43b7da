using PathProbe.Decoding;
using PathProbe.Flows;
using PathProbe.Primitives;

namespace PathProbe.Tests.Flows;

public sealed class FlowTableTests
{
    private static readonly IpAddress Client = IpAddress.Parse("198.51.100.10");
    private static readonly IpAddress Server = IpAddress.Parse("203.0.113.25");

    private static Flow? Tcp(FlowTable t, IpAddress src, ushort sp, IpAddress dst, ushort dp, TcpFlags flags, long timeMs,
        out bool fromClient, int payload = 0, ushort mss = 0, uint seq = 0)
    {
        var p = new DecodedPacket
        {
            Time = new Timestamp(timeMs * 1_000_000), IpVersion = 4, Src = src, Dst = dst, Protocol = IpProtocols.Tcp,
            SrcPort = sp, DstPort = dp, TcpFlags = flags, Seq = seq, PayloadWireLength = payload, IpPacketLength = 40 + payload,
            WireLength = 54 + payload, DontFragment = true,
        };
        p.TcpOptions.Mss = mss;
        p.TcpOptions.WindowScale = -1;
        return t.Update(ref p, out fromClient);
    }

    private static Flow? Udp(FlowTable t, IpAddress src, ushort sp, IpAddress dst, ushort dp, long timeMs)
    {
        var p = new DecodedPacket { Time = new Timestamp(timeMs * 1_000_000), IpVersion = 4, Src = src, Dst = dst, Protocol = IpProtocols.Udp, SrcPort = sp, DstPort = dp, WireLength = 80 };
        return t.Update(ref p, out _);
    }

    [Fact]
    public void Update_BothDirections_SameFlowOrientedBySyn()
    {
        var t = new FlowTable();
        var f1 = Tcp(t, Client, 40312, Server, 25, TcpFlags.Syn, 0, out bool c1, mss: 1460);
        var f2 = Tcp(t, Server, 25, Client, 40312, TcpFlags.Syn | TcpFlags.Ack, 1, out bool c2, mss: 1400);
        var f3 = Tcp(t, Client, 40312, Server, 25, TcpFlags.Ack, 2, out bool c3, payload: 100);
        Assert.Same(f1, f2);
        Assert.Same(f1, f3);
        Assert.True(c1); Assert.False(c2); Assert.True(c3);
        Assert.Equal(Client, f1!.ClientAddress);
        Assert.Equal((ushort)25, f1.ServerPort);
        Assert.Equal(2, f1.ClientToServer.Packets);
        Assert.Equal(1, f1.ServerToClient.Packets);
        Assert.Equal(1460, f1.ClientToServer.Mss);
        Assert.Equal(1400, f1.ServerToClient.Mss);
        Assert.Equal(100, f1.ClientToServer.MaxSegment);
        Assert.Equal(140, f1.ClientToServer.MaxIpPacket);
        Assert.Equal("smtp", f1.Application);
        Assert.Equal(1, t.LiveCount);
    }

    [Fact]
    public void Update_SynAckSeenFirst_SenderIsServer()
    {
        var t = new FlowTable();
        var f = Tcp(t, Server, 25, Client, 40312, TcpFlags.Syn | TcpFlags.Ack, 0, out bool fromClient);
        Assert.False(fromClient);
        Assert.Equal(Server, f!.ServerAddress);
    }

    [Fact]
    public void Update_MidStreamWithoutSyn_WellKnownPortIsServer()
    {
        var t = new FlowTable();
        var f = Tcp(t, Server, 25, Client, 40312, TcpFlags.Ack, 0, out bool fromClient, payload: 10);
        Assert.False(fromClient);
        Assert.Equal(Client, f!.ClientAddress);
        var dns = Udp(t, Client, 5353 + 1, Server, 53, 0);
        Assert.Equal((ushort)53, dns!.ServerPort);
        Assert.Equal("dns", dns.Application);
    }

    [Fact]
    public void Update_TableFull_EvictsLeastRecentlyActiveAndCounts()
    {
        var t = new FlowTable(new FlowTableOptions { MaxFlows = 2 });
        var a = Tcp(t, Client, 1001, Server, 25, TcpFlags.Syn, 0, out _);
        var b = Tcp(t, Client, 1002, Server, 25, TcpFlags.Syn, 1, out _);
        Tcp(t, Client, 1001, Server, 25, TcpFlags.Ack, 2, out _); // a is now the most recent
        var c = Tcp(t, Client, 1003, Server, 25, TcpFlags.Syn, 3, out _);
        Assert.Equal(1, t.Evicted);
        Assert.Equal(2, t.LiveCount);
        Assert.Equal(FlowEnd.Evicted, b!.EndReason);
        Assert.Contains(b, t.ClosedFlows);
        Assert.DoesNotContain(a, t.ClosedFlows);
        t.Finish();
        Assert.Equal(3, t.ClosedFlows.Count);
        Assert.Equal(FlowEnd.Open, c!.EndReason);
    }

    [Fact]
    public void Update_IdleLongerThanTimeout_ExpiresOnCaptureTime()
    {
        var t = new FlowTable(new FlowTableOptions { OtherIdleTimeout = TimeSpan.FromSeconds(10), TcpIdleTimeout = TimeSpan.FromSeconds(100) });
        var u = Udp(t, Client, 33333, Server, 53, 0);
        var tcp = Tcp(t, Client, 40000, Server, 25, TcpFlags.Syn, 0, out _);
        Udp(t, Client, 33334, Server, 53, 11_000); // 11 s later: the first UDP flow has idled out, TCP has not
        Assert.Equal(FlowEnd.IdleTimeout, u!.EndReason);
        Assert.Equal(1, t.Expired);
        Assert.Equal(FlowEnd.Open, tcp!.EndReason);
        Assert.Equal(2, t.LiveCount);
    }

    /// <summary>A UDP exchange (answered, every packet within 2 s of the first: a DNS query and its answer) leaves
    /// the table 30 s after its last packet (Linux conntrack's UDP timeout); a UDP flow never answered, or one that goes
    /// on past its first 2 s (a stream), keeps the 2-minute timeout. At the end of input the flows of both lists close
    /// in the order they were last touched.</summary>
    [Fact]
    public void Update_UdpExchange_LeavesAfterExchangeTimeout()
    {
        var t = new FlowTable();
        var exchange = Udp(t, Client, 40001, Server, 53, 0);
        Udp(t, Server, 53, Client, 40001, 1);
        var unanswered = Udp(t, Client, 40002, Server, 53, 2);
        var stream = Udp(t, Client, 40003, Server, 123, 3);
        Udp(t, Server, 123, Client, 40003, 4);
        Udp(t, Client, 40003, Server, 123, 2_500); // past the first 2 s: a stream
        var lateAnswer = Udp(t, Client, 40004, Server, 53, 5);
        Udp(t, Server, 53, Client, 40004, 2_100); // answered only after 2 s
        var retried = Udp(t, Client, 40005, Server, 53, 6);
        Udp(t, Server, 53, Client, 40005, 7);
        Udp(t, Client, 40005, Server, 53, 1_900); // again within the 2 s: still one exchange

        Udp(t, Client, 50000, Server, 9, 30_002); // 30 s after the first exchange's answer
        Assert.Equal(FlowEnd.IdleTimeout, exchange!.EndReason);
        Assert.Equal(FlowEnd.Open, retried!.EndReason);
        Udp(t, Client, 50000, Server, 9, 31_901);
        Assert.Equal(FlowEnd.IdleTimeout, retried.EndReason);
        Assert.Equal(2, t.Expired);
        Assert.All(new[] { unanswered, stream, lateAnswer }, f => Assert.Equal(FlowEnd.Open, f!.EndReason));

        // The same ports after the exchange left: a new flow.
        var again = Udp(t, Client, 40001, Server, 53, 40_000);
        Assert.NotSame(exchange, again);

        Udp(t, Client, 50000, Server, 9, 122_003); // 2 minutes after the unanswered query
        Assert.Equal(FlowEnd.IdleTimeout, unanswered!.EndReason);
        Assert.Equal(FlowEnd.Open, stream!.EndReason);
        Assert.Equal(FlowEnd.Open, lateAnswer!.EndReason);
        Udp(t, Client, 50000, Server, 9, 122_600);
        Assert.Equal(FlowEnd.IdleTimeout, stream.EndReason);
        Assert.Equal(FlowEnd.IdleTimeout, lateAnswer.EndReason);

        // At the end: an exchange touched before a one-way flow closes before it, one touched after closes after it.
        var first = Udp(t, Client, 41000, Server, 53, 200_000);
        Udp(t, Server, 53, Client, 41000, 200_001);
        var oneWay = Udp(t, Client, 41001, Server, 514, 200_002);
        var last = Udp(t, Client, 41002, Server, 53, 200_003);
        Udp(t, Server, 53, Client, 41002, 200_004);
        t.Finish();
        var closed = t.ClosedFlows.ToList();
        Assert.True(closed.IndexOf(first!) < closed.IndexOf(oneWay!));
        Assert.True(closed.IndexOf(oneWay!) < closed.IndexOf(last!));
    }

    private static void Close(FlowTable t, ushort port, long timeMs)
    {
        Tcp(t, Client, port, Server, 25, TcpFlags.Fin | TcpFlags.Ack, timeMs, out _, seq: 2);
        Tcp(t, Server, 25, Client, port, TcpFlags.Fin | TcpFlags.Ack, timeMs, out _, seq: 7000);
    }

    /// <summary>A connection closed by FIN from both sides leaves the table after the ended timeout (60 s, Linux's
    /// TIME_WAIT) without a packet, not after the 10-minute idle timeout; a late packet before that is still its, and
    /// it is not counted as an idle expiry. One ended by RST keeps the idle timeout (the side that never got the RST
    /// may go on resending), and so does one that sends data again after both FINs.</summary>
    [Fact]
    public void Update_ClosedConnection_LeavesAfterEndedTimeout()
    {
        var t = new FlowTable();
        var fin = Tcp(t, Client, 40001, Server, 25, TcpFlags.Syn, 0, out _, seq: 1);
        var open = Tcp(t, Client, 40002, Server, 25, TcpFlags.Syn, 1, out _, seq: 5000);
        var rst = Tcp(t, Client, 40003, Server, 25, TcpFlags.Syn, 2, out _, seq: 9000);
        var resent = Tcp(t, Client, 40004, Server, 25, TcpFlags.Syn, 3, out _, seq: 11000);
        Close(t, 40001, 10);
        Tcp(t, Server, 25, Client, 40003, TcpFlags.Rst | TcpFlags.Ack, 12, out _);
        Close(t, 40004, 13);
        Assert.Equal(FlowEnd.Fin, fin!.EndReason);
        Assert.Equal(FlowEnd.Reset, rst!.EndReason);

        // 50 s later the last ACK of the FIN: still the same flow. Data after both FINs: the connection is resending.
        var late = Tcp(t, Client, 40001, Server, 25, TcpFlags.Ack, 50_010, out _, seq: 3);
        Assert.Same(fin, late);
        Assert.Same(resent, Tcp(t, Client, 40004, Server, 25, TcpFlags.Ack, 20_000, out _, payload: 1000, seq: 1));

        Udp(t, Client, 33333, Server, 53, 100_000);
        Assert.DoesNotContain(fin, t.ClosedFlows); // its last packet was 50 s in
        Udp(t, Client, 33334, Server, 53, 110_011);
        Assert.Contains(fin, t.ClosedFlows);
        Assert.Equal(FlowEnd.Fin, fin.EndReason);
        Assert.Equal(1, t.EndedTimedOut);
        Assert.Equal(0, t.Expired);
        Assert.DoesNotContain(rst, t.ClosedFlows);
        Assert.DoesNotContain(resent, t.ClosedFlows);
        Assert.DoesNotContain(open, t.ClosedFlows);

        // A packet on the ports of the closed flow after that is a new flow.
        Assert.NotSame(fin, Tcp(t, Client, 40001, Server, 25, TcpFlags.Ack, 120_000, out _, seq: 3));
        // The RST flow and the one that resent data leave at the 10-minute idle timeout, as before.
        Udp(t, Client, 33335, Server, 53, 621_000);
        Assert.Contains(rst, t.ClosedFlows);
        Assert.Contains(resent, t.ClosedFlows);
        Assert.Equal(FlowEnd.Reset, rst.EndReason);
        Assert.Equal(FlowEnd.Fin, resent!.EndReason);
    }

    /// <summary>Closed connections time out in the order of their last packet's time, not the order they were touched:
    /// with capture times stepping back a little (a multi-queue NIC), one engine and the parallel workers (each walking
    /// only its own flows) then time out the same flows at the same frame.</summary>
    [Fact]
    public void Expire_ClosedConnections_ByTimeEvenWhenTouchedOutOfOrder()
    {
        var t = new FlowTable();
        var a = Tcp(t, Client, 40001, Server, 25, TcpFlags.Syn, 0, out _, seq: 1);
        var b = Tcp(t, Client, 40002, Server, 25, TcpFlags.Syn, 0, out _, seq: 1);
        Close(t, 40001, 10_040); // a's last packet at 10.040 s, touched first
        Close(t, 40002, 10_000); // b's at 10.000 s, touched later (time stepped back)
        Udp(t, Client, 33333, Server, 53, 70_020);
        Assert.Contains(b, t.ClosedFlows);          // due: 60.02 s after its last packet
        Assert.DoesNotContain(a, t.ClosedFlows);    // not yet: 59.98 s
        Udp(t, Client, 33334, Server, 53, 70_050);
        Assert.Equal([b!, a!], t.ClosedFlows);
        Assert.Equal(0, t.EndedOutOfOrder);
    }

    /// <summary>Flows that leave together (end of input, eviction) leave in the order they were last touched, whether
    /// they closed or not: as when closed connections shared one list with the open ones.</summary>
    [Fact]
    public void Finish_ClosedAndOpenFlows_LeaveInOrderLastTouched()
    {
        var t = new FlowTable();
        var a = Tcp(t, Client, 40001, Server, 25, TcpFlags.Syn, 0, out _, seq: 1);
        var b = Tcp(t, Client, 40002, Server, 25, TcpFlags.Syn, 0, out _, seq: 1);
        var c = Tcp(t, Client, 40003, Server, 25, TcpFlags.Syn, 0, out _, seq: 1);
        Close(t, 40002, 5);                                                  // b closes
        Tcp(t, Client, 40001, Server, 25, TcpFlags.Ack, 5, out _, seq: 2);   // a touched after b, same time
        Close(t, 40003, 4);                                                  // c closes last, its time a step back
        t.Finish();
        Assert.Equal([b!, a!, c!], t.ClosedFlows);

        var small = new FlowTable(new FlowTableOptions { MaxFlows = 2 });
        var x = Tcp(small, Client, 40001, Server, 25, TcpFlags.Syn, 0, out _, seq: 1);
        var y = Tcp(small, Client, 40002, Server, 25, TcpFlags.Syn, 1, out _, seq: 1);
        Close(small, 40001, 2); // x closes, now the most recently touched
        Tcp(small, Client, 40003, Server, 25, TcpFlags.Syn, 3, out _, seq: 3);
        Assert.Equal([y!], small.ClosedFlows);
        Assert.Equal(FlowEnd.Evicted, y!.EndReason);
        Assert.Equal(FlowEnd.Fin, x!.EndReason);
    }

    [Fact]
    public void Update_SynWithNewIsnAfterFin_StartsNewFlow()
    {
        var t = new FlowTable();
        var first = Tcp(t, Client, 40312, Server, 25, TcpFlags.Syn, 0, out _, seq: 1000);
        Tcp(t, Client, 40312, Server, 25, TcpFlags.Fin | TcpFlags.Ack, 1, out _, seq: 1001);
        Tcp(t, Server, 25, Client, 40312, TcpFlags.Fin | TcpFlags.Ack, 2, out _, seq: 7000);
        Assert.Equal(FlowEnd.Fin, first!.EndReason);
        var second = Tcp(t, Client, 40312, Server, 25, TcpFlags.Syn, 3, out _, seq: 90000);
        Assert.NotSame(first, second);
        Assert.Equal(first.Id + 1, second!.Id);
        Assert.True(second.ReusedPorts);
        Assert.Contains(first, t.ClosedFlows);
    }

    [Fact]
    public void Update_SynWithSameIsn_IsRetransmissionOfSameFlow()
    {
        // Wireshark 4.0: a SYN repeating the ISN stays in the conversation, even after a RST.
        var t = new FlowTable();
        var first = Tcp(t, Client, 40312, Server, 25, TcpFlags.Syn, 0, out _, seq: 1000);
        Tcp(t, Server, 25, Client, 40312, TcpFlags.Rst | TcpFlags.Ack, 1, out _);
        var again = Tcp(t, Client, 40312, Server, 25, TcpFlags.Syn, 1000, out _, seq: 1000);
        Assert.Same(first, again);
        Assert.Equal(2, first!.ClientToServer.Packets);
    }

    /// <summary>A record recycled from a TCP flow for a UDP flow does not carry the old connection's TCP state (a reader
    /// of <see cref="Flow.Tcp"/> would take it for this flow's: the path-MTU detector filed ICMP errors into it).</summary>
    [Fact]
    public void Update_RecycledRecordForUdp_HasNoTcpState()
    {
        var t = new FlowTable(new FlowTableOptions { MaxFlows = 1, MaxReportedFlows = 0 });
        var tcp = Tcp(t, Client, 40000, Server, 25, TcpFlags.Syn, 0, out _)!;
        Assert.NotNull(tcp.Tcp);
        var udp = Udp(t, Client, 40001, Server, 53, 1)!; // evicts the TCP flow; its record is recycled
        Assert.Same(tcp, udp);
        Assert.Equal(FlowProtocol.Udp, udp.Protocol);
        Assert.Null(udp.Tcp);
    }

    [Fact]
    public void Update_Rst_EndsAsReset()
    {
        var t = new FlowTable();
        var f = Tcp(t, Client, 40312, Server, 25, TcpFlags.Syn, 0, out _);
        Tcp(t, Server, 25, Client, 40312, TcpFlags.Rst | TcpFlags.Ack, 1, out _);
        Assert.Equal(FlowEnd.Reset, f!.EndReason);
        Assert.True(f.ServerToClient.RstSeen);
    }

    [Fact]
    public void FlowKey_BothDirections_SameKeyAndHash()
    {
        var k1 = FlowKey.Create(Client, 40312, Server, 25, 6, out bool ab1);
        var k2 = FlowKey.Create(Server, 25, Client, 40312, 6, out bool ab2);
        Assert.Equal(k1, k2);
        Assert.Equal(k1.GetHashCode(), k2.GetHashCode());
        Assert.NotEqual(ab1, ab2);
    }
}

[Collection(PathProbe.Tests.Support.AllocationCollection.Name)]
public sealed class FlowTableRecyclingTests
{
    [Fact]
    public void Update_ReportLimitReached_RecyclesClosedFlowsWithoutAllocating()
    {
        var t = new FlowTable(new FlowTableOptions { MaxReportedFlows = 0 });
        var c = IpAddress.Parse("198.51.100.10");
        var s = IpAddress.Parse("203.0.113.25");
        uint isn = 1;
        void Conversation(ushort port, long ms)
        {
            var p = new DecodedPacket { Time = new Timestamp(ms * 1_000_000), IpVersion = 4, Src = c, Dst = s, Protocol = IpProtocols.Tcp, SrcPort = port, DstPort = 25, TcpFlags = TcpFlags.Syn, Seq = isn += 7919 };
            t.Update(ref p, out _);
            p.TcpFlags = TcpFlags.Rst;
            t.Update(ref p, out _);
            p.TcpFlags = TcpFlags.Syn; // a SYN with a new ISN replaces the flow
            p.Seq = isn += 7919;
            t.Update(ref p, out _);
        }
        for (int i = 0; i < 100; i++) Conversation((ushort)(1000 + i % 10), i); // warm up: table and free list at size
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) Conversation((ushort)(1000 + i % 10), 100 + i);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.True(t.NotReported >= 1000);
        Assert.Empty(t.ClosedFlows);
    }
}
