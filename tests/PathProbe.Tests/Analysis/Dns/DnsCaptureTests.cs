using System.Globalization;
using PathProbe.Analysis.Dns;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Tests.Analysis.Dns;

/// <summary>DNS and fragmentation analysis end to end on the bundled DNS captures (see captures/README.md), and
/// every DNS message PathProbe matched against tshark's dissection.</summary>
public sealed class DnsCaptureTests
{
    private static CaptureAnalysis Analyze(string name) => FileAnalyzer.Analyze(Path.Combine(TestPaths.Captures, name));

    private static List<DnsTransaction> Transactions(CaptureAnalysis a) =>
        a.Flows.Select(f => f.App).OfType<DnsFlowState>().SelectMany(s => s.Transactions).OrderBy(t => t.FirstSent).ToList();

    private static object? Ev(Finding f, string key) => PathProbe.Tests.Support.FindingJson.Value(PathProbe.Tests.Support.FindingJson.Ev(f, key));

    /// <summary>Queries whose flows the report does not keep (beyond its flow limit) are counted on the DNS line, so
    /// its numbers add up to the queries decoded (as the Mail line's do for sessions).</summary>
    [Fact]
    public void Analyze_ReportFlowLimit_DnsLineCountsTheQueriesNotListed()
    {
        string capture = Path.Combine(TestPaths.Captures, "dns-fragmented.pcap");
        var all = FileAnalyzer.Analyze(capture);
        Assert.Equal(3, Transactions(all).Count);
        Assert.Equal(3, all.Dns!.Transactions);
        Assert.DoesNotContain("more queries decoded but not listed", Text(all));

        var options = new AnalysisOptions { Flows = new PathProbe.Flows.FlowTableOptions { MaxReportedFlows = 1 } };
        var one = FileAnalyzer.Analyze(AnalysisInput.One(capture), options, null);
        int listed = Transactions(one).Count;
        Assert.True(listed < 3, $"{listed} queries listed with one flow kept");
        Assert.Contains($"DNS        {(listed == 1 ? "1 query" : $"{listed} queries")} (", Text(one));
        Assert.Contains($"; {3 - listed} more {(3 - listed == 1 ? "query" : "queries")} decoded but not listed (report limit of flows)", Text(one));
    }

    private static string Text(CaptureAnalysis a)
    {
        var sw = new StringWriter();
        PathProbe.Reports.TextReport.Write(sw, new[] { a }, new PathProbe.Reports.TextReport.Options { Width = 1000 });
        return sw.ToString();
    }

    [SkippableFact]
    public void DnsFragmented_AllAnswered_TxtAnswerFragmented_NoLoss()
    {
        var a = Analyze("dns-fragmented.pcap");
        var tx = Transactions(a);
        Assert.Equal(new[] { "TXT big.example.test", "MX example.test", "PTR 25.113.0.203.in-addr.arpa" }, tx.Select(t => t.Question));
        Assert.All(tx, t => Assert.Equal(DnsOutcome.Answered, t.Outcome));
        Assert.All(tx, t => Assert.Equal(4096, t.QueryEdnsSize));
        var txt = tx[0].Response!;
        Assert.True(txt.Fragmented);
        Assert.Equal(2, txt.FragmentCount);
        Assert.Equal(2925, txt.Size);
        Assert.Equal(12, txt.AnswerCount);
        Assert.False(tx[1].Response!.Fragmented);
        Assert.Contains("MX 10 mx.example.test", tx[1].Response!.Records);
        Assert.Contains("PTR mx.example.test", tx[2].Response!.Records);

        var f = Assert.Single(a.Findings);
        Assert.Equal("ip-fragmentation", f.Name);
        Assert.Equal(Severity.Info, f.Severity);
        Assert.Equal("203.0.113.53", Ev(f, "peer"));
        Assert.Equal(2933, Ev(f, "maxDatagramBytes"));
        Assert.Equal(1500, Ev(f, "largestFragment"));
        Assert.Equal(false, Ev(f, "dontFragment"));
    }

