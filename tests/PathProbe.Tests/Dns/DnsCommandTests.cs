using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;

namespace PathProbe.Tests.Dns;

/// <summary>
/// <c>pathprobe dns</c> end to end against nsd serving zones with the mistakes the checks look for, straight and
/// through unbound: the three outcomes (ok, a problem, unknown with the resolver's reason) and the exit statuses.
/// </summary>
public class DnsCommandTests(MailZonesFixture zones, ITestOutputHelper output) : IClassFixture<MailZonesFixture>
{
    private async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var o = new StringWriter(); var e = new StringWriter();
        int code = await Task.Run(() => PathProbe.Cli.Program.Run(args, o, e));
        output.WriteLine($"$ pathprobe {string.Join(' ', args)}  -> {code}\n{o}{e}");
        return (code, o.ToString(), e.ToString());
    }

    private sealed record Check(string Id, string Status, string Evidence, string? Fix);

    private async Task<(int Code, List<Check> Checks, JsonElement Root)> RunJson(params string[] args)
    {
        var (code, json, _) = await Run([.. args, "--json"]);
        var doc = JsonDocument.Parse(json);
        var checks = doc.RootElement.GetProperty("checks").EnumerateArray()
            .Select(c => new Check(c.GetProperty("id").GetString()!, c.GetProperty("status").GetString()!, c.GetProperty("evidence").GetString()!,
                c.GetProperty("fix").ValueKind == JsonValueKind.Null ? null : c.GetProperty("fix").GetString())).ToList();
        return (code, checks, doc.RootElement.Clone());
    }

    private string S(DnsPath path) => zones.Servers.Server(path);

    [SkippableTheory]
    [InlineData(DnsPath.Authoritative)]
    [InlineData(DnsPath.Recursive)]
    public async Task Dns_SpfListsOldAddress_FailNamesFix_ThenPassAfterZoneFix(DnsPath path)
    {
        // The seed: the server moved to 203.0.113.25 and SPF still lists the old address.
        using var servers = DnsServers.Start(MailZones.All("v=spf1 ip4:198.51.100.7 -all"));
        var (code, text, _) = await Run("dns", "example.test", "--ip", "203.0.113.25", "--server", servers.Server(path));
        Assert.Equal(1, code);
        Assert.Contains("fail (matched '-all' in example.test)", text);
        Assert.Contains("add ip4:203.0.113.25 to the SPF record of example.test", text);
        Assert.Contains("mx.example.test, which resolves back to 203.0.113.25 (FCrDNS)", text);
        Assert.Contains("policy p=quarantine (from _dmarc.example.test)", text);

        var (jcode, checks, root) = await RunJson("dns", "example.test", "--ip", "203.0.113.25", "--server", servers.Server(path));
        Assert.Equal(1, jcode);
        Assert.Equal("pathprobe.dns/1", root.GetProperty("schema").GetString());
        var spf = checks.Single(c => c.Id == "spf");
        Assert.Equal("error", spf.Status);
        Assert.Contains("ip4:203.0.113.25", spf.Fix);

        // ~all: softfail, still an error with the same fix.
        servers.Restart(MailZones.All("v=spf1 ip4:198.51.100.7 ~all"));
        (code, text, _) = await Run("dns", "example.test", "--ip", "203.0.113.25", "--server", servers.Server(path));
        Assert.Equal(1, code);
        Assert.Contains("softfail", text);
        Assert.Contains("ip4:203.0.113.25", text);

        // The fix applied: pass, and nothing else wrong: exit 0.
        servers.Restart(MailZones.All("v=spf1 ip4:203.0.113.25 ip4:198.51.100.7 -all"));
        (code, text, _) = await Run("dns", "example.test", "--ip", "203.0.113.25", "--helo", "mx.example.test", "--server", servers.Server(path));
        Assert.Contains("pass (matched 'ip4:203.0.113.25' in example.test)", text);
        Assert.Contains("mx.example.test resolves to 203.0.113.25", text);
        Assert.Equal(0, code);
    }

    [SkippableTheory]
    [InlineData(DnsPath.Authoritative)]
    [InlineData(DnsPath.Recursive)]
    public async Task Dns_MisconfiguredZone_EachProblemNamed(DnsPath path)
    {
        var (code, checks, _) = await RunJson("dns", "bad.test", "--ip", "203.0.113.26", "--helo", "real.bad.test", "--server", S(path));
        Assert.Equal(1, code);
        Assert.Contains(checks, c => c.Id == "null-mx" && c.Status == "error");
        Assert.Contains(checks, c => c.Id == "mx-cname" && c.Status == "error" && c.Evidence.Contains("real.bad.test"));
        Assert.Contains(checks, c => c.Id == "mx-address" && c.Status == "error" && c.Evidence.Contains("noaddr.bad.test has no A or AAAA"));
        Assert.Contains(checks, c => c.Id == "ns-address" && c.Status == "error" && c.Evidence.Contains("ghost.bad.test"));
        Assert.Contains(checks, c => c.Id == "apex-a" && c.Status == "warning" && c.Evidence.Contains("127.0.0.1"));
        Assert.Contains(checks, c => c.Id == "ip-ptr" && c.Status == "error" && c.Evidence == "PTR nowhere.example.test does not resolve back to 203.0.113.26");
        // The EHLO name resolves to the client here; with another name it does not.
        Assert.Contains(checks, c => c.Id == "helo" && c.Status == "ok");
        var size = checks.Single(c => c.Id == "spf-size");
        Assert.Equal("warning", size.Status);
        Assert.Contains("(truncated over UDP, answered over TCP)", size.Evidence);
        Assert.Contains("larger than one 1500-byte-MTU packet", size.Fix);
        // How it relates to a capture: the fragmentation findings name such answers.
        Assert.Contains("ip-fragmentation naming the record's size", size.Fix);
        Assert.Contains("fragment-loss", size.Fix);
        Assert.Contains(checks, c => c.Id == "dmarc" && c.Status == "info" && c.Evidence.StartsWith("no DMARC record at _dmarc.bad.test"));
        Assert.DoesNotContain(checks, c => c.Status == "unknown");

        (code, checks, _) = await RunJson("dns", "example.test", "--ip", "203.0.113.25", "--helo", "other.test", "--server", S(path));
        Assert.Contains(checks, c => c.Id == "helo" && c.Status == "warning" && c.Evidence.Contains("does not resolve"));
        Assert.Equal(1, code);

        // An address without PTR.
        (code, checks, _) = await RunJson("dns", "example.test", "--ip", "203.0.113.99", "--server", S(path));
        Assert.Contains(checks, c => c.Id == "ip-ptr" && c.Status == "error" && c.Evidence == "no PTR record (NXDOMAIN (the name does not exist))");
        Assert.Equal(1, code);
    }

    [SkippableTheory]
    [InlineData(DnsPath.Authoritative)]
    [InlineData(DnsPath.Recursive)]
    public async Task Dns_SpfOverTenLookups_ErrorNamed(DnsPath path)
    {
        var (code, checks, _) = await RunJson("dns", "lookups.test", "--server", S(path));
        Assert.Equal(1, code);
        var lookups = checks.Single(c => c.Id == "spf-lookups");
        Assert.Equal("error", lookups.Status);
        Assert.Contains("more than 10 DNS-querying terms", lookups.Evidence);
        (code, checks, _) = await RunJson("dns", "lookups.test", "--ip", "203.0.113.25", "--server", S(path));
        Assert.Contains("permerror", checks.Single(c => c.Id == "spf").Evidence);
        // Within the limit: the count is shown.
        (_, checks, _) = await RunJson("dns", "example.test", "--server", S(path));
        Assert.Equal(("ok", "0 of 10 DNS-querying terms, 0 void lookup(s)"), (checks.Single(c => c.Id == "spf-lookups").Status, checks.Single(c => c.Id == "spf-lookups").Evidence));
    }

    [SkippableTheory]
    [InlineData(DnsPath.Authoritative)]
    [InlineData(DnsPath.Recursive)]
    public async Task Dns_NonexistentDomain_OneErrorNoSpfOrDmarcAdvice(DnsPath path)
    {
        var (code, text, _) = await Run("dns", "nope.example.test", "--server", S(path));
        Assert.Equal(1, code);
        Assert.Contains($"the domain does not exist: NXDOMAIN for nope.example.test from {S(path)}", text);
        Assert.DoesNotContain("v=spf1", text);
        Assert.DoesNotContain("DMARC", text);
        var (_, checks, _) = await RunJson("dns", "nope.example.test", "--server", S(path));
        Assert.Equal("domain", Assert.Single(checks).Id);
        // With a sending address, the address's own checks still run.
        (_, checks, _) = await RunJson("dns", "nope.example.test", "--ip", "203.0.113.25", "--server", S(path));
        Assert.Equal(["domain", "ip-ptr"], checks.Select(c => c.Id));
    }

    [SkippableTheory]
    [InlineData(DnsPath.Authoritative)]
    [InlineData(DnsPath.Recursive)]
    public async Task Dns_NullMx_AcceptsNoMail_SpfAdviceDashAll(DnsPath path)
    {
        var (code, checks, _) = await RunJson("dns", "nomail.test", "--server", S(path));
        var mx = checks.Single(c => c.Id == "mx");
        Assert.Equal("info", mx.Status);
        Assert.Contains("this domain accepts no mail", mx.Evidence);
        var spf = checks.Single(c => c.Id == "spf");
        Assert.Equal("warning", spf.Status);
        Assert.Contains("\"v=spf1 -all\"", spf.Fix);
        Assert.DoesNotContain("mx -all", spf.Fix);
        Assert.DoesNotContain(checks, c => c.Id.StartsWith("mx-"));
        Assert.Equal(1, code);
    }

    [SkippableTheory]
    [InlineData(DnsPath.Authoritative)]
    [InlineData(DnsPath.Recursive)]
    public async Task Dns_Subdomain_OrganizationalDomainsDmarcApplies(DnsPath path)
    {
        var (_, checks, root) = await RunJson("dns", "sub.example.test", "--server", S(path));
        var dmarc = checks.Single(c => c.Id == "dmarc");
        Assert.Equal("ok", dmarc.Status);
        Assert.StartsWith("policy p=quarantine applies to sub.example.test (from _dmarc.example.test, which has no sp=; the organizational domain of sub.example.test by the Public Suffix List (", dmarc.Evidence);
        Assert.Contains("no DMARC record at _dmarc.sub.example.test", dmarc.Evidence);
        Assert.False(string.IsNullOrEmpty(root.GetProperty("publicSuffixList").GetString()));

        (_, checks, _) = await RunJson("dns", "mail.org.test", "--server", S(path));
        Assert.StartsWith("policy sp=quarantine applies to mail.org.test (from _dmarc.org.test,", checks.Single(c => c.Id == "dmarc").Evidence);
        // The organizational domain itself: its own p=.
        (_, checks, _) = await RunJson("dns", "org.test", "--server", S(path));
        Assert.StartsWith("policy p=reject (from _dmarc.org.test)", checks.Single(c => c.Id == "dmarc").Evidence);
    }

    [SkippableTheory]
    [InlineData(DnsPath.Authoritative, "bücher.example")]
    [InlineData(DnsPath.Recursive, "bücher.example")]
    [InlineData(DnsPath.Authoritative, "BÜCHER.Example.")]
    [InlineData(DnsPath.Authoritative, "xn--bcher-kva.example")]
    public async Task Dns_InternationalizedName_AskedAsALabel_ShownInBothForms(DnsPath path, string name)
    {
        var (code, text, _) = await Run("dns", name, "--ip", "203.0.113.25", "--server", S(path));
        Assert.StartsWith("pathprobe dns xn--bcher-kva.example (bücher.example) --ip 203.0.113.25", text);
        Assert.Contains("10 mx.xn--bcher-kva.example (mx.bücher.example)", text);
        Assert.Contains("pass (matched 'ip4:203.0.113.25' in xn--bcher-kva.example)", text);
        Assert.Contains("policy p=reject", text);
        Assert.Equal(0, code);
        var (_, _, root) = await RunJson("dns", name, "--server", S(path));
        Assert.Equal(("xn--bcher-kva.example", "bücher.example"), (root.GetProperty("domain").GetString(), root.GetProperty("domainUnicode").GetString()));
    }

    [SkippableTheory]
    [InlineData(DnsPath.Authoritative, "203.0.113.27", "PTR 'bad\\027name.example.test' is not a valid host name")]
    [InlineData(DnsPath.Recursive, "203.0.113.27", "PTR 'bad\\027name.example.test' is not a valid host name")]
    [InlineData(DnsPath.Authoritative, "203.0.113.28", "PTR 'sp ace.example.test' is not a valid host name: it contains a space")]
    public async Task Dns_PtrNotAHostName_Error(DnsPath path, string ip, string evidence)
    {
        var (code, text, _) = await Run("dns", "example.test", "--ip", ip, "--server", S(path));
        Assert.Equal(1, code);
        Assert.DoesNotContain('\u001b', text);
        var (_, checks, _) = await RunJson("dns", "example.test", "--ip", ip, "--server", S(path));
        var ptr = checks.Single(c => c.Id == "ip-ptr");
        Assert.Equal("error", ptr.Status);
        Assert.StartsWith(evidence, ptr.Evidence);
    }

    [SkippableTheory]
    [InlineData(DnsPath.Authoritative, "example.org", "REFUSED by")]
    [InlineData(DnsPath.Recursive, "www." + MailZones.Refused, "REFUSED by")]
    [InlineData(DnsPath.Recursive, "www." + MailZones.Unserved, "SERVFAIL from")]
    public async Task Dns_ServerRefuses_EveryCheckUnknownWithReason_Exit2(DnsPath path, string domain, string reason)
    {
        var (code, text, err) = await Run("dns", domain, "--server", S(path));
        Assert.Equal(2, code);
        string because = $"{reason} {S(path)}";
        Assert.Equal($"pathprobe: no check could be made: {because}; name a server that answers with --server IP[:port]", err.TrimEnd());
        // Never read as an absence.
        Assert.DoesNotContain("no DMARC record", text);
        Assert.DoesNotContain("no SPF record", text);
        Assert.DoesNotContain("has no MX", text);
        Assert.Contains("0 ok, 0 info, 0 warning(s), 0 error(s), 4 unknown (could not check)", text);
        var (_, checks, root) = await RunJson("dns", domain, "--server", S(path));
        Assert.All(checks, c => Assert.Equal("unknown", c.Status));
        Assert.All(checks, c => Assert.EndsWith(because, c.Evidence));
        Assert.Equal(because, root.GetProperty("resolverError").GetString());
        Assert.Equal(4, root.GetProperty("summary").GetProperty("unknown").GetInt32());
    }

    [SkippableFact]
    public async Task Dns_RefusedForTheDomainButReverseAnswered_PtrCheckedOthersUnknown_Exit0()
    {
        var (code, checks, _) = await RunJson("dns", "example.org", "--ip", "203.0.113.25", "--server", S(DnsPath.Authoritative));
        Assert.Equal("ok", checks.Single(c => c.Id == "ip-ptr").Status);
        Assert.All(checks.Where(c => c.Id != "ip-ptr"), c => Assert.Equal("unknown", c.Status));
        Assert.Equal(0, code); // a check was made and found no problem; the others could not be made
    }

    [SkippableFact]
    public async Task Dns_SilentServer_OneQueryTimesOut_Exit2()
    {
        using var silent = new FakeDnsServer(_ => null);
        var sw = Stopwatch.StartNew();
        var (code, text, err) = await Run("dns", "example.test", "--ip", "203.0.113.25", "--server", silent.ServerArgument, "--timeout", "0.3", "--retries", "0");
        sw.Stop();
        Assert.Equal(2, code);
        string because = $"timeout after 0.3 s from {silent.ServerArgument} (1 try)";
        Assert.Contains($"no check could be made: {because}", err);
        Assert.Contains($"unknown  {because}", text);
        Assert.DoesNotContain("no PTR record", text);
        Assert.Equal(1, silent.UdpQueries); // the first timeout stops the run: no wait per check
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), sw.Elapsed.ToString());
    }

    [SkippableFact]
    public async Task Dns_TwoServersFirstSilent_AnsweredBySecond_Quickly()
    {
        using var silent = new FakeDnsServer(_ => null);
        var sw = Stopwatch.StartNew();
        var (code, checks, root) = await RunJson("dns", "example.test", "--ip", "203.0.113.25",
            "--server", silent.ServerArgument, "--server", S(DnsPath.Recursive), "--timeout", "0.5");
        sw.Stop();
        Assert.Equal([silent.ServerArgument, S(DnsPath.Recursive)], root.GetProperty("servers").EnumerateArray().Select(e => e.GetString()));
        Assert.DoesNotContain(checks, c => c.Status == "unknown");
        Assert.Equal("ok", checks.Single(c => c.Id == "spf").Status);
        Assert.Equal(0, code);
        Assert.Equal(3, silent.UdpQueries); // the first question only (three tries), then it is asked last
        // Waiting on the silent server for each question would add its three 0.5 s tries (1.5 s) to every one of the
        // run's questions. The bound leaves room for the process start on a loaded CI machine (8.6 s measured once with
        // the test suite running beside; 1 s alone).
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(11), sw.Elapsed.ToString());
    }

    [SkippableFact]
    public async Task Dns_TruncatedAnswersAndNoTcp_Unknown_Exit2()
    {
        using var fake = new FakeDnsServer(q => FakeDnsServer.Answer(q, truncated: true));
        var (code, checks, _) = await RunJson("dns", "example.test", "--server", fake.ServerArgument, "--timeout", "0.5");
        Assert.Equal(2, code);
        Assert.All(checks, c => Assert.Equal("unknown", c.Status));
        Assert.All(checks, c => Assert.Contains($"answer truncated and TCP failed (cannot reach {fake.ServerArgument} over TCP: connection refused)", c.Evidence));
        Assert.Contains("let DNS over TCP through to " + fake.ServerArgument, checks[0].Fix);
    }

    [SkippableFact]
    public async Task Dns_MalformedAnswers_Unknown_Exit2()
    {
        using var fake = new FakeDnsServer(q => FakeDnsServer.Answer(q, id: (ushort)(((q[0] << 8) | q[1]) ^ 0x0101)));
        var (code, checks, _) = await RunJson("dns", "example.test", "--server", fake.ServerArgument, "--timeout", "0.5", "--retries", "0");
        Assert.Equal(2, code);
        Assert.All(checks, c => Assert.Equal("unknown", c.Status));
        Assert.All(checks, c => Assert.Contains($"malformed answer from {fake.ServerArgument}", c.Evidence));
    }

    [SkippableTheory]
    [InlineData("not a domain")]
    [InlineData("a b.example")]
    [InlineData("bad\u001bname.example")]
    [InlineData("bad\\032name.example")]
    [InlineData("bad..example")]
    [InlineData("localhost")]
    public async Task Dns_DomainNotAName_UsageErrorOneLine(string domain)
    {
        var (code, text, err) = await Run("dns", domain, "--server", "127.0.0.1:9");
        Assert.Equal(2, code);
        Assert.Equal("", text);
        Assert.Single(err.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("pathprobe: '", err);
        Assert.Contains("is not a domain name", err);
        Assert.DoesNotContain('\u001b', err);
    }

    [SkippableTheory]
    [InlineData("--helo", "mail host.example")]
    [InlineData("--helo", "mail\u0007.example")]
    [InlineData("--ip", "999.1.1.1")]
    [InlineData("--server", "bogus")]
    [InlineData("--timeout", "0")]
    [InlineData("--retries", "11")]
    public async Task Dns_BadOption_UsageErrorOneLine(string option, string value)
    {
        // Never the system's resolver: a test sends DNS only to loopback.
        var (code, text, err) = await Run(option == "--server" ? ["dns", "example.test", option, value] : ["dns", "example.test", option, value, "--server", "127.0.0.1:9"]);
        Assert.Equal(2, code);
        Assert.Equal("", text);
        Assert.Single(err.TrimEnd('\n').Split('\n'));
    }

    [SkippableFact]
    public async Task Dns_Help_ListsOptionsAndExitStatuses()
    {
        var (code, text, _) = await Run("dns", "--help");
        Assert.Equal(0, code);
        foreach (var s in new[] { "--server", "--timeout", "--retries", "--ip", "--helo", "--json", "unknown", "2 usage error or no check could be made" })
            Assert.Contains(s, text);
    }
}
