using PathProbe.Analysis.Dns;
using PathProbe.Capture;
using PathProbe.Flows.Tcp;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;
using static PathProbe.Tests.Analysis.Dns.DnsTestPackets;

namespace PathProbe.Tests.Pipeline;

/// <summary>
/// The whole engine allocates nothing per packet inside a connection, for each kind of traffic the benchmark sets hold
/// (issue 16: bulk TCP data with resends, DNS over UDP, DNS answers in IP fragments, DNS over TCP; SMTP in DATA is
/// <c>SmtpEngineAllocationTests</c>). A new flow allocates its record and a DNS query its transaction (both bounded);
/// a TCP side's arrays (unacknowledged segments, RTT samples, TSvals) grow with what it sends, up to a fixed size. The
/// packets measured here are the ones inside connections that already exist and whose arrays are full-size: data,
/// ACKs, resends, answers, repeated queries. Measured with <see cref="GC.GetAllocatedBytesForCurrentThread"/> around
/// the measured packets only; an answer that starts a new chunk of the DNS text arena (its record texts are kept for
/// the report, in 64 KiB chunks, as many as the kept transactions need) may allocate that chunk and nothing else.
/// </summary>
[Collection(PathProbe.Tests.Support.AllocationCollection.Name)]
public sealed class EngineAllocationTests
{
    private const string Client = "198.51.100.10", Server = "203.0.113.53";

    private static (byte[] Packet, long Time) Frame(byte[] packet, double seconds) => (packet, T0 + (long)(seconds * 1e9));

    /// <summary>Processes <paramref name="frames"/>, counting bytes allocated while the ones marked measured ran.</summary>
    private static long Run(Engine e, IReadOnlyList<((byte[] Packet, long Time) Frame, bool Measured)> frames, out int measured)
    {
        long allocated = 0;
        measured = 0;
        var where = new List<string>();
        for (int i = 0; i < frames.Count; i++)
        {
            var ((packet, time), m) = frames[i];
            var frame = new RawFrame(packet, packet.Length, new Timestamp(time), LinkTypes.Raw, 0);
            long arena = e.DnsTextBytes;
            long before = GC.GetAllocatedBytesForCurrentThread();
            e.Process(in frame);
            if (!m) continue;
            // Less a new chunk of the DNS text arena (its bytes and a 24-byte array header): the answers' record texts
            // kept for the report, bounded by the transactions kept, not a cost of this packet.
            long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
            long chunk = e.DnsTextBytes - arena;
            if (chunk > 0) bytes -= chunk + 24;
            if (bytes != 0 && where.Count < 10) where.Add($"packet {i}: {bytes} B");
            allocated += bytes;
            measured++;
        }
        Assert.True(allocated == 0, $"{allocated} bytes allocated: {string.Join(", ", where)}");
        return allocated;
    }

    private static byte[] A(string ip) => IpAddress.Parse(ip).ToIPAddress().GetAddressBytes();

    private static (DnsType, byte[])[] Answers() =>
    [
        (DnsType.TXT, Txt("v=spf1 ip4:198.51.100.0/24 include:_spf.example.test \u001b[31m -all", new string('x', 200))),
        (DnsType.MX, [0, 10, .. Name("mx.example.test")]),
        (DnsType.A, A("203.0.113.25")),
        (DnsType.CNAME, Name("alias.example.test")),
        (DnsType.SOA, [.. Name("ns.example.test"), .. Name("hostmaster.example.test"), 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5]),
        (DnsType.SRV, [0, 1, 0, 2, 0, 25, .. Name("smtp.example.test")]),
    ];

