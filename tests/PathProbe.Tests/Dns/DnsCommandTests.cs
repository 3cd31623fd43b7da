using System.Text.Json;
using PathProbe.Cli.Commands;
using Xunit.Abstractions;

namespace PathProbe.Tests.Dns;

/// <summary>pathprobe dns end to end against NSD serving zones with the misconfigurations the checks look for.</summary>
public class DnsCommandTests(ITestOutputHelper output)
{
    private static string ExampleZone(string spf) => $$"""
        $ORIGIN example.test.
        $TTL 300
        @      IN SOA ns1 hostmaster 1 3600 900 604800 300
        @      IN NS  ns1
        ns1    IN A   127.0.0.1
        @      IN MX  10 mx
        @      IN TXT "{{spf}}"
        mx     IN A   203.0.113.25
        _dmarc IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.test"

        """;

    private const string Reverse = """
        $ORIGIN 113.0.203.in-addr.arpa.
        $TTL 300
        @  IN SOA ns1.example.test. hostmaster.example.test. 1 3600 900 604800 300
        @  IN NS  ns1.example.test.
        25 IN PTR mx.example.test.
        26 IN PTR nowhere.example.test.

        """;

    private static string BadZone()
    {
        var big = "v=spf1 " + string.Join(" ", Enumerable.Range(1, 40).Select(i => $"ip4:192.0.2.{i}")) + " -all";
        // TXT strings hold at most 255 bytes: split the record (SPF joins the strings without separator, RFC 7208 §3.3).
        var strings = string.Join(" ", big.Chunk(200).Select(c => "\"" + new string(c) + "\""));
        var sb = new System.Text.StringBuilder($$"""
            $ORIGIN bad.test.
            $TTL 300
            @      IN SOA ns1 hostmaster 1 3600 900 604800 300
            @      IN NS  ns1
            @      IN NS  ghost
            ns1    IN A   127.0.0.1
            @      IN A   127.0.0.1
            @      IN MX  0 .
            @      IN MX  10 alias
            @      IN MX  20 noaddr
            alias  IN CNAME real
            real   IN A   203.0.113.26
            noaddr IN TXT "no address here"
            @      IN TXT {{strings}}

            """);
        for (int i = 0; i < 8; i++) sb.Append($"@ IN TXT \"filler-{i} {new string('x', 150)}\"\n");
        return sb.ToString();
    }

