using PathProbe.Analysis.Dns;
using PathProbe.Decoding.Reassembly;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;
using static PathProbe.Tests.Analysis.Dns.DnsTestPackets;

namespace PathProbe.Tests.Analysis.Fragmentation;

public sealed class FragmentationDetectorTests
{
    private const string Client = "198.51.100.10", Server = "203.0.113.53";

    private static InputSummary Input() => new() { Path = "test" };

    /// <summary>A UDP datagram from the server carrying a DNS answer of about 2,900 bytes (12 TXT records).</summary>
    private static byte[] BigAnswerDatagram(ushort id) =>
        UdpPayload(53, 40000, Response(id, "big.example.test", DnsType.TXT,
            Enumerable.Range(0, 12).Select(i => (DnsType.TXT, Txt(new string((char)('a' + i), 230))))));

    private static object? Ev(Finding f, string key) => PathProbe.Tests.Support.FindingJson.Value(PathProbe.Tests.Support.FindingJson.Ev(f, key));

    [Fact]
    public void ReassembledDnsAnswer_IpFragmentationInfoPerSender()
    {
        var e = new Engine();
        Feed(e, Udp(Client, 40000, Server, 53, Query(0x77, "big.example.test", DnsType.TXT, edns: 4096)), 0);
        var datagram = BigAnswerDatagram(0x77);
        foreach (var frag in Fragments(Server, Client, 17, datagram, 0x28da, 1480)) Feed(e, frag, 0.001);
        var a = e.Complete(Input());

        var f = Assert.Single(a.Findings);
        Assert.Equal("ip-fragmentation", f.Name);
        Assert.Equal(Severity.Info, f.Severity);
        Assert.Equal(datagram.Length, Ev(f, "maxDatagramBytes"));
        Assert.Equal(2, Ev(f, "maxFragments"));
        Assert.Equal(1500, Ev(f, "largestFragment"));
        Assert.Equal(4096, Ev(f, "queryEdnsSize"));
        Assert.StartsWith($"203.0.113.53 sends DNS answers of {datagram.Length:#,0} bytes over UDP in 2 fragments (largest IP packet 1,500 bytes, DF not set)", f.Summary);
        var t = a.Flows.Select(x => x.App).OfType<DnsFlowState>().Single().Transactions.Single();
        Assert.True(t.Response!.Fragmented);
        Assert.Equal(2, t.Response.FragmentCount);
    }

    /// <summary>A sender's datagrams are counted each, its flows once each: three fragmented answers on one flow and one
    /// on another are 4 datagrams in 2 flows (the flow is counted with its first reassembled datagram).</summary>
    [Fact]
    public void SeveralDatagramsOnOneFlow_FlowCountedOnce()
    {
        var e = new Engine();
        ushort ipId = 0x3000;
        double t = 0;
        foreach (var (port, id) in new (ushort, ushort)[] { (40000, 1), (40000, 2), (40001, 3), (40000, 4) })
        {
            Feed(e, Udp(Client, port, Server, 53, Query(id, "big.example.test", DnsType.TXT, edns: 4096)), t);
            var datagram = UdpPayload(53, port, Response(id, "big.example.test", DnsType.TXT,
                Enumerable.Range(0, 12).Select(i => (DnsType.TXT, Txt(new string((char)('a' + i), 230))))));
            foreach (var frag in Fragments(Server, Client, 17, datagram, ipId++, 1480)) Feed(e, frag, t + 0.001);
            t += 0.1;
        }
        var a = e.Complete(Input());

        var f = Assert.Single(a.Findings, x => x.Name == "ip-fragmentation");
        Assert.Equal(2, Ev(f, "flowCount"));
        Assert.Contains("4 datagrams in 2 flows", f.Summary);
        Assert.Equal(a.Flows.Where(x => x.ClientToServer.Packets > 0).Select(x => x.Id).Order(), f.Flows.Order());
    }

    [Fact]
    public void FirstFragmentOnly_QueryNeverAnswered_CriticalFragmentLossTiedToQueryAndIcmp()
    {
        var e = new Engine();
        var query = Query(0x1234, "big.example.test", DnsType.TXT, edns: 4096);
        var datagram = BigAnswerDatagram(0x1234);
        Feed(e, Udp(Client, 40000, Server, 53, query), 0);
        var first = Fragments(Server, Client, 17, datagram, 0xe059, 1480)[0];
        Feed(e, first, 0.001);
        Feed(e, IcmpReassemblyTimeExceeded(Client, Server, first), 5.1);
        Feed(e, Udp(Client, 1111, "192.0.2.9", 2222, new byte[] { 1 }), 8);
        var a = e.Complete(Input());

        var loss = Assert.Single(a.Findings, f => f.Name == "fragment-loss");
        Assert.Equal(Severity.Critical, loss.Severity);
        Assert.Equal(0x1234, Ev(loss, "dnsId"));
        Assert.Equal("TXT big.example.test", Ev(loss, "question"));
        Assert.Equal("timeout", Ev(loss, "queryOutcome"));
        Assert.Equal(1, Ev(loss, "icmpReassemblyTimeExceeded"));
        Assert.Equal(2, Ev(loss, "fragmentsExpected"));
        Assert.Contains("1 of 2 fragments missing", loss.Summary);
        var flowId = a.Flows.Single(f => f.ServerPort == 53).Id;
        Assert.Equal(new[] { flowId }, loss.Flows);
        Assert.Single(a.Findings, f => f.Name == "dns-timeout");
        Assert.DoesNotContain(a.Findings, f => f.Name == "ip-fragmentation"); // nothing was reassembled
        var t = a.Flows.Select(x => x.App).OfType<DnsFlowState>().Single().Transactions.Single();
        Assert.Equal(1, t.AnswerDatagramsLost);
    }

