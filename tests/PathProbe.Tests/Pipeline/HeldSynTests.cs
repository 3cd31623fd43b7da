using System.Buffers.Binary;
using System.Text;
using PathProbe.Analysis.Smtp;
using PathProbe.Capture;
using PathProbe.Flows;
using PathProbe.Flows.Tcp;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Reports;
using PathProbe.Tests.Support;
using static PathProbe.Tests.Support.PacketBuilder;

namespace PathProbe.Tests.Pipeline;

/// <summary>
/// Issue 15 item 4: a flow whose only packet is a client's pure SYN keeps the SYN's fields instead of its TCP state
/// and SMTP session (<see cref="AnalysisOptions.HoldSyns"/>), which are made when first read. What the analysis says
/// must not change: every report (text with every row, JSON) is byte for byte the one written with the state made at
/// once, on every bundled capture, on the interleaving of them, and on a capture made for the edge cases (SYN options
/// and flags, SYN retransmissions, refused connects, port reuse, implicit TLS, IPv6, an ICMP error quoting a held
/// SYN), also with a flow table so small that flows are evicted, kept for the report and recycled.
/// </summary>
public sealed class HeldSynTests
{
    private const long T0 = 1_800_000_000_000_000_000L;
    private const byte Syn = 0x02, Ack = 0x10, Rst = 0x04, Fin = 0x01, Psh = 0x08;

    public static IEnumerable<object[]> Captures() =>
        TestPaths.BundledCaptures().Select(f => new object[] { Path.GetFileName(f) });

    [Theory]
    [MemberData(nameof(Captures))]
    public void Analyze_BundledCapture_SameReportWithSynsHeld(string name) =>
        AssertSameReports(Path.Combine(TestPaths.Captures, name), new FlowTableOptions());

    [Fact]
    public void Analyze_InterleavedCaptures_SameReportWithSynsHeld()
    {
        var captures = TestPaths.BundledCaptures().Where(f => f.EndsWith(".pcap", StringComparison.Ordinal)).ToList();
        string merged = Path.Combine(Path.GetTempPath(), $"pathprobe-held-{Environment.ProcessId}.pcap");
        try
        {
            ParallelIdentityTests.Interleave(captures, merged);
            AssertSameReports(merged, new FlowTableOptions());
            // Flows evicted from a full table, kept for the report, then recycled.
            AssertSameReports(merged, new FlowTableOptions { MaxFlows = 64, MaxReportedFlows = 100 });
        }
        finally
        {
            File.Delete(merged);
        }
    }

