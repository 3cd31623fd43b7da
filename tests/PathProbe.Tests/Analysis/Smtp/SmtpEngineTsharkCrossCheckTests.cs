using PathProbe.Analysis.Smtp;
using PathProbe.Pipeline;
using PathProbe.Tests.Protocols.Smtp;
using PathProbe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Tests.Analysis.Smtp;

/// <summary>
/// The SMTP commands and reply codes the engine decoded for each flow (FileAnalyzer → Engine → SmtpAnalyzer, i.e. the
/// wiring, not a test harness) against tshark, on every bundled capture. Normalised as in
/// <see cref="SmtpTsharkCrossCheckTests"/>; flows in order of creation, which is tshark's tcp.stream order.
/// </summary>
public sealed class SmtpEngineTsharkCrossCheckTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Captures() =>
        TestPaths.BundledCaptures().Select(f => new object[] { Path.GetFileName(f) });

    [SkippableTheory]
    [MemberData(nameof(Captures))]
    public void Analyze_BundledCapture_EngineDecodesSameCommandsAndRepliesAsTshark(string name)
    {
        string? tshark = TestPaths.Tool("tshark");
        if (tshark is null) throw new SkipException($"tshark is not installed (apt-get install tshark); cross-check not run");
        string path = Path.Combine(TestPaths.Captures, name);

        var analysis = FileAnalyzer.Analyze(path);
        var actual = analysis.Flows.OrderBy(f => f.Id).Select(f => f.App).OfType<SmtpFlowState>()
            .Select(s => SmtpTsharkCrossCheckTests.Tokens(s.Session)).Where(t => t.Count > 0).ToList();
        var expected = SmtpTsharkCrossCheckTests.TsharkTokens(tshark, path);
        output.WriteLine($"{name}: {expected.Count} SMTP connection(s) in tshark, {actual.Count} decoded by the engine");
        if (name.StartsWith("smtp-")) Assert.NotEmpty(expected); // not a vacuous pass
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i], actual[i]);
    }
}
