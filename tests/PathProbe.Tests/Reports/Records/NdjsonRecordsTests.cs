using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;
using PathProbe.Reports.Records;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Reports.Records;

/// <summary>
/// analyze --ndjson (issue 19 item 4): on every bundled capture each line parses and validates against
/// schemas/pathprobe.records-1.schema.json (JsonSchema.Net), every smtp/dns/finding record's uid is a flow record's,
/// and the counts equal the analysis JSON's; the flow count equals tshark's conversation table.
/// </summary>
public sealed partial class NdjsonRecordsTests
{
    private static string SchemaPath => Path.Combine(TestPaths.RepoRoot, "schemas", "pathprobe.records-1.schema.json");

    public static IEnumerable<object[]> Captures() => TestPaths.BundledCaptures().Select(f => new object[] { Path.GetFileName(f) });

    [Fact]
    public void SchemaFile_IsGeneratedFromRecordTables()
    {
        var generated = RecordSchema.Generate();
        if (Environment.GetEnvironmentVariable("PATHPROBE_UPDATE_SCHEMA") == "1" || !File.Exists(SchemaPath))
            File.WriteAllText(SchemaPath, generated.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        Assert.True(JsonNode.DeepEquals(generated, JsonNode.Parse(File.ReadAllText(SchemaPath))),
            "schemas/pathprobe.records-1.schema.json differs from RecordTables; run the tests with PATHPROBE_UPDATE_SCHEMA=1 and review the diff");
    }

    [Fact]
    public void RecordTables_ColumnNames_AreSnakeCaseAndDocumentedInReadme()
    {
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
        foreach (var t in RecordTables.All)
            foreach (var c in t.Columns)
            {
                Assert.Matches("^[a-z][a-z0-9_]*$", c.Name);
                Assert.Contains($"`{c.Name}`", readme);
            }
    }

    internal static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = PathProbe.Cli.Program.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The records of analyze --ndjson on <paramref name="files"/>, each line checked against the schema.</summary>
    internal static List<JsonObject> Records(params string[] args)
    {
        var (exit, output, err) = Run(["analyze", "--ndjson", "-q", .. args]);
        Assert.True(exit is 0 or 1, $"exit {exit}: {err}");
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var records = new List<JsonObject>(lines.Length);
        foreach (var line in lines)
        {
            Assert.DoesNotContain('\n', line);
            var node = JsonNode.Parse(line)!.AsObject(); // every line is one JSON object
            var result = Schema.Value.Evaluate(JsonDocument.Parse(line).RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            Assert.True(result.IsValid, $"line does not validate: {line[..Math.Min(300, line.Length)]}\n" +
                string.Join("\n", (result.Details ?? []).Where(d => d.Errors is { Count: > 0 }).Take(5).Select(d => $"{d.InstanceLocation}: {string.Join("; ", d.Errors!.Values)}")));
            records.Add(node);
        }
        return records;
    }

    // Parsed once: JsonSchema.Net registers a schema's $id globally and refuses to register it twice.
    private static readonly Lazy<JsonSchema> Schema = new(() => JsonSchema.FromText(File.ReadAllText(SchemaPath)));

    [Theory]
    [MemberData(nameof(Captures))]
    public void AnalyzeNdjson_BundledCapture_LinesValidateIdsLinkCountsMatchJson(string name)
    {
        string path = Path.Combine(TestPaths.Captures, name);
        var records = Records(path);
        var byType = records.GroupBy(r => (string)r["type"]!).ToDictionary(g => g.Key, g => g.ToList());
        List<JsonObject> Of(string type) => byType.GetValueOrDefault(type) ?? [];

        // One scope for the run, on every record.
        Assert.Single(records.Select(r => (string)r["capture_id"]!).Distinct());
        Assert.Single(records.Select(r => (string)r["host"]!).Distinct());
        Assert.Single(Of("input"));

        // Ids link: every smtp, dns and finding record names flow records (Zeek's uid).
        var flowUids = Of("flow").ToDictionary(r => (string)r["uid"]!, r => (long)r["flow"]!);
        Assert.Equal(Of("flow").Count, flowUids.Count); // unique
        foreach (var r in Of("smtp").Concat(Of("dns")))
        {
            Assert.True(flowUids.TryGetValue((string)r["uid"]!, out long flow), $"{r["type"]} record names uid {r["uid"]}, which no flow record has");
            Assert.Equal(flow, (long)r["flow"]!);
        }
        foreach (var f in Of("finding"))
        {
            var uids = f["uids"]!.AsArray().Select(u => (string)u!).ToList();
            var flows = f["flows"]!.AsArray().Select(u => (long)u!).ToList();
            Assert.Equal(flows.Count, uids.Count);
            for (int i = 0; i < uids.Count; i++)
            {
                Assert.True(flowUids.TryGetValue(uids[i], out long flow), $"finding {f["id"]} ({f["kind"]}) names uid {uids[i]}, which no flow record has");
                Assert.Equal(flows[i], flow);
            }
        }

        // The counts are the analysis JSON's.
        var (_, json, _) = Run("analyze", "--json", "-q", path);
        var doc = JsonNode.Parse(json)!;
        var flowsJson = doc["flows"]!.AsArray();
        Assert.Equal(flowsJson.Count, Of("flow").Count);
        Assert.Equal(doc["findings"]!.AsArray().Count, Of("finding").Count);
        Assert.Equal(flowsJson.Sum(f => f!["smtp"]?["transactions"]?.AsArray().Count ?? 0), Of("smtp").Count);
        Assert.Equal(flowsJson.Sum(f => f!["dns"]?["transactions"]?.AsArray().Count ?? 0), Of("dns").Count);
        Assert.Equal((long)doc["inputs"]![0]!["packets"]!, (long)Of("input")[0]["packets"]!);
        // Per flow, the same numbers as the JSON (ids, packets, bytes, RTT).
        var jsonById = flowsJson.ToDictionary(f => (long)f!["id"]!);
        foreach (var r in Of("flow"))
        {
            var j = jsonById[(long)r["flow"]!]!;
            Assert.Equal((long)j["packets"]!["c2s"]!, (long)r["packets_c2s"]!);
            Assert.Equal((long)j["packets"]!["s2c"]!, (long)r["packets_s2c"]!);
            Assert.Equal((long)j["payloadBytes"]!["c2s"]!, (long)r["payload_bytes_c2s"]!);
            Assert.Equal((string)j["server"]!["ip"]!, (string)r["server_ip"]!);
            Assert.Equal((double?)j["tcp"]?["rtt"], (double?)r["rtt"]);
        }
        // Findings carry the analysis JSON's evidence object.
        var findingsJson = doc["findings"]!.AsArray().ToDictionary(f => (long)f!["id"]!);
        foreach (var f in Of("finding"))
            Assert.True(JsonNode.DeepEquals(findingsJson[(long)f["id"]!]!["evidence"], f["evidence"]), $"finding {f["id"]}: evidence differs from the analysis JSON's");
    }

    [Fact]
    public void AnalyzeNdjson_TwoRuns_SameFilesSameIds_HostAndCaptureIdOverride()
    {
        string path = Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap");
        var a = Records(path);
        var b = Records(path);
        Assert.Equal(a.Select(r => r.ToJsonString()), b.Select(r => r.ToJsonString())); // deterministic: the same uids
        var c = Records("--host", "mx2.example.net", "--capture-id", "run-7", path);
        Assert.All(c, r => Assert.Equal("mx2.example.net", (string)r["host"]!));
        Assert.All(c, r => Assert.Equal("run-7", (string)r["capture_id"]!));
        Assert.Equal(FlowUid.Of("run-7", 1), (string)c.First(r => (string)r["type"]! == "flow")["uid"]!);
    }

    [Fact]
    public void Analyze_JsonAndNdjson_IsAUsageError()
    {
        var (exit, _, err) = Run("analyze", "--json", "--ndjson", Path.Combine(TestPaths.Captures, "smtp-bdat.pcap"));
        Assert.Equal(PathProbe.Cli.Program.ExitUsage, exit);
        Assert.Contains("--json and --ndjson cannot be combined", err);
    }

    [Fact]
    public void Schema_RejectsAMissingColumnAndAWrongType()
    {
        var records = Records(Path.Combine(TestPaths.Captures, "smtp-421-ratelimit.pcap"));
        var flow = records.First(r => (string)r["type"]! == "flow").DeepClone().AsObject();
        flow.Remove("uid");
        Assert.False(Schema.Value.Evaluate(JsonDocument.Parse(flow.ToJsonString()).RootElement).IsValid);
        flow = records.First(r => (string)r["type"]! == "flow").DeepClone().AsObject();
        flow["client_port"] = "37262";
        Assert.False(Schema.Value.Evaluate(JsonDocument.Parse(flow.ToJsonString()).RootElement).IsValid);
        flow = records.First(r => (string)r["type"]! == "flow").DeepClone().AsObject();
        flow["extra"] = 1;
        Assert.False(Schema.Value.Evaluate(JsonDocument.Parse(flow.ToJsonString()).RootElement).IsValid);
    }

    /// <summary>The flow records against tshark's conversation tables (conv,tcp + conv,udp), on a capture with TCP and
    /// UDP flows: one flow record per conversation.</summary>
    [SkippableFact]
    public void AnalyzeNdjson_FlowCount_EqualsTsharkConversations()
    {
        string? tshark = TestPaths.Tool("tshark");
        if (tshark is null) throw new SkipException("tshark is not installed (apt-get install tshark); cross-check not run");
        string path = Path.Combine(TestPaths.Captures, "dns-tcp-and-truncated.pcap");
        var flows = Records(path).Where(r => (string)r["type"]! == "flow").ToList();
        int Conversations(string table) =>
            TestPaths.RunTool(tshark, "-n", "-r", path, "-q", "-z", $"conv,{table}").Split('\n').Count(l => ConversationLine().IsMatch(l));
        int tcp = Conversations("tcp"), udp = Conversations("udp");
        Assert.True(tcp > 0 && udp > 0, $"the capture should hold TCP and UDP conversations (tshark: {tcp} TCP, {udp} UDP)");
        Assert.Equal(tcp, flows.Count(f => (string)f["protocol"]! == "tcp"));
        Assert.Equal(udp, flows.Count(f => (string)f["protocol"]! == "udp"));
    }

    [GeneratedRegex(@"^\S+:\d+\s+<->\s+\S+:\d+\s")]
    private static partial Regex ConversationLine();
}