    [Fact]
    public void Analyze_EdgeCases_SameReportWithSynsHeld()
    {
        string path = Path.Combine(Path.GetTempPath(), $"pathprobe-held-edges-{Environment.ProcessId}.pcapng");
        try
        {
            WriteEdgeCases(path);
            var held = AssertSameReports(path, new FlowTableOptions());
            // The capture holds what it was made for: a connect timeout (SYN resent), a refused connect, a session.
            Assert.Contains(held.Findings, f => f.Kind == PathProbe.Findings.FindingKind.ConnectTimeout);
            Assert.Contains(held.Findings, f => f.Kind == PathProbe.Findings.FindingKind.ConnectRefused);
            Assert.Contains(held.Flows, f => f.App is SmtpFlowState { Session.Greeting: not null });
            AssertSameReports(path, new FlowTableOptions { MaxFlows = 3, MaxReportedFlows = 4 });
            AssertSameReports(path, new FlowTableOptions { MaxFlows = 2, MaxReportedFlows = 100 });
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>While a flow has only its SYN, it holds no TCP state and no SMTP session; reading either makes it, as
    /// the analysis made it; a second packet makes both for good.</summary>
    [Fact]
    public void Engine_SynOnlyFlow_HoldsNoStateUntilRead()
    {
        var e = new Engine();
        Feed(e, Syn1(25, 7000, ts: true), 0);
        Feed(e, Syn1(8080, 7001, ts: false), 0.001);
        var flows = e.Flows.LiveFlows.OrderBy(f => f.Id).ToList();
        Assert.All(flows, f => Assert.Null(f.TcpIfMade));
        Assert.Null(flows[0].AppIfMade);
        Assert.Equal(TcpHandshake.SynSent, flows[0].Tcp!.Handshake);
        Assert.Equal(1, flows[0].Tcp!.SynCount);
        Assert.Equal(unchecked(7000u * 1000 + 1), flows[0].Tcp!.Client.NextSeq);
        Assert.IsType<SmtpFlowState>(flows[0].App);
        Assert.Equal(-2, flows[1].Tcp!.Client.WinScale); // no window scale option: no scaling either way
        Assert.Null(flows[1].App);

        // The server answers: the state is kept from here on, and the handshake goes on from the held SYN.
        Feed(e, Ethernet(0x0800, Ipv4(6, TcpWithOptions(25, 40000, 9000, unchecked(7000u * 1000 + 1), Syn | Ack, [], Options(mss: 1460, ws: 7)), "203.0.113.10", "198.51.100.1")), 0.002);
        var a = e.Flows.LiveFlows.Single(f => f.ServerPort == 25);
        Assert.NotNull(a.TcpIfMade);
        Assert.Equal(TcpHandshake.SynAckSent, a.TcpIfMade!.Handshake);
    }

    /// <summary>A flow that leaves the table with only its SYN to an SMTP port makes no session then (a SYN flood would
    /// make and drop one per flow); reading it afterwards makes it, closed with the reason the flow left. The server's
    /// direction of such a flow is not made either.</summary>
    [Fact]
    public void Engine_ClosedSynOnlyFlow_MakesItsSessionWhenRead()
    {
        var e = new Engine(new AnalysisOptions { Flows = new FlowTableOptions { MaxFlows = 1 } });
        Feed(e, Syn1(25, 7000, ts: true), 0);
        Feed(e, Syn1(25, 7001, ts: false, sport: 40001), 0.001); // the table is full: the first flow is evicted
        var closed = Assert.Single(e.Flows.ClosedFlows);
        Assert.Null(closed.AppIfMade);
        Assert.Equal(0, closed.ServerToClient.Packets);
        Assert.Equal(-1, closed.ServerToClient.WindowScale);
        var s = Assert.IsType<SmtpFlowState>(closed.App);
        Assert.Same(s, closed.App); // made once, then kept
        Assert.Equal(SmtpConnectionEnd.Evicted, s.End);
        Assert.Equal("not followed further (flow table full)", s.Session.CloseReason);
        Assert.NotNull(s.EndDetail);
        Assert.Equal(2, e.Smtp!.Stats.Flows); // both flows counted as SMTP, once each
        Assert.Null(Assert.Single(e.Flows.LiveFlows).AppIfMade);
    }

    private static CaptureAnalysis AssertSameReports(string path, FlowTableOptions table)
    {
        var (text0, json0, _) = Report(path, table, hold: false);
        var (text1, json1, held) = Report(path, table, hold: true);
        Assert.Equal(json0, json1);
        Assert.Equal(text0, text1);
        return held;
    }

    private static (string Text, string Json, CaptureAnalysis Analysis) Report(string path, FlowTableOptions table, bool hold)
    {
        var options = new AnalysisOptions { Flows = table, HoldSyns = hold };
        var a = FileAnalyzer.Analyze(AnalysisInput.One(path), options, null, threads: 1);
        var sw = new StringWriter();
        TextReport.Write(sw, [a], new TextReport.Options { MaxFlowRows = int.MaxValue, MailRows = int.MaxValue });
        using var ms = new MemoryStream();
        JsonReport.Write(ms, [a]);
        return (sw.ToString(), Encoding.UTF8.GetString(ms.ToArray()), a);
    }

    private static void Feed(Engine e, byte[] frame, double seconds)
    {
        var raw = new RawFrame(frame, frame.Length, new Timestamp(T0 + (long)(seconds * 1e9)), LinkTypes.Ethernet, 0);
        e.Process(in raw);
    }

    private static byte[] Options(int mss = 0, bool sackOk = false, uint? tsval = null, int ws = -1)
    {
        var o = new List<byte>();
        if (mss > 0) o.AddRange([2, 4, (byte)(mss >> 8), (byte)mss]);
        if (sackOk) o.AddRange([4, 2]);
        if (tsval is { } v) o.AddRange([8, 10, (byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v, 0, 0, 0, 0]);
        if (ws >= 0) o.AddRange([1, 3, 3, (byte)ws]);
        while (o.Count % 4 != 0) o.Add(1);
        return o.ToArray();
    }

    private static byte[] TcpWithOptions(ushort sp, ushort dp, uint seq, uint ack, int flags, byte[] payload, byte[] options, ushort window = 64240)
    {
        var h = new byte[20 + options.Length];
        BinaryPrimitives.WriteUInt16BigEndian(h, sp);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), dp);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(8), ack);
        h[12] = (byte)((5 + options.Length / 4) << 4);
        h[13] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(14), window);
        options.CopyTo(h, 20);
        return Concat(h, payload);
    }

    /// <summary>Client 198.51.100.1, a client port and ISN per case, to 203.0.113.10.</summary>
    private static byte[] Syn1(ushort port, uint isnBase, bool ts, int flags = Syn, ushort sport = 40000) =>
        Ethernet(0x0800, Ipv4(6, TcpWithOptions(sport, port, unchecked(isnBase * 1000), 0, flags, [],
            ts ? Options(mss: 1460, sackOk: true, tsval: 1000, ws: 7) : Options(mss: 1460)), "198.51.100.1", "203.0.113.10"));

    private static void WriteEdgeCases(string path)
    {
        var frames = new List<(double T, byte[] F)>();
        const string C = "198.51.100.1", S = "203.0.113.10";
        byte[] V4(string src, string dst, ushort sp, ushort dp, uint seq, uint ack, int flags, byte[] data, byte[]? opt = null) =>
            Ethernet(0x0800, Ipv4(6, TcpWithOptions(sp, dp, seq, ack, flags, data, opt ?? []), src, dst));

        // A: SYN only, every option, to port 25.
        frames.Add((0.000, V4(C, S, 40001, 25, 1000, 0, Syn, [], Options(1460, true, 111, 7))));
        // B: SYN only, no window scale, to 8080.
        frames.Add((0.001, V4(C, S, 40002, 8080, 2000, 0, Syn, [], Options(1460))));
        // C: SYN with ECE and CWR to port 25, resent at +1 s and +3 s (a connect timeout).
        frames.Add((0.002, V4(C, S, 40003, 25, 3000, 0, Syn | 0xC0, [], Options(1460, true, 333, 7))));
        frames.Add((1.002, V4(C, S, 40003, 25, 3000, 0, Syn | 0xC0, [], Options(1460, true, 1333, 7))));
        frames.Add((3.002, V4(C, S, 40003, 25, 3000, 0, Syn | 0xC0, [], Options(1460, true, 3333, 7))));
        // D: a whole SMTP session with timestamps.
        uint c = 4000, s = 90000;
        frames.Add((0.010, V4(C, S, 40004, 25, c, 0, Syn, [], Options(1460, true, 444, 7))));
        frames.Add((0.011, V4(S, C, 25, 40004, s, c + 1, Syn | Ack, [], Options(1400, true, 900, 8))));
        frames.Add((0.012, V4(C, S, 40004, 25, c + 1, s + 1, Ack, [])));
        byte[] greet = Encoding.ASCII.GetBytes("220 mx.example.net ESMTP\r\n"), quit = Encoding.ASCII.GetBytes("QUIT\r\n"), bye = Encoding.ASCII.GetBytes("221 2.0.0 Bye\r\n");
        frames.Add((0.020, V4(S, C, 25, 40004, s + 1, c + 1, Psh | Ack, greet)));
        frames.Add((0.021, V4(C, S, 40004, 25, c + 1, s + 1 + (uint)greet.Length, Psh | Ack, quit)));
        frames.Add((0.022, V4(S, C, 25, 40004, s + 1 + (uint)greet.Length, c + 1 + (uint)quit.Length, Psh | Ack, bye)));
        frames.Add((0.023, V4(S, C, 25, 40004, s + 1 + (uint)(greet.Length + bye.Length), c + 1 + (uint)quit.Length, Fin | Ack, [])));
        frames.Add((0.024, V4(C, S, 40004, 25, c + 1 + (uint)quit.Length, s + 2 + (uint)(greet.Length + bye.Length), Fin | Ack, [])));
        // E: refused (RST-ACK from the server).
        frames.Add((0.030, V4(C, S, 40005, 25, 5000, 0, Syn, [], Options(1460))));
        frames.Add((0.031, V4(S, C, 25, 40005, 0, 5001, Rst | Ack, [])));
        // F: port reuse: a SYN alone, then a SYN with another ISN on the same ports, answered.
        frames.Add((0.040, V4(C, S, 40006, 25, 6000, 0, Syn, [], Options(1460))));
        frames.Add((0.540, V4(C, S, 40006, 25, 6600, 0, Syn, [], Options(1460))));
        frames.Add((0.541, V4(S, C, 25, 40006, 96000, 6601, Syn | Ack, [], Options(1460))));
        // G: implicit TLS (465), handshake only.
        frames.Add((0.050, V4(C, S, 40007, 465, 7000, 0, Syn, [], Options(1460, true, 777, 7))));
        frames.Add((0.051, V4(S, C, 465, 40007, 97000, 7001, Syn | Ack, [], Options(1460, true, 977, 7))));
        frames.Add((0.052, V4(C, S, 40007, 465, 7001, 97001, Ack, [])));
        // H: IPv6 SYN only, to port 25.
        frames.Add((0.060, Ethernet(0x86DD, Ipv6(6, TcpWithOptions(40008, 25, 8000, 0, Syn, [], Options(1440, true, 888, 7)), "2001:db8::1", "2001:db8::25"))));
        // I: a SYN only, then an ICMP frag-needed quoting it.
        byte[] synI = Ipv4(6, TcpWithOptions(40009, 25, 9000, 0, Syn, [], Options(1460)), C, S);
        frames.Add((0.070, Ethernet(0x0800, synI)));
        var icmp = new byte[8 + 28];
        icmp[0] = 3; icmp[1] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(6), 1400);
        synI.AsSpan(0, 28).CopyTo(icmp.AsSpan(8));
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), Checksum(icmp));
        frames.Add((0.071, Ethernet(0x0800, Ipv4(1, icmp, "192.0.2.1", C))));
        // J: a SYN only, then a client ACK (a half-open handshake seen from the middle).
        frames.Add((0.080, V4(C, S, 40010, 8080, 10000, 0, Syn, [], Options(1460))));
        frames.Add((0.081, V4(C, S, 40010, 8080, 10001, 55, Ack, [])));

        using var w = PcapNgWriter.Create(path);
        w.AddInterface(LinkTypes.Ethernet, 65535, "test");
        foreach (var (t, f) in frames.OrderBy(x => x.T))
            w.WritePacket(0, new Timestamp(T0 + (long)(t * 1e9)), f, f.Length);
    }
}
