using System.Text.Json;
using PathProbe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Tests.Dns;

/// <summary>
/// <c>analyze --dns-checks</c> end to end: the SMTP flow of a real capture (client 198.51.100.10, EHLO
/// client.example.net, MAIL FROM sender@example.net, RCPT rcpt@example.test) checked against NSD serving the zones.
/// The seed's case: the server moved to a new address and SPF still lists the old one.
/// </summary>
public class AnalyzeDnsChecksTests(ITestOutputHelper output)
{
    private static string SenderZone(string spf) => $$"""
        $ORIGIN example.net.
        $TTL 300
        @      IN SOA ns1 hostmaster 1 3600 900 604800 300
        @      IN NS  ns1
        ns1    IN A   127.0.0.1
        @      IN TXT "{{spf}}"
        client IN A   198.51.100.10

        """;

    private const string RecipientZone = """
        $ORIGIN example.test.
        $TTL 300
        @      IN SOA ns1 hostmaster 1 3600 900 604800 300
        @      IN NS  ns1
        ns1    IN A   127.0.0.1
        @      IN MX  10 mx
        mx     IN A   203.0.113.25

        """;

    private static string Reverse(string ptr) => $$"""
        $ORIGIN 100.51.198.in-addr.arpa.
        $TTL 300
        @  IN SOA ns1.example.net. hostmaster.example.net. 1 3600 900 604800 300
        @  IN NS  ns1.example.net.
        10 IN PTR {{ptr}}

        """;

    private static Dictionary<string, string> Zones(string spf, string ptr) => new()
    {
        ["example.net"] = SenderZone(spf),
        ["example.test"] = RecipientZone,
        ["100.51.198.in-addr.arpa"] = Reverse(ptr),
    };

    private (int Code, JsonDocument Doc) Analyze(NsdServer nsd) => Analyze(nsd.ServerArgument);

    private (int Code, JsonDocument Doc) Analyze(string server)
    {
        var o = new StringWriter(); var e = new StringWriter();
        int code = PathProbe.Cli.Program.Run(["analyze", Path.Combine(TestPaths.Captures, "smtp-healthy-ipv4.pcap"), "--json",
            "--dns-checks", "--dns-server", server], o, e);
        output.WriteLine($"exit {code}\n{e}");
        return (code, JsonDocument.Parse(o.ToString()));
    }

    private static List<JsonElement> Findings(JsonDocument doc, string kind) =>
        doc.RootElement.GetProperty("findings").EnumerateArray().Where(f => f.GetProperty("kind").GetString() == kind).ToList();

    private static string Check(JsonElement f) => f.GetProperty("evidence").GetProperty("check").GetString()!;

    [SkippableFact]
    public void DnsChecks_SpfListsOldAddress_FindingNamesFixLinkedToFlow_ThenPassAfterZoneFix()
    {
        using var nsd = NsdServer.TryStart(Zones("v=spf1 ip4:198.51.100.7 -all", "client.example.net."));
        if (nsd is null) throw new SkipException($"nsd is not installed");

        var (code, doc) = Analyze(nsd);
        using (doc)
        {
            Assert.Equal(1, code); // SPF fail is critical
            var spf = Assert.Single(Findings(doc, "dns-spf"), f => Check(f) == "spf");
            Assert.Equal("critical", spf.GetProperty("severity").GetString());
            Assert.Equal(1, spf.GetProperty("flows")[0].GetInt32());
            Assert.Contains("198.51.100.10", spf.GetProperty("summary").GetString());
            Assert.Contains("ip4:198.51.100.10", spf.GetProperty("advice").GetString());

            var ptr = Assert.Single(Findings(doc, "dns-fcrdns"), f => Check(f) == "ip-ptr");
            Assert.Equal("info", ptr.GetProperty("severity").GetString());
            Assert.Contains("client.example.net, which resolves back to 198.51.100.10", ptr.GetProperty("summary").GetString());
            var helo = Assert.Single(Findings(doc, "dns-fcrdns"), f => Check(f) == "helo");
            Assert.Contains("client.example.net resolves to 198.51.100.10", helo.GetProperty("summary").GetString());

            var mx = Assert.Single(Findings(doc, "dns-mx"), f => Check(f) == "mx");
            Assert.Equal("info", mx.GetProperty("severity").GetString());
            Assert.Contains("10 mx.example.test", mx.GetProperty("summary").GetString());
        }

        // The zone is fixed (the new address listed) and the PTR now points to a name without that address.
        nsd.Restart(Zones("v=spf1 ip4:198.51.100.10 ip4:198.51.100.7 -all", "old-name.example.net."));
        (code, doc) = Analyze(nsd);
        using (doc)
        {
            var spf = Assert.Single(Findings(doc, "dns-spf"), f => Check(f) == "spf");
            Assert.Equal("info", spf.GetProperty("severity").GetString());
            Assert.Contains("pass", spf.GetProperty("summary").GetString());
            var ptr = Assert.Single(Findings(doc, "dns-fcrdns"), f => Check(f) == "ip-ptr");
            Assert.Equal("critical", ptr.GetProperty("severity").GetString());
            Assert.Contains("does not resolve back to 198.51.100.10", ptr.GetProperty("summary").GetString());
            Assert.Equal(1, code);
        }
    }

