using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Reports;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Reports;

/// <summary>
/// The published JSON Schema (schemas/pathprobe.analysis-2.schema.json, validated with JsonSchema.Net 8.0.5): every
/// bundled capture's document validates, and the schema's evidence vocabulary is the code's (EvidenceKeys).
/// </summary>
public sealed class JsonSchemaTests
{
    private static string SchemaPath => Path.Combine(TestPaths.RepoRoot, "schemas", "pathprobe.analysis-2.schema.json");

    public static IEnumerable<object[]> Captures() => TestPaths.BundledCaptures().Select(f => new object[] { Path.GetFileName(f) });

    [Fact]
    public void SchemaFile_EvidenceVocabulary_IsEvidenceKeys()
    {
        var doc = JsonNode.Parse(File.ReadAllText(SchemaPath))!.AsObject();
        var generated = EvidenceKeys.Schema();
        if (Environment.GetEnvironmentVariable("PATHPROBE_UPDATE_SCHEMA") == "1")
        {
            doc["$defs"]!["evidence"] = generated;
            File.WriteAllText(SchemaPath, doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            return;
        }
        Assert.True(JsonNode.DeepEquals(generated, doc["$defs"]!["evidence"]),
            "schemas/pathprobe.analysis-2.schema.json: $defs/evidence differs from EvidenceKeys; run the tests with PATHPROBE_UPDATE_SCHEMA=1 and review the diff");
    }

    [Fact]
    public void EvidenceKeys_OneNameOneType()
    {
        var names = EvidenceKeys.All.GroupBy(k => k.Name).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.Empty(names);
        Assert.All(EvidenceKeys.All, k => Assert.Matches("^[a-z][a-zA-Z0-9]*$", k.Name));
    }

    [Theory]
    [MemberData(nameof(Captures))]
    public void Analyze_BundledCapture_DocumentValidatesAgainstSchema2(string name)
    {
        var a = FileAnalyzer.Analyze(Path.Combine(TestPaths.Captures, name));
        AssertValid(Render(a));
    }

    [Fact]
    public void Schema_RejectsSchema1Shapes()
    {
        // The schema can fail: an endpoint as "ip:port", a DNS id as a string, a duration in milliseconds.
        var a = FileAnalyzer.Analyze(Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap"));
        var doc = JsonNode.Parse(Render(a))!;
        doc["flows"]![0]!["client"] = "198.51.100.10:56552";
        Assert.False(Evaluate(doc.ToJsonString()).IsValid);
        doc = JsonNode.Parse(Render(a))!;
        doc["flows"]![0]!["tcp"]!["initialRttMs"] = 0.5;
        Assert.False(Evaluate(doc.ToJsonString()).IsValid);
        doc = JsonNode.Parse(Render(a))!;
        doc["findings"]![0]!["evidence"]!["dnsId"] = "0xdb72";
        Assert.False(Evaluate(doc.ToJsonString()).IsValid);
    }

    internal static string Render(CaptureAnalysis a)
    {
        using var ms = new MemoryStream();
        JsonReport.Write(ms, [a]);
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    // Parsed once: JsonSchema.Net registers a schema's $id globally and refuses to register it twice.
    private static readonly Lazy<JsonSchema> Schema = new(() => JsonSchema.FromText(File.ReadAllText(SchemaPath)));

    private static EvaluationResults Evaluate(string json)
    {
        var schema = Schema.Value;
        using var doc = JsonDocument.Parse(json);
        return schema.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
    }

    internal static void AssertValid(string json)
    {
        var r = Evaluate(json);
        if (r.IsValid) return;
        var errors = (r.Details ?? []).Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Key}: {e.Value}")).Take(20);
        Assert.Fail("document does not validate against schemas/pathprobe.analysis-2.schema.json:\n" + string.Join("\n", errors));
    }
}
