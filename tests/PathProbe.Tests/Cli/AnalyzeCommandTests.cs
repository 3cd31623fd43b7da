using System.Text.Json;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Cli;

/// <summary>The analyze command as a user runs it: JSON contract, text report, exit codes, errors a user can act on.</summary>
public sealed class AnalyzeCommandTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = PathProbe.Cli.Program.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private static string Capture(string name) => Path.Combine(TestPaths.Captures, name);

    [Fact]
    public void Analyze_Json_HasDocumentedShape()
    {
        var (exit, output, _) = Run("analyze", "--json", Capture("smtp-healthy-ipv4.pcap"));
        Assert.Equal(0, exit);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal("pathprobe.analysis/2", root.GetProperty("schema").GetString());

        var input = root.GetProperty("inputs")[0];
        Assert.Equal("pcap", input.GetProperty("format").GetString());
        Assert.Equal("EN10MB", input.GetProperty("linkTypes")[0].GetString());
        Assert.True(input.GetProperty("packets").GetInt64() > 100);
        Assert.False(input.GetProperty("truncated").GetBoolean());
        Assert.Equal(JsonValueKind.Null, input.GetProperty("error").ValueKind);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6,9}Z$", input.GetProperty("firstTime").GetString());

        var stats = root.GetProperty("stats");
        Assert.Equal(input.GetProperty("packets").GetInt64(), stats.GetProperty("packets").GetInt64());
        Assert.Equal(JsonValueKind.Object, stats.GetProperty("malformed").ValueKind);
        Assert.Equal(0, stats.GetProperty("fragments").GetProperty("seen").GetInt64());
        Assert.Equal(0, stats.GetProperty("flowsEvicted").GetInt64());

        var flow = root.GetProperty("flows")[0];
        Assert.Equal("tcp", flow.GetProperty("protocol").GetString());
        Assert.Equal("198.51.100.10", flow.GetProperty("client").GetProperty("ip").GetString());
        Assert.Equal("203.0.113.25", flow.GetProperty("server").GetProperty("ip").GetString());
        Assert.Equal(25, flow.GetProperty("server").GetProperty("port").GetInt32());
        Assert.Equal("smtp", flow.GetProperty("application").GetString());
        Assert.Equal(1460, flow.GetProperty("mss").GetProperty("c2s").GetInt32());
        Assert.Equal(1500, flow.GetProperty("maxIpPacket").GetProperty("c2s").GetInt32());
        Assert.Equal(1448, flow.GetProperty("maxSegment").GetProperty("c2s").GetInt32());
        Assert.True(flow.GetProperty("packets").GetProperty("s2c").GetInt64() > 0);
        Assert.Equal(JsonValueKind.Array, root.GetProperty("findings").ValueKind);
    }

    [Fact]
    public void Analyze_Ipv6Capture_EndpointsAreObjects()
    {
        var (exit, output, _) = Run("analyze", "--json", Capture("smtp-healthy-ipv6.pcap"));
        Assert.Equal(0, exit);
        using var doc = JsonDocument.Parse(output);
        Assert.StartsWith("2001:db8:", doc.RootElement.GetProperty("flows")[0].GetProperty("server").GetProperty("ip").GetString());
    }

    [Fact]
    public void Analyze_FragmentedDns_CountsFragmentsAndWireSize()
    {
        var (_, output, _) = Run("analyze", "--json", Capture("dns-fragmented.pcap"));
        using var doc = JsonDocument.Parse(output);
        var frags = doc.RootElement.GetProperty("stats").GetProperty("fragments");
        Assert.True(frags.GetProperty("seen").GetInt64() >= 2);
        Assert.True(frags.GetProperty("datagramsCompleted").GetInt64() >= 1);
        var dns = doc.RootElement.GetProperty("flows").EnumerateArray().Where(f => f.GetProperty("application").GetString() == "dns").ToList();
        Assert.NotEmpty(dns);
        // The big answer crossed the wire as fragments of at most 1500 bytes, but carried more than that.
        var big = dns.OrderByDescending(f => f.GetProperty("maxSegment").GetProperty("s2c").GetInt32()).First();
        Assert.True(big.GetProperty("maxSegment").GetProperty("s2c").GetInt32() > 1500);
        Assert.InRange(big.GetProperty("maxIpPacket").GetProperty("s2c").GetInt32(), 576, 1500);
    }

    [Fact]
    public void Analyze_Text_ShowsInputCountersAndFlows()
    {
        var (exit, output, _) = Run("analyze", Capture("smtp-healthy-ipv4.pcap"));
        Assert.Equal(0, exit);
        Assert.Contains("smtp-healthy-ipv4.pcap", output);
        Assert.Contains("Anomalies  0 malformed", output);
        Assert.Contains("203.0.113.25:25", output);
        Assert.Contains("smtp", output);
    }

    [Fact]
    public void Analyze_NoFile_AnalysesBundledCapture()
    {
        var (exit, output, err) = Run("analyze", "--json");
        Assert.True(exit == 1, $"the incident has critical findings: exit 1 expected, got {exit}: {err}");
        using var doc = JsonDocument.Parse(output);
        Assert.EndsWith("smtp-mru1424-sender.pcap", doc.RootElement.GetProperty("inputs")[0].GetProperty("path").GetString());
    }

    [Fact]
    public void Analyze_MissingFile_Exit2WithMessage()
    {
        var (exit, _, err) = Run("analyze", "/nonexistent/x.pcap");
        Assert.Equal(2, exit);
        Assert.Contains("does not exist", err);
        Assert.DoesNotContain("   at ", err); // no stack trace
    }

    [Fact]
    public void Analyze_NotACapture_Exit2NamesExpectedFormats()
    {
        string path = Path.GetTempFileName();
        File.WriteAllText(path, "Hello, this is not a capture file at all.\n");
        try
        {
            var (exit, _, err) = Run("analyze", path);
            Assert.Equal(2, exit);
            Assert.Contains("pcap", err);
            Assert.Contains("pcapng", err);
            Assert.DoesNotContain("   at ", err);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Analyze_TruncatedFile_AnalysesUpToTheCutAndSaysWhere()
    {
        byte[] whole = File.ReadAllBytes(Capture("smtp-healthy-ipv4.pcap"));
        string path = Path.GetTempFileName();
        int cut = whole.Length / 2;
        File.WriteAllBytes(path, whole.AsSpan(0, cut).ToArray());
        try
        {
            var (exit, output, err) = Run("analyze", "--json", path);
            Assert.Equal(0, exit);
            using var doc = JsonDocument.Parse(output);
            var input = doc.RootElement.GetProperty("inputs")[0];
            Assert.True(input.GetProperty("truncated").GetBoolean());
            long stop = input.GetProperty("stopOffset").GetInt64();
            Assert.InRange(stop, 24, cut);
            Assert.Contains("cut short", input.GetProperty("error").GetString());
            Assert.True(input.GetProperty("packets").GetInt64() > 10);
            Assert.Contains("cut short", err);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Analyze_GzipCapture_ReadTransparently()
    {
        string path = Path.Combine(Path.GetTempPath(), $"pp-{Guid.NewGuid():N}.pcap.gz");
        using (var gz = new System.IO.Compression.GZipStream(File.Create(path), System.IO.Compression.CompressionLevel.Fastest))
            gz.Write(File.ReadAllBytes(Capture("smtp-healthy-ipv4.pcap")));
        try
        {
            var (exit, output, _) = Run("analyze", "--json", path);
            var (_, plain, _) = Run("analyze", "--json", Capture("smtp-healthy-ipv4.pcap"));
            Assert.Equal(0, exit);
            using var a = JsonDocument.Parse(output);
            using var b = JsonDocument.Parse(plain);
            Assert.True(a.RootElement.GetProperty("inputs")[0].GetProperty("compressed").GetBoolean());
            Assert.Equal(b.RootElement.GetProperty("flows").GetRawText(), a.RootElement.GetProperty("flows").GetRawText());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Analyze_UnknownOption_Exit2()
    {
        var (exit, _, err) = Run("analyze", "--no-such-option");
        Assert.Equal(2, exit);
        Assert.Contains("--no-such-option", err);
    }

    [Fact]
    public void Analyze_SeveralFiles_FlowIdsUniqueAndInputIndexed()
    {
        var (exit, output, _) = Run("analyze", "--json", Capture("smtp-mru1424-sender.pcap"), Capture("smtp-mru1424-receiver.pcap"));
        Assert.True(exit is 0 or 1);
        using var doc = JsonDocument.Parse(output);
        var flows = doc.RootElement.GetProperty("flows").EnumerateArray().ToList();
        Assert.Equal(flows.Count, flows.Select(f => f.GetProperty("id").GetInt32()).Distinct().Count());
        Assert.Equal(new[] { 0, 1 }, flows.Select(f => f.GetProperty("input").GetInt32()).Distinct().OrderBy(i => i));
        Assert.Equal(2, doc.RootElement.GetProperty("inputs").GetArrayLength());
    }
}
