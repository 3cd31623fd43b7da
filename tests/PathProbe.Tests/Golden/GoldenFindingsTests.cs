using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Golden;

/// <summary>
/// Each bundled capture's findings against the expected ones in captures/NAME.findings (one line per finding:
/// severity, kind, flows, the classifying evidence, the summary). After a deliberate change, regenerate with
/// PATHPROBE_UPDATE_GOLDEN=1 bash scripts/test.sh and review the diff like code.
/// </summary>
public sealed class GoldenFindingsTests
{
    public static IEnumerable<object[]> Captures() =>
        TestPaths.BundledCaptures().Select(f => new object[] { Path.GetFileName(f) });

    [Theory]
    [MemberData(nameof(Captures))]
    public void Analyze_BundledCapture_FindingsEqualGolden(string name)
    {
        string capture = Path.Combine(TestPaths.Captures, name);
        string golden = Path.Combine(TestPaths.Captures, Path.GetFileNameWithoutExtension(name) + ".findings");
        string actual = Render(FileAnalyzer.Analyze(capture));
        if (Environment.GetEnvironmentVariable("PATHPROBE_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(golden, actual);
            return;
        }
        Assert.True(File.Exists(golden), $"{golden} is missing: run PATHPROBE_UPDATE_GOLDEN=1 bash scripts/test.sh and review it");
        Assert.Equal(File.ReadAllText(golden), actual);
    }

    /// <summary>Severity, kind, flows, the classifying facts of the verdicts (read from the JSON evidence the kind's
    /// writer gives), and the summary.</summary>
    internal static string Render(CaptureAnalysis a)
    {
        var lines = new List<string> { $"# findings of {Path.GetFileName(a.Input.Path)} ({a.Findings.Count})" };
        foreach (var f in a.Findings.OrderBy(f => f.Time).ThenBy(f => f.Name, StringComparer.Ordinal))
        {
            var ev = FindingJson.Evidence(f);
            string detail = string.Join(" ", ev.EnumerateObject()
                .Where(e => e.Name is "stallKind" or "classification" or "recovered" or "synsSent" or "vantage" or "pathMtu" or "confidence" or "obeyed" or "mtu")
                .Select(e => $"{e.Name}={Format(e.Value)}"));
            lines.Add($"{FindingKinds.SeverityName(f.Severity)} {f.Name} flows=[{string.Join(",", f.Flows)}] {detail}".TrimEnd());
            lines.Add($"    {f.Summary}");
        }
        return string.Join("\n", lines) + "\n";
    }

    private static string Format(System.Text.Json.JsonElement v) => v.ValueKind switch
    {
        System.Text.Json.JsonValueKind.True => "true",
        System.Text.Json.JsonValueKind.False => "false",
        System.Text.Json.JsonValueKind.Null => "null",
        System.Text.Json.JsonValueKind.Object when v.TryGetProperty("min", out var min) => $"{min}..{v.GetProperty("max")}",
        System.Text.Json.JsonValueKind.String => v.GetString()!,
        _ => v.ToString(),
    };
}
