using PathProbe.Cli.Tui;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Tests.Support;
using static PathProbe.Tests.Tui.TuiTestSupport;

namespace PathProbe.Tests.Tui;

/// <summary>Views rendered into a fixed-size console and compared with expected screens (regenerate with
/// PATHPROBE_UPDATE_EXPECTED=1 and review the diff).</summary>
public sealed class TuiRenderingTests
{
    private static readonly string Incident = Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap");

    private static TuiApp IncidentApp(out CaptureAnalysis analysis)
    {
        analysis = AnalyzeWithSmtp(Incident);
        return new TuiApp(FileTuiSource.FromAnalysis(analysis, "smtp-mru1424-sender.pcap"));
    }

    private static void Open(TuiApp app, CaptureAnalysis analysis, Func<FlowDetail, FlowDetail>? change = null)
    {
        Assert.Equal(KeyAction.OpenFlow, app.Handle(Key(ConsoleKey.Enter)));
        var detail = FileTuiSource.Detail(analysis, app.OpenFlowId, app.Snapshot)!;
        app.Update(app.Snapshot with { Detail = change is null ? detail : change(detail), Generation = app.Snapshot.Generation + 1 });
    }

    private static string Screen(TuiApp app, int width, int height) => TuiScreen.Plain(TuiView.Render(app, width, height), width);

    private static void AssertExpected(string name, string actual)
    {
        string path = Path.Combine(TestPaths.RepoRoot, "tests", "PathProbe.Tests", "Tui", "Expected", name);
        if (Environment.GetEnvironmentVariable("PATHPROBE_UPDATE_EXPECTED") == "1") File.WriteAllText(path, actual);
        Assert.True(File.Exists(path), $"missing {path}; run with PATHPROBE_UPDATE_EXPECTED=1 and review it");
        Assert.Equal(File.ReadAllText(path), actual);
    }

    [SkippableFact]
    public void FlowList_IncidentCapture_StalledFlowFirstWithMarker()
    {
        var app = IncidentApp(out _);
        string screen = Screen(app, 120, 40);
        var lines = screen.Split('\n');
        Assert.Equal(41, lines.Length); // 40 lines and the final newline
        Assert.StartsWith("!!", lines[3]);
        Assert.Contains("203.0.113.25:25", lines[3]);
        Assert.Contains("stalled", lines[3]);
        Assert.Contains("smtp client", lines[3]);
        AssertExpected("incident-list-120x40.txt", screen);
    }

    [SkippableFact]
    public void FlowView_IncidentCapture_StallInDataWithFindingsAndTranscript()
    {
        var app = IncidentApp(out var analysis);
        Open(app, analysis);
        Assert.Equal(2, app.OpenFlowId);
        string screen = Screen(app, 120, 40);
        var lines = screen.Split('\n');
        var marks = lines.First(l => l.Contains('└'));
        // DATA is marked on the time axis, the stall (silence with data outstanding) follows it.
        int data = marks.IndexOf('D');
        Assert.True(data > 0, marks);
        Assert.True(marks.IndexOf('░', data) > data, marks);
        Assert.Contains('!', marks);
        Assert.Contains("critical mtu-blackhole", screen); // the worst finding of the flow comes first
        Assert.Contains("━", screen);                      // the path-MTU ceiling from the real finding
        Assert.Contains("C: DATA", screen);
        Assert.Contains("S: 354", screen);
        AssertExpected("incident-flow-120x40.txt", screen);
    }

    [SkippableFact]
    public void FlowView_BlackHoleFinding_DrawsCeilingLineBelowTheLostPackets()
    {
        var app = IncidentApp(out var analysis);
        var blackHole = new Finding(99, 1, [Hole(1424, 1424, analysis.Flows.Single(f => f.Id == 2))]);
        Open(app, analysis, d => d with { Findings = d.Findings.Append(blackHole).ToList(), Ceiling = SnapshotBuilder.Ceiling([blackHole]) });
        string screen = Screen(app, 120, 40);
        var lines = screen.Split('\n');
        var ceiling = lines.Single(l => l.Contains("1425┤"));
        Assert.Contains("━", ceiling);
        // The 1500-byte packets plot above the ceiling line, on the MSS line: MSS 1460 invites 1460 + 20 + 20 = 1500-byte
        // packets, the number the report's mss-mismatch finding says (not 1460 + 52 with TCP options).
        int ceilingRow = Array.IndexOf(lines, ceiling);
        int mssRow = Array.FindIndex(lines, l => l.Contains("1500┤"));
        Assert.True(mssRow >= 0 && mssRow < ceilingRow, screen);
        Assert.Contains("MSS 1460+40", screen);
        Assert.Contains("path-MTU ceiling ≥1425 lost", screen);
        AssertExpected("incident-blackhole-120x40.txt", screen);
    }