    [SkippableFact]
    public void DnsFragmentLost_LossTiedToTxtQueryAndRetry_TimeoutReported_MxAnswered()
    {
        var a = Analyze("dns-fragment-lost.pcap");
        var tx = Transactions(a);
        Assert.Equal(3, tx.Count);
        var (first, retry, mx) = (tx[0], tx[1], tx[2]);
        Assert.Equal("TXT big.example.test", first.Question);
        Assert.Same(first, retry.RetryOf);
        Assert.Equal(0xdb72, retry.Id);
        Assert.Equal(DnsOutcome.TimedOut, first.Outcome);
        Assert.Equal(DnsOutcome.TimedOut, retry.Outcome);
        Assert.Equal((1, 1), (first.AnswerDatagramsLost, retry.AnswerDatagramsLost));
        Assert.Equal("MX example.test", mx.Question);
        Assert.Equal(DnsOutcome.Answered, mx.Outcome);

        var loss = Assert.Single(a.Findings, f => f.Name == "fragment-loss");
        Assert.Equal(Severity.Critical, loss.Severity);
        Assert.Equal("TXT big.example.test", Ev(loss, "question"));
        Assert.Equal(0xdb72, Ev(loss, "dnsId"));
        Assert.Equal(2, Ev(loss, "datagrams"));
        Assert.Equal(2, Ev(loss, "icmpReassemblyTimeExceeded"));
        Assert.Equal(2, Ev(loss, "sends"));
        Assert.Equal(new[] { first.FlowId, retry.FlowId }, loss.Flows);
        Assert.Contains("sent 2 times over 2.01 s and never answered", loss.Summary);

        var timeout = Assert.Single(a.Findings, f => f.Name == "dns-timeout");
        Assert.Equal(2, Ev(timeout, "sends"));
        Assert.DoesNotContain(a.Findings, f => f.Name == "ip-fragmentation");
    }

    [SkippableFact]
    public void DnsTcpAndTruncated_TruncatedUdpThenTcpRetryRecognised()
    {
        var a = Analyze("dns-tcp-and-truncated.pcap");
        var tx = Transactions(a);
        var udp = tx[0];
        Assert.Equal((DnsTransport.Udp, 0x6d48), (udp.Transport, (int)udp.Id));
        Assert.True(udp.Response!.Truncated);
        var tcp = Assert.IsType<DnsTransaction>(udp.RetriedBy);
        Assert.Equal((DnsTransport.Tcp, 0x677b), (tcp.Transport, (int)tcp.Id));
        Assert.Equal(2948, tcp.Response!.Size);
        Assert.Equal(12, tcp.Response.AnswerCount);
        Assert.Contains(tx, t => t.Question == "TXT example.test" && t.Response!.Records.Contains("TXT \"v=spf1 ip4:198.51.100.10 -all\""));
        Assert.Contains(tx, t => t.Transport == DnsTransport.Tcp && t.Question == "MX example.test" && t.Outcome == DnsOutcome.Answered);
        Assert.All(tx, t => Assert.Equal(DnsOutcome.Answered, t.Outcome));
        var f = Assert.Single(a.Findings);
        Assert.Equal("dns-truncated", f.Name);
        Assert.Equal(true, Ev(f, "tcpRetry"));
        Assert.Equal(tcp.FlowId, Ev(f, "tcpFlow"));
    }

    public static IEnumerable<object[]> DnsCaptures() =>
        new[] { "dns-fragmented.pcap", "dns-fragment-lost.pcap", "dns-tcp-and-truncated.pcap" }.Select(n => new object[] { n });

    [SkippableTheory]
    [MemberData(nameof(DnsCaptures))]
    public void DnsMessages_MatchTshark(string name)
    {
        string? tshark = TestPaths.Tool("tshark");
        if (tshark is null) throw new SkipException($"tshark is not installed (apt-get install tshark); cross-check not run");
        string path = Path.Combine(TestPaths.Captures, name);
        // Messages quoted inside ICMP errors are not messages on the wire.
        var expected = TestPaths.RunTool(tshark, "-n", "-r", path, "-Y", "dns && !icmp", "-T", "fields",
                "-e", "dns.id", "-e", "dns.qry.name", "-e", "dns.flags.response", "-e", "dns.flags.rcode", "-e", "dns.flags.truncated", "-e", "dns.count.answers")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('\t'))
            .Select(c => c[2] == "1"
                ? $"response {Convert.ToInt32(c[0], 16)} {c[1]} rcode={c[3]} tc={c[4]} an={c[5]}"
                : $"query {Convert.ToInt32(c[0], 16)} {c[1]}")
            .OrderBy(s => s, StringComparer.Ordinal).ToList();

        var actual = new List<string>();
        foreach (var t in Transactions(Analyze(name)))
        {
            for (int i = 0; i < t.Sends; i++) actual.Add($"query {t.Id} {t.Name}");
            if (t.Response is { } r)
                actual.Add($"response {t.Id} {t.Name} rcode={r.Rcode.ToString(CultureInfo.InvariantCulture)} tc={(r.Truncated ? 1 : 0)} an={r.AnswerCount}");
        }
        actual.Sort(StringComparer.Ordinal);
        Assert.Equal(expected, actual);
    }
}