    private async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var o = new StringWriter(); var e = new StringWriter();
        int code = await Task.Run(() => PathProbe.Cli.Program.Run(args, o, e));
        output.WriteLine($"$ pathprobe {string.Join(' ', args)}  -> {code}\n{o}{e}");
        return (code, o.ToString(), e.ToString());
    }

    [SkippableFact]
    public async Task Dns_SpfListsOldAddress_FailNamesFix_ThenPassAfterZoneFix()
    {
        using var nsd = NsdServer.TryStart(new Dictionary<string, string>
        {
            ["example.test"] = ExampleZone("v=spf1 ip4:198.51.100.7 -all"),
            ["113.0.203.in-addr.arpa"] = Reverse,
        });
        if (nsd is null) throw new SkipException($"nsd is not installed");

        var (code, text, _) = await Run("dns", "example.test", "--ip", "203.0.113.25", "--server", nsd.ServerArgument);
        Assert.Equal(1, code);
        Assert.Contains("fail (matched '-all' in example.test)", text);
        Assert.Contains("add ip4:203.0.113.25 to the SPF record of example.test", text);
        Assert.Contains("mx.example.test, which resolves back to 203.0.113.25 (FCrDNS)", text);
        Assert.Contains("policy p=quarantine", text);

        var (jcode, json, _) = await Run("dns", "example.test", "--ip", "203.0.113.25", "--server", nsd.ServerArgument, "--json");
        Assert.Equal(1, jcode);
        using (var doc = JsonDocument.Parse(json))
        {
            Assert.Equal("pathprobe.dns/1", doc.RootElement.GetProperty("schema").GetString());
            var spf = doc.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("id").GetString() == "spf");
            Assert.Equal("error", spf.GetProperty("status").GetString());
            Assert.Contains("ip4:203.0.113.25", spf.GetProperty("fix").GetString());
        }

        // ~all: softfail, still an error with the same fix.
        nsd.Restart(new Dictionary<string, string> { ["example.test"] = ExampleZone("v=spf1 ip4:198.51.100.7 ~all") });
        (code, text, _) = await Run("dns", "example.test", "--ip", "203.0.113.25", "--server", nsd.ServerArgument);
        Assert.Equal(1, code);
        Assert.Contains("softfail", text);
        Assert.Contains("ip4:203.0.113.25", text);

        // The fix applied: pass and exit 0.
        nsd.Restart(new Dictionary<string, string> { ["example.test"] = ExampleZone("v=spf1 ip4:203.0.113.25 ip4:198.51.100.7 -all") });
        (code, text, _) = await Run("dns", "example.test", "--ip", "203.0.113.25", "--helo", "mx.example.test", "--server", nsd.ServerArgument);
        Assert.Contains("pass (matched 'ip4:203.0.113.25' in example.test)", text);
        Assert.Contains("mx.example.test resolves to 203.0.113.25", text);
        Assert.Equal(0, code);
    }

    [SkippableFact]
    public async Task Dns_MisconfiguredZone_EachProblemReported()
    {
        using var nsd = NsdServer.TryStart(new Dictionary<string, string> { ["bad.test"] = BadZone(), ["113.0.203.in-addr.arpa"] = Reverse });
        if (nsd is null) throw new SkipException($"nsd is not installed");
        var (code, json, _) = await Run("dns", "bad.test", "--ip", "203.0.113.26", "--server", nsd.ServerArgument, "--json");
        Assert.Equal(1, code);
        using var doc = JsonDocument.Parse(json);
        var checks = doc.RootElement.GetProperty("checks").EnumerateArray()
            .Select(c => (Id: c.GetProperty("id").GetString()!, Status: c.GetProperty("status").GetString()!, Evidence: c.GetProperty("evidence").GetString()!)).ToList();
        Assert.Contains(checks, c => c.Id == "null-mx" && c.Status == "error");
        Assert.Contains(checks, c => c.Id == "mx-cname" && c.Status == "error" && c.Evidence.Contains("real.bad.test"));
        Assert.Contains(checks, c => c.Id == "mx-address" && c.Status == "error" && c.Evidence.Contains("noaddr.bad.test"));
        Assert.Contains(checks, c => c.Id == "ns-address" && c.Status == "error" && c.Evidence.Contains("ghost.bad.test"));
        Assert.Contains(checks, c => c.Id == "apex-a" && c.Status == "warning");
        Assert.Contains(checks, c => c.Id == "ip-ptr" && c.Status == "error" && c.Evidence.Contains("does not resolve back"));
        Assert.Contains(checks, c => c.Id == "spf-size" && c.Status == "warning");
        Assert.Contains(checks, c => c.Id == "dmarc" && c.Evidence.Contains("no DMARC"));
    }

    [SkippableFact]
    public async Task Dns_UsageErrors_Exit2()
    {
        Assert.Equal(2, (await Run("dns", "not a domain")).Code);
        Assert.Equal(2, (await Run("dns", "example.test", "--ip", "999.1.1.1", "--server", "127.0.0.1:9")).Code);
        Assert.Equal(2, (await Run("dns", "example.test", "--server", "bogus")).Code);
    }

    [SkippableFact]
    public async Task Dns_SilentServer_Exit2WithMessage()
    {
        using var silent = new System.Net.Sockets.UdpClient(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        int port = ((System.Net.IPEndPoint)silent.Client.LocalEndPoint!).Port;
        var (code, _, err) = await Run("dns", "example.test", "--server", $"127.0.0.1:{port}", "--timeout", "0.3");
        Assert.Equal(2, code);
        Assert.Contains("did not answer", err);
    }
}