    [SkippableFact]
    public void Ceiling_FromTheVerdict_MaxPlusOneElseMin()
    {
        var flow = new PathProbe.Findings.FlowFacts { Id = 1, Client = default, Server = default };
        Assert.Equal(1401, SnapshotBuilder.Ceiling([new Finding(1, 1, [Hole(1280, 1400, null)])]));
        Assert.Equal(1280, SnapshotBuilder.Ceiling([new Finding(1, 1, [Hole(1280, 0, null)])]));
        var stall = new PathProbe.Findings.Kinds.StallVerdict
        {
            Flows = [flow], StallKind = PathProbe.Flows.Tcp.StallKind.Application, SenderIsClient = true, Start = default, DurationNanos = 1,
        };
        Assert.Equal(0, SnapshotBuilder.Ceiling([new Finding(1, 1, [stall])]));
    }

    private static PathProbe.Findings.Kinds.BlackHoleVerdict Hole(int min, int max, PathProbe.Flows.Flow? flow) => new()
    {
        Flows = flow is null ? [new PathProbe.Findings.FlowFacts { Id = 2, Client = default, Server = default }] : [PathProbe.Findings.FlowFacts.Of(flow)],
        Details = [new PathProbe.Findings.Kinds.BlackHoleFlow { FromClient = true }],
        ReceiverVantage = false, Peer = PathProbe.Primitives.IpAddress.Parse("203.0.113.25"), Min = min, Max = max, LostSize = max + 1, Since = default,
    };

    [SkippableTheory]
    [InlineData(80, 24)]
    [InlineData(120, 40)]
    [InlineData(200, 60)]
    public void AllViews_AnySize_ExactlyFillTheScreen(int width, int height)
    {
        var app = IncidentApp(out var analysis);
        void Check()
        {
            var lines = TuiView.Render(app, width, height);
            Assert.Equal(height, lines.Count);
            Assert.All(lines, l => Assert.True(l.Length <= width, $"{l.Length} > {width}: {l.Plain}"));
        }
        Check();
        app.Handle(Key(ConsoleKey.Tab));
        Check();
        app.Handle(Key(ConsoleKey.Tab));
        Open(app, analysis);
        Check();
        app.Handle(Char('?'));
        Check();
    }

    [SkippableFact]
    public void FlowView_Small80x24_ShowsGraphFindingsAndFooter()
    {
        var app = IncidentApp(out var analysis);
        Open(app, analysis);
        string screen = Screen(app, 80, 24);
        Assert.Contains("┤", screen);
        Assert.Contains($"Findings ({analysis.Findings.Count(f => f.Flows.Contains(2))})", screen);
        Assert.Contains("SMTP transcript", screen);
        Assert.StartsWith("Tab pane", screen.Split('\n')[23]);
        AssertExpected("incident-flow-80x24.txt", screen);
    }

    [SkippableFact]
    public void FindingsView_GroupsByKindAndPeer()
    {
        var app = IncidentApp(out var analysis);
        app.Handle(Key(ConsoleKey.Tab));
        string screen = Screen(app, 120, 40);
        Assert.Contains("[Findings]", screen);
        var rows = screen.Split('\n').Where(l => l.StartsWith("!! ")).ToList();
        // One row per kind and peer: every critical finding of the incident concerns 203.0.113.25.
        Assert.Equal(analysis.Findings.Where(f => f.Severity == PathProbe.Findings.Severity.Critical).Select(f => f.Name).Distinct().Count(), rows.Count);
        Assert.Contains(rows, r => r.Contains("mtu-blackhole"));
        Assert.All(rows, r => Assert.Contains("203.0.113.25", r));
        Assert.Contains(rows, r => r.Contains("retransmission-storm"));
        Assert.Equal(KeyAction.OpenFlow, app.Handle(Key(ConsoleKey.Enter)));
        Assert.Equal(2, app.OpenFlowId);
    }

    [SkippableFact]
    public void Zoom_InAndPan_ChangesTheTimeAxis()
    {
        var app = IncidentApp(out var analysis);
        Open(app, analysis);
        string Axis() => Screen(app, 120, 40).Split('\n').First(l => l.Contains("+0.000s") || l.TrimStart().StartsWith('+'));
        string whole = Axis();
        app.Handle(Key(ConsoleKey.Add, '+'));
        app.Handle(Key(ConsoleKey.Add, '+'));
        Assert.Equal(4, app.Zoom);
        string zoomed = Axis();
        Assert.NotEqual(whole, zoomed);
        Assert.Contains("×4", zoomed);
        app.Handle(Key(ConsoleKey.RightArrow));
        Assert.Equal(1.0 / 16, app.Pan, 6);
        Assert.DoesNotContain("+0.000s", Axis());
        app.Handle(Key(ConsoleKey.Subtract, '-'));
        app.Handle(Key(ConsoleKey.Subtract, '-'));
        app.Handle(Key(ConsoleKey.Subtract, '-'));
        Assert.Equal(1, app.Zoom);
        Assert.Equal(0, app.Pan);
    }
}