    [Fact]
    public void LostFragmentButAnswerRetransmittedWhole_Warning()
    {
        var e = new Engine();
        Feed(e, Udp(Client, 40000, Server, 53, Query(0x10, "big.example.test", DnsType.TXT, edns: 4096)), 0);
        var datagram = BigAnswerDatagram(0x10);
        Feed(e, Fragments(Server, Client, 17, datagram, 0x1111, 1480)[0], 0.001);
        Feed(e, Udp(Client, 40000, Server, 53, Query(0x10, "big.example.test", DnsType.TXT, edns: 4096)), 2);
        foreach (var piece in Fragments(Server, Client, 17, datagram, 0x2222, 1480)) Feed(e, piece, 2.001);
        Feed(e, Udp(Client, 1111, "192.0.2.9", 2222, new byte[] { 1 }), 40); // past the reassembly timeout: the first times out
        var a = e.Complete(Input());

        var loss = Assert.Single(a.Findings, f => f.Name == "fragment-loss");
        Assert.Equal(Severity.Warning, loss.Severity);
        Assert.Equal("answered", Ev(loss, "queryOutcome"));
        var frag = Assert.Single(a.Findings, f => f.Name == "ip-fragmentation");
        Assert.Equal(Severity.Warning, frag.Severity); // the same sender also lost fragments
        Assert.DoesNotContain(a.Findings, f => f.Name == "dns-timeout");
    }

    [Fact]
    public void LastFragmentOnly_NoPorts_WarningWithoutFlow()
    {
        var e = new Engine();
        var frags = Fragments("192.0.2.1", "192.0.2.2", 17, UdpPayload(5000, 6000, new byte[3000]), 0x42, 1480);
        Feed(e, frags[^1], 0);
        Feed(e, Udp(Client, 1111, "192.0.2.9", 2222, new byte[] { 1 }), 5);
        var a = e.Complete(Input());
        var loss = Assert.Single(a.Findings, f => f.Name == "fragment-loss");
        Assert.Equal(Severity.Warning, loss.Severity);
        Assert.Empty(loss.Flows);
        Assert.Contains("the first fragment never arrived", loss.Summary);
        Assert.StartsWith("UDP datagrams from 192.0.2.1 to 192.0.2.2", loss.Summary);
    }

    [Fact]
    public void FragmentOpenAtEndWithinGrace_NotJudged()
    {
        var e = new Engine();
        var frags = Fragments("192.0.2.1", "192.0.2.2", 17, UdpPayload(5000, 6000, new byte[3000]), 0x42, 1480);
        Feed(e, frags[0], 0);
        Feed(e, Udp(Client, 1111, "192.0.2.9", 2222, new byte[] { 1 }), 0.5);
        var a = e.Complete(Input());
        Assert.DoesNotContain(a.Findings, f => f.Name == "fragment-loss");
        Assert.Equal(1, a.Fragments.OpenAtEnd);
    }

    [Fact]
    public void Reassembler_IncompleteRecordKeepsBoundedHeadOfFirstFragment()
    {
        var payload = Enumerable.Range(0, 1480).Select(i => (byte)i).ToArray();
        var key = new FragmentKey(IpAddress.Parse("192.0.2.1"), IpAddress.Parse("192.0.2.2"), 7, 17, 4);
        var r = new IpReassembler(new ReassemblyOptions { IncompleteHeadBytes = 100 });
        r.Add(key, 0, true, payload, new Timestamp(1), out _, out _);
        r.Finish();
        var rec = Assert.Single(r.Incomplete);
        Assert.Equal(1480, rec.FirstFragmentLength);
        Assert.Equal(payload[..100], rec.FirstFragmentHead.ToArray());

        var none = new IpReassembler(new ReassemblyOptions { IncompleteHeadBytes = 0 });
        none.Add(key, 1480, false, payload[..8], new Timestamp(1), out _, out _);
        none.Finish();
        Assert.True(Assert.Single(none.Incomplete).FirstFragmentHead.IsEmpty);
        Assert.Equal(0, none.Incomplete[0].FirstFragmentLength);
    }
}
