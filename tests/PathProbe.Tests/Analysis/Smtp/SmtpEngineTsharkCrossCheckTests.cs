using PathProbe.Analysis.Smtp;
using PathProbe.Pipeline;
using PathProbe.Protocols.Smtp;
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
        var decoded = analysis.Flows.OrderBy(f => f.Id).Where(f => f.App is SmtpFlowState)
            .Select(f => (Flow: f, Tokens: SmtpTsharkCrossCheckTests.Tokens(((SmtpFlowState)f.App!).Session))).Where(x => x.Tokens.Count > 0).ToList();
        var expected = SmtpTsharkCrossCheckTests.TsharkTokens(tshark, path);
        output.WriteLine($"{name}: {expected.Count} SMTP connection(s) in tshark, {decoded.Count} decoded by the engine");
        if (name.StartsWith("smtp-")) Assert.NotEmpty(expected); // not a vacuous pass
        foreach (var e in expected)
        {
            var match = decoded.Where(d => e.Is(d.Flow.ClientPort, d.Flow.ServerPort)).ToList();
            Assert.True(match.Count == 1, $"tshark stream {e.Stream} (ports {e.PortA}/{e.PortB}) decoded {match.Count} times by the engine");
            Assert.Equal(e.Tokens, match[0].Tokens);
        }
        foreach (var d in decoded.Where(d => !expected.Any(e => e.Is(d.Flow.ClientPort, d.Flow.ServerPort))))
        {
            // tshark 4.0 has no PROXY-protocol dissector, and inside an HTTP CONNECT tunnel it takes the server for the
            // client (the banner shows as "C: DATA fragment"), so its rows carry no command or reply code: only those
            // connections may be decoded here alone.
            var proxy = ((SmtpFlowState)d.Flow.App!).Session.Proxy;
            output.WriteLine($"  flow {d.Flow.Id} ({d.Flow.ClientEndpoint} -> {d.Flow.ServerEndpoint}) decoded here only, behind {proxy?.Kind.ToString() ?? "no proxy"}");
            Assert.True(proxy?.Kind is SmtpProxyKind.ProxyV1 or SmtpProxyKind.ProxyV2 or SmtpProxyKind.HttpConnect,
                $"flow {d.Flow.Id} decoded as SMTP but tshark saw no SMTP in it");
        }
    }
}