    [Fact]
    public void DnsOverUdp_AnswersAndRepeatedQueries_AllocateNothing()
    {
        var e = new Engine();
        var frames = new List<((byte[], long), bool)>();
        double t = 0;
        for (int i = 0; i < 200; i++)
        {
            ushort id = (ushort)(0x1000 + i);
            string name = $"q{i}.example.test";
            bool measured = i >= 20; // the first answers warm up the code and the arena's first chunk
            frames.Add((Frame(Udp(Client, 40000, Server, 53, Query(id, name, DnsType.TXT, edns: 1232)), t += 0.001), false));
            // The same query again (a resend on the same flow, id and question) is counted on its transaction.
            frames.Add((Frame(Udp(Client, 40000, Server, 53, Query(id, name, DnsType.TXT, edns: 1232)), t += 0.001), measured));
            frames.Add((Frame(Udp(Server, 53, Client, 40000, Response(id, name.ToUpperInvariant(), DnsType.TXT, Answers(), edns: 1232)), t += 0.001), measured));
            // An answer nobody asked for (a duplicate) is counted too.
            frames.Add((Frame(Udp(Server, 53, Client, 40000, Response(id, name, DnsType.TXT, Answers(), edns: 1232)), t += 0.001), measured));
        }
        long allocated = Run(e, frames, out int n);

        var state = Assert.IsType<DnsFlowState>(Assert.Single(e.Flows.LiveFlows).App);
        Assert.Equal(200, state.Transactions.Count);
        Assert.All(state.Transactions, x => Assert.Equal(2, x.Sends));
        Assert.Equal(200, state.UnmatchedResponses);
        Assert.Equal(6, state.Transactions[^1].Response!.Records.Count);
        Assert.Equal(540, n);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void DnsAnswersInIpFragments_AllocateNothing()
    {
        var e = new Engine();
        var frames = new List<((byte[], long), bool)>();
        double t = 0;
        var big = Enumerable.Range(0, 12).Select(i => (DnsType.TXT, Txt(new string((char)('a' + i), 250)))).ToArray();
        for (int i = 0; i < 100; i++)
        {
            ushort id = (ushort)(0x2000 + i);
            bool measured = i >= 10;
            frames.Add((Frame(Udp(Client, 40001, Server, 53, Query(id, "big.example.test", DnsType.TXT, edns: 4096)), t += 0.001), false));
            var answer = UdpPayload(53, 40001, Response(id, "big.example.test", DnsType.TXT, big, edns: 4096));
            foreach (var fragment in Fragments(Server, Client, 17, answer, (ushort)(100 + i), 1480))
                frames.Add((Frame(fragment, t += 0.0001), measured));
        }
        long allocated = Run(e, frames, out int n);

        var state = Assert.IsType<DnsFlowState>(Assert.Single(e.Flows.LiveFlows).App);
        Assert.All(state.Transactions, x => Assert.True(x.Response!.Fragmented));
        Assert.Equal(90 * 3, n);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void DnsOverTcp_MessagesInOneConnection_AllocateNothing()
    {
        var e = new Engine();
        var frames = new List<((byte[], long), bool)>();
        double t = 0;
        uint cs = 1000, ss = 5000;
        frames.Add((Frame(Tcp(Client, 40002, Server, 53, cs, 0, Syn), t += 0.001), false));
        frames.Add((Frame(Tcp(Server, 53, Client, 40002, ss, cs + 1, Syn | Ack), t += 0.001), false));
        cs++; ss++;
        frames.Add((Frame(Tcp(Client, 40002, Server, 53, cs, ss, Ack), t += 0.001), false));
        for (int i = 0; i < 200; i++)
        {
            ushort id = (ushort)(0x3000 + i);
            // From the 40th query on: by then each side's RTT samples (two a query) filled their 64 slots.
            bool measured = i >= 40;
            var q = Framed(Query(id, $"t{i}.example.test", DnsType.TXT));
            frames.Add((Frame(Tcp(Client, 40002, Server, 53, cs, ss, Psh | Ack, q), t += 0.001), false));
            cs += (uint)q.Length;
            var a = Framed(Response(id, $"t{i}.example.test", DnsType.TXT, Answers()));
            // The answer in two segments: the framer gathers the message across them.
            int half = a.Length / 2;
            frames.Add((Frame(Tcp(Server, 53, Client, 40002, ss, cs, Ack, a[..half]), t += 0.001), measured));
            frames.Add((Frame(Tcp(Server, 53, Client, 40002, ss + (uint)half, cs, Psh | Ack, a[half..]), t += 0.001), measured));
            ss += (uint)a.Length;
            frames.Add((Frame(Tcp(Client, 40002, Server, 53, cs, ss, Ack), t += 0.001), measured));
        }
        long allocated = Run(e, frames, out int n);

        var state = Assert.IsType<DnsFlowState>(Assert.Single(e.Flows.LiveFlows).App);
        Assert.Equal(200, state.Transactions.Count);
        Assert.All(state.Transactions, x => Assert.Equal(DnsOutcome.Answered, x.Outcome));
        Assert.Equal(160 * 3, n);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void BulkTcpWithResendsAndDuplicateAcks_AllocatesNothing()
    {
        var e = new Engine();
        var frames = new List<((byte[], long), bool)>();
        double t = 0;
        const string C = "198.51.100.20", S = "203.0.113.80";
        uint cs = 7000, ss = 9000;
        frames.Add((Frame(Tcp(C, 41000, S, 443, cs, 0, Syn), t += 0.001), false));
        frames.Add((Frame(Tcp(S, 443, C, 41000, ss, cs + 1, Syn | Ack), t += 0.001), false));
        cs++; ss++;
        frames.Add((Frame(Tcp(C, 41000, S, 443, cs, ss, Ack), t += 0.001), false));
        var data = new byte[1400];
        // 10 ms a round, 4 s in all: the path-MTU detector looks at its open holes once a second of capture time, so
        // its list reaches its steady size within the first 1.5 s, which are not measured.
        for (int round = 0; round < 400; round++)
        {
            bool measured = round >= 150;
            t = 0.01 * round + 0.01;
            // Four segments; the second is lost and resent after three duplicate ACKs (a fast retransmission).
            uint s0 = cs;
            for (int k = 0; k < 4; k++)
            {
                var seg = Tcp(C, 41000, S, 443, cs, ss, Ack, data);
                cs += (uint)data.Length;
                if (k == 1) continue; // not captured: lost
                frames.Add((Frame(seg, t += 0.0001), measured));
            }
            uint hole = s0 + (uint)data.Length;
            for (int d = 0; d < 3; d++) frames.Add((Frame(Tcp(S, 443, C, 41000, ss, hole, Ack), t += 0.0001), measured));
            frames.Add((Frame(Tcp(C, 41000, S, 443, hole, ss, Ack, data), t += 0.0001), measured));
            frames.Add((Frame(Tcp(S, 443, C, 41000, ss, cs, Ack), t += 0.0001), measured));
        }
        long allocated = Run(e, frames, out int n);

        var flow = Assert.Single(e.Flows.LiveFlows);
        Assert.True(flow.Tcp!.Client.Counters.Retransmissions + flow.Tcp.Client.Counters.FastRetransmissions >= 400);
        Assert.Equal(250 * 8, n);
        Assert.Equal(0, allocated);
    }

    /// <summary>A TCP header with the timestamp option (NOP, NOP, TS: RFC 7323), as Linux sends on every segment.</summary>
    private static byte[] TcpTs(string src, ushort sport, string dst, ushort dport, uint seq, uint ack, byte flags, uint tsval, uint tsecr, byte[]? data = null)
    {
        data ??= [];
        var t = new byte[32 + data.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(t, sport);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), dport);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), seq);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(8), ack);
        t[12] = 0x80;
        t[13] = flags;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), 65535);
        t[20] = 1; t[21] = 1; t[22] = 8; t[23] = 10;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(24), tsval);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(28), tsecr);
        data.CopyTo(t, 32);
        return Ip4(src, dst, 6, t);
    }

    /// <summary>Issue 16 item 5: per-flow state sized to what the flow uses. A DNS query over TCP (handshake, query,
    /// answer, FINs; timestamps on every segment, as Linux sends them) costs its flow record, the connection's two
    /// sides, a few RTT samples and TSvals per side, the DNS state and the transaction. The RTT samples and the TSval
    /// ring were arrays of 64 and 32 entries from the first one on (536 and 432 bytes per side, about 1,900 bytes per
    /// connection); they now start at 4 entries. Bytes allocated while the engine processed the packets of 2,000
    /// connections, after 2,000.</summary>
    [Fact]
    public void DnsQueryOverTcp_ConnectionAllocatesWhatItUses()
    {
        var e = new Engine();
        const int Warm = 2_000, Measured = 2_000;
        var answer = Framed(Response(0x4242, "spf.example.test", DnsType.TXT, Answers()));
        var query = Framed(Query(0x4242, "spf.example.test", DnsType.TXT, edns: 1232));
        long allocated = 0;
        double t = 0;
        for (int i = 0; i < Warm + Measured; i++)
        {
            string client = $"198.51.100.{1 + i % 200}";
            ushort port = (ushort)(20000 + i / 200);
            uint cs = (uint)i * 7919u, ss = (uint)i * 104729u, tc = 1000u + (uint)i, ts = 5000u + (uint)i;
            byte[][] packets =
            [
                TcpTs(client, port, Server, 53, cs, 0, Syn, tc, 0),
                TcpTs(Server, 53, client, port, ss, cs + 1, Syn | Ack, ts, tc),
                TcpTs(client, port, Server, 53, cs + 1, ss + 1, Ack, tc + 1, ts),
                TcpTs(client, port, Server, 53, cs + 1, ss + 1, Psh | Ack, tc + 1, ts, query),
                TcpTs(Server, 53, client, port, ss + 1, cs + 1 + (uint)query.Length, Ack, ts + 1, tc + 1),
                TcpTs(Server, 53, client, port, ss + 1, cs + 1 + (uint)query.Length, Psh | Ack, ts + 1, tc + 1, answer),
                TcpTs(client, port, Server, 53, cs + 1 + (uint)query.Length, ss + 1 + (uint)answer.Length, Ack, tc + 2, ts + 1),
                TcpTs(client, port, Server, 53, cs + 1 + (uint)query.Length, ss + 1 + (uint)answer.Length, Fin | Ack, tc + 2, ts + 1),
                TcpTs(Server, 53, client, port, ss + 1 + (uint)answer.Length, cs + 2 + (uint)query.Length, Fin | Ack, ts + 2, tc + 2),
                TcpTs(client, port, Server, 53, cs + 2 + (uint)query.Length, ss + 2 + (uint)answer.Length, Ack, tc + 3, ts + 2),
            ];
            foreach (var packet in packets)
            {
                var frame = new RawFrame(packet, packet.Length, new Timestamp(T0 + (long)((t += 0.0001) * 1e9)), LinkTypes.Raw, 0);
                long before = GC.GetAllocatedBytesForCurrentThread();
                e.Process(in frame);
                if (i >= Warm) allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            }
        }
        long perConnection = allocated / Measured;
        Console.WriteLine($"DNS query over TCP: {perConnection} B allocated per connection");
        Assert.Equal(Warm + Measured, e.Flows.LiveCount);
        var flow = e.Flows.LiveFlows.Last();
        var state = Assert.IsType<DnsFlowState>(flow.App);
        Assert.Equal(DnsOutcome.Answered, Assert.Single(state.Transactions).Outcome);
        // Both sides took RTT samples from the echoed timestamps.
        Assert.True(flow.Tcp!.Client.Rtt.Count > 0 && flow.Tcp.Server.Rtt.Count > 0);
        // Measured 3,464 B (Release); 5,096 B with the fixed arrays.
        Assert.True(perConnection <= 4_000, $"{perConnection} B per DNS-over-TCP connection, over 4,000 B");
    }

    /// <summary>Issue 16 item 5: a DNS query over UDP from a new source port (a resolver's random port per query: a
    /// new flow for each) costs the flow record (with the server's direction), its DNS state, the transaction with its
    /// answer summary, and the answer's record texts in the analysis' arena; its question name is the string the
    /// earlier queries for it made. Before, the state's list of transactions (a list and its array) and a string per
    /// name came on top: 136 B a query here. Bytes allocated while the engine processed the packets of 5,000 queries,
    /// after 5,000.</summary>
    [Fact]
    public void DnsQueryOverUdp_NewFlowAllocatesWhatItUses()
    {
        var e = new Engine();
        const int Warm = 5_000, Measured = 5_000;
        var frames = new List<(byte[] Packet, long Time)>();
        for (int i = 0; i < Warm + Measured; i++)
        {
            string client = $"198.51.100.{1 + i % 200}";
            ushort port = (ushort)(20000 + i / 200);
            var name = $"mx{i % 50}.example.test";
            frames.Add(Frame(Udp(client, port, Server, 53, Query((ushort)i, name, DnsType.MX, edns: 1232)), i * 0.001));
            frames.Add(Frame(Udp(Server, 53, client, port, Response((ushort)i, name, DnsType.MX, [(DnsType.MX, [0, 10, .. Name("mx.example.test")])])), i * 0.001 + 0.0002));
        }
        long allocated = 0;
        for (int i = 0; i < frames.Count; i++)
        {
            var (packet, time) = frames[i];
            var frame = new RawFrame(packet, packet.Length, new Timestamp(time), LinkTypes.Raw, 0);
            long before = GC.GetAllocatedBytesForCurrentThread();
            e.Process(in frame);
            if (i >= 2 * Warm) allocated += GC.GetAllocatedBytesForCurrentThread() - before;
        }
        long perQuery = allocated / Measured;
        Console.WriteLine($"DNS query over UDP on a new flow: {perQuery} B allocated per query");
        Assert.Equal(Warm + Measured, e.Flows.LiveCount);
        var state = Assert.IsType<DnsFlowState>(e.Flows.LiveFlows.Last().App);
        Assert.Equal(DnsOutcome.Answered, Assert.Single(state.Transactions).Outcome);
        // Measured 928 B (Release); 1,064 B with the list and a string per name.
        Assert.True(perQuery <= 990, $"{perQuery} B per DNS query on a new UDP flow, over 990 B");
    }

    /// <summary>Issue 15 item 4: a flow that never got past its SYN (a scan, a flood, a server that never answered)
    /// costs its flow record and its slot in the table's index: the SYN's few fields are kept in the record, the TCP
    /// state and (port 25) the SMTP session are made only when read (<see cref="HeldSynTests"/>). Allocated bytes over
    /// 50,000 new SYN-only flows (after 70,000), to port 25 (the SMTP analyzer's port) and to port 8080.</summary>
    [Theory]
    [InlineData(25)]
    [InlineData(8080)]
    public void SynOnlyFlow_AllocatesAFewHundredBytes(int port)
    {
        var e = new Engine();
        // The table's index doubles when half full (at 65,536 and 131,072 flows): the window between is measured, so
        // the figure is the flows' own cost (the index adds 24 B a flow: two 12-byte slots).
        const int Warm = 70_000, Measured = 50_000;
        var frames = new (byte[] Packet, long Time)[Warm + Measured];
        for (int i = 0; i < frames.Length; i++)
            frames[i] = Frame(Tcp($"198.51.{100 + i / 65536 % 2}.{i / 256 % 256}", (ushort)(1024 + i % 256 * 200 + i / 131072),
                "203.0.113.10", (ushort)port, (uint)i * 2654435761u, 0, Syn), i * 1e-6);
        long before = 0;
        for (int i = 0; i < frames.Length; i++)
        {
            if (i == Warm) before = GC.GetAllocatedBytesForCurrentThread();
            var frame = new RawFrame(frames[i].Packet, frames[i].Packet.Length, new Timestamp(frames[i].Time), LinkTypes.Raw, 0);
            e.Process(in frame);
        }
        long perFlow = (GC.GetAllocatedBytesForCurrentThread() - before) / Measured;
        Console.WriteLine($"SYN-only flow to port {port}: {perFlow} B allocated per flow");
        Assert.Equal(Warm + Measured, e.Flows.LiveCount);
        var flow = e.Flows.LiveFlows.First();
        Assert.Null(flow.TcpIfMade);
        Assert.Null(flow.AppIfMade);
        Assert.Equal(TcpHandshake.SynSent, flow.Tcp!.Handshake);
        // Measured 256 B (port 25 and 8080, Release): the flow record (the SYN's fields in it: 20 B; the server's direction
        // not made: 336 B when it was part of the record, 360 B with it made). Before the SYN was
        // held, 712 B (the connection 144 B, the client side 176 B, its unacknowledged-segment array 72 B), and at port
        // 25 about 1,070 B more for the SMTP session of each of the first 10,000 flows.
        Assert.True(perFlow <= 290, $"{perFlow} B per SYN-only flow, over 290 B");
    }
}
