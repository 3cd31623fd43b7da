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

    internal static string Render(CaptureAnalysis a)
    {
        var lines = new List<string> { $"# findings of {Path.GetFileName(a.Input.Path)} ({a.Findings.Count})" };
        foreach (var f in a.Findings.OrderBy(f => f.Time).ThenBy(f => f.Kind, StringComparer.Ordinal))
        {
            string detail = string.Join(" ", f.Evidence
                .Where(e => e.Key is "stallKind" or "classification" or "recovered" or "synsSent" or "vantage" or "pathMtu" or "confidence" or "obeyed" or "mtu")
                .Select(e => $"{e.Key}={Format(e.Value)}"));
            lines.Add($"{Finding.SeverityName(f.Severity)} {f.Kind} flows=[{string.Join(",", f.Flows)}] {detail}".TrimEnd());
            lines.Add($"    {f.Summary}");
        }
        return string.Join("\n", lines) + "\n";
    }

    private static string Format(object? v) => v switch
    {
        bool b => b ? "true" : "false",
        Evidence range when range.Count == 2 && range[0].Key == "min" => $"{range[0].Value}..{range[1].Value}",
        null => "null",
        _ => v.ToString()!,
    };
}