    [SkippableFact]
    public void DnsChecks_ServerDoesNotAnswer_OneFindingPerQuestionSaysWhatToDo()
    {
        // A port nothing listens on: every question fails with a resolver error, reported, never an exception.
        var o = new StringWriter(); var e = new StringWriter();
        int code = PathProbe.Cli.Program.Run(["analyze", Path.Combine(TestPaths.Captures, "smtp-healthy-ipv4.pcap"), "--json",
            "--dns-checks", "--dns-server", "127.0.0.1:9"], o, e);
        using var doc = JsonDocument.Parse(o.ToString());
        Assert.Equal(0, code);
        var failed = Findings(doc, "dns-check-failed");
        Assert.NotEmpty(failed);
        Assert.All(failed, f => Assert.Contains("--dns-server", f.GetProperty("advice").GetString()));
        Assert.All(failed, f => Assert.StartsWith("timeout after 2 s from 127.0.0.1:9 (3 tries)", f.GetProperty("evidence").GetProperty("reason").GetString()));
        Assert.Empty(Findings(doc, "dns-fcrdns"));
        Assert.Empty(Findings(doc, "dns-spf"));
    }

    /// <summary>The case: a server that answers REFUSED gave "[critical] dns-fcrdns: no PTR record (REFUSED)".
    /// A refusal is a check that could not be made (dns-check-failed, with the reason), never a missing record.</summary>
    [SkippableTheory]
    [InlineData(DnsPath.Authoritative)]
    [InlineData(DnsPath.Recursive)]
    public void DnsChecks_ServerRefuses_CheckFailedWithReason_NeverMissingRecord(DnsPath path)
    {
        // These servers serve none of the capture's zones: nsd refuses them; unbound is told to refuse them.
        using var servers = DnsServers.Start(new Dictionary<string, string> { ["unrelated.test"] = RecipientZone.Replace("example.test", "unrelated.test") },
            refused: ["example.net", "example.test", "100.51.198.in-addr.arpa"]);
        var (code, doc) = Analyze(servers.Server(path));
        using (doc)
        {
            Assert.Equal(0, code);
            Assert.Empty(Findings(doc, "dns-fcrdns"));
            Assert.Empty(Findings(doc, "dns-spf"));
            Assert.Empty(Findings(doc, "dns-mx"));
            var failed = Findings(doc, "dns-check-failed");
            Assert.Equal(["helo", "ip-ptr", "mx", "spf", "spf-helo"], failed.Select(Check).Order(StringComparer.Ordinal).ToList());
            Assert.All(failed, f => Assert.Equal("warning", f.GetProperty("severity").GetString()));
            Assert.All(failed, f => Assert.EndsWith($"REFUSED by {servers.Server(path)}", f.GetProperty("evidence").GetProperty("reason").GetString()));
            var ptr = failed.Single(f => Check(f) == "ip-ptr");
            Assert.Equal("dns-fcrdns", ptr.GetProperty("evidence").GetProperty("for").GetString());
            Assert.StartsWith("could not check PTR of 198.51.100.10 (the sending address) (dns-fcrdns): REFUSED by", ptr.GetProperty("summary").GetString());
        }
    }

    [SkippableTheory]
    [InlineData("sender@example.net", "example.net")]
    [InlineData("<Sender@Example.NET>", "example.net")]
    [InlineData("user@Bücher.example", "xn--bcher-kva.example")]
    [InlineData("user@bad\u001bname.example", null)]
    [InlineData("", null)]
    [InlineData("<>", null)]
    [InlineData("user@[192.0.2.1]", null)]
    [InlineData("nodomain", null)]
    public void Domain_OfEnvelopeAddress(string address, string? domain) =>
        Assert.Equal(domain, PathProbe.Cli.Commands.AnalyzeCommand.Domain(address));
}
