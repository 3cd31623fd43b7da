using System.Text.RegularExpressions;
using PathProbe.Cli.Tui.Model;
using PathProbe.Cli.Tui.Views;
using PathProbe.Pipeline;
using PathProbe.Reports;
using Terminal.Gui.Input;
using Xunit.Abstractions;
using static PathProbe.Tests.Tui.TuiTestSupport;

namespace PathProbe.Tests.Tui;

/// <summary>
/// Each screen of the TUI, driven headless through Terminal.Gui's test driver at 80×24 and 200×60: what a user reads
/// on it, and what keys and the mouse do.
/// </summary>
[Collection("tui")]
public sealed class TuiScreenTests(ITestOutputHelper output)
{
    public static readonly TheoryData<int, int> Sizes = new() { { 80, 24 }, { 200, 60 } };

    private static Headless IncidentUi(int w, int h, bool mono = false) => new(IncidentSource(), w, h, mono);

    [Theory]
    [MemberData(nameof(Sizes))]
    public void List_Incident_BlackHoleFirstAndCriticalCounted(int w, int h)
    {
        using var ui = IncidentUi(w, h);
        var lines = ui.Lines();
        output.WriteLine(string.Join("\n", lines));
        Assert.Equal(h, lines.Length);
        Assert.Contains("4 critical", lines[1]);
        Assert.Contains("1 warning", lines[1]);
        // Findings pane: grouped by kind and peer, worst first; the black hole is on screen.
        int blackhole = ui.RowOf("mtu-blackhole");
        Assert.True(blackhole > 1, "mtu-blackhole not on screen");
        Assert.StartsWith("!!", lines[blackhole].TrimStart());
        Assert.Contains("203.0.113.25", lines[blackhole]);
        // Flow table: the stalled flow (#2) first, with its marker; flow 1 after it.
        int flows = ui.RowOf("Flows (2)");
        Assert.True(flows > blackhole);
        var first = lines.Skip(flows + 3).First(l => l.Trim().Length > 0);
        Assert.StartsWith("!!", first);
        Assert.Contains("198.51.100.10:37672", first);
        Assert.Contains("Quit", lines[^1]);
        Assert.Equal(1, ui.Window.ExitStatus);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void FlowView_EachTab_ShowsItsContent(int w, int h)
    {
        using var ui = IncidentUi(w, h);
        ui.Window.Open(2);
        var seq = ui.WaitFor("1 time-sequence");
        output.WriteLine(seq);
        Assert.Contains("#2 tcp 198.51.100.10:37672 → 203.0.113.25:25", seq);
        Assert.Contains("┤", seq);
        var marks = ui.Lines().First(l => l.Contains('└'));
        // SMTP steps in order on the time axis, then the stall the stall finding measured.
        Assert.Matches("G.*E.*M.*R.*D.*3", marks);
        Assert.Contains("░", marks);
        Assert.Contains("!", marks);

        var sizes = ui.Key(Key.D2).Screen();
        output.WriteLine(sizes);
        Assert.Contains("━", sizes);   // the path-MTU ceiling of the mtu-blackhole finding
        Assert.Contains("1500┤", sizes);
        Assert.Contains("ceiling ≥1500 lost", sizes);

        var throughput = ui.Key(Key.D3).Screen();
        Assert.Contains("3 throughput", throughput);
        Assert.Contains("┤", throughput);

        var rtt = ui.Key(Key.D4).Screen();
        output.WriteLine(rtt);
        Assert.Contains("┈", rtt); // the median line

        var findings = ui.Key(Key.D6).Screen();
        output.WriteLine(findings);
        Assert.Contains("critical mtu-blackhole", findings);

        var transcript = ui.Key(Key.D7).Screen();
        output.WriteLine(transcript);
        Assert.Contains("C: EHLO client.example.net", transcript);
        Assert.Contains("S: 354", transcript);

        ui.Key(Key.D5);
        var packets = ui.WaitFor("5 packets (43)");
        ui.WaitFor("TCP 37672 → 25");
        packets = ui.Screen();
        output.WriteLine(packets);
        Assert.Contains("[S] seq 0 ack 0", packets);
        Assert.Contains("Ethernet", packets);
        Assert.Contains("IPv4 198.51.100.10 → 203.0.113.25", packets);
        Assert.Contains("options: MSS 1460", packets);
        Assert.Matches(@"0000  [0-9a-f]{2} ", ui.Window.FlowPage.PacketDetail.AllText);
    }

    [Fact]
    public void Packets_SelectOne_DetailFollowsSelection()
    {
        using var ui = IncidentUi(200, 60);
        ui.Window.Open(2);
        ui.Key(Key.D5);
        ui.WaitFor("TCP 37672 → 25");
        // Down to the server's first SACK (packet 42 of the capture): its SACK block is decoded.
        int row = Array.FindIndex(ui.FlowPageSource(), p => p.SackBlocks > 0);
        Assert.True(row > 0);
        for (int i = 0; i < row; i++) ui.Key(Key.CursorDown);
        var s = ui.WaitFor("SACK blocks: ");
        output.WriteLine(s);
        Assert.Contains("TCP 25 → 37672", s);
        Assert.Contains("(relative 7333-8285, 952 bytes)", s);
    }

    [Fact]
    public void Keys_EscGoesBackAndNeverQuits_CtrlQQuits()
    {
        using var ui = IncidentUi(80, 24);
        ui.Window.Open(2);
        Assert.True(ui.Window.FlowOpen);
        ui.Key(Key.Esc);
        Assert.False(ui.Window.FlowOpen);
        ui.Key(Key.Esc).Key(Key.Esc);
        Assert.False(ui.Window.QuitRequested);
        Assert.Contains("quits", ui.Screen());
        ui.Key(Key.Q.WithCtrl);
        Assert.True(ui.Window.QuitRequested);
    }

    [Fact]
    public void Help_ListsEveryKey()
    {
        using var ui = IncidentUi(200, 60);
        var s = ui.Key(new Key('?')).Screen();
        output.WriteLine(s);
        foreach (var e in KeyTable.All)
        {
            Assert.Contains(e.Label, s);
            Assert.Contains(e.What.Length > 60 ? e.What[..60] : e.What, s);
        }
        ui.Key(Key.Esc);
        Assert.DoesNotContain("Keys (Esc closes this help)", ui.Screen());
    }

    [Fact]
    public void Filter_PortAndKind_SelectsFlows()
    {
        using var ui = IncidentUi(200, 60);
        ui.Key(Key.F);
        Assert.Contains("Filter flows", ui.Screen());
        ui.Key(Key.Tab).Type("56552").Key(Key.Enter);
        var s = ui.Screen();
        output.WriteLine(s);
        Assert.Contains("Flows (1 of 2)", s);
        Assert.Contains("port 56552", s);
        var table = string.Join("\n", s.Split('\n').SkipWhile(l => !l.Contains("Flows (")));
        Assert.Contains("198.51.100.10:56552", table);
        Assert.DoesNotContain("198.51.100.10:37672", table);
        ui.Key(Key.Esc);
        Assert.Contains("Flows (2)", ui.Screen());

        ui.Key(Key.F);
        for (int i = 0; i < 3; i++) ui.Key(Key.Tab);
        ui.Type("mtu").Key(Key.Enter);
        s = ui.Screen();
        Assert.Contains("Flows (1 of 2)", s);
        Assert.Contains("198.51.100.10:37672", s.Split('\n').First(l => l.StartsWith("!!") && l.Contains("open")));
    }

    [Fact]
    public void Sort_ByKeyAndByHeaderClick()
    {
        using var ui = IncidentUi(200, 60);
        Assert.Contains("sorted by severity ▼", ui.Screen());
        ui.Key(Key.S);
        Assert.Contains("sorted by # ▲", ui.Screen());
        var lines = ui.Lines();
        int head = Array.FindIndex(lines, l => l.Contains("client") && l.Contains("server") && l.Contains("#▲"));
        Assert.True(head > 0);
        // Flow 1 first by id.
        Assert.Contains("198.51.100.10:56552", lines[head + 2]);
        ui.Key(Key.R);
        Assert.Contains("sorted by # ▼", ui.Screen());
        // A click on the "bytes" header sorts by bytes, biggest first.
        int x = ui.Lines()[head].IndexOf("bytes", StringComparison.Ordinal);
        ui.Click(x + 1, head);
        var s = ui.Screen();
        output.WriteLine(s);
        Assert.Contains("sorted by bytes ▼", s);
        Thread.Sleep(450); // a second click, not the same one seen twice
        ui.Click(x + 1, head);
        Assert.Contains("sorted by bytes ▲", ui.Screen());
    }

    [Fact]
    public void Mouse_DoubleClickOpensFlow_WheelZoomsGraph_ClickSelectsTab()
    {
        using var ui = IncidentUi(200, 60);
        int row = ui.RowOf("198.51.100.10:56552");
        ui.Click(10, row);
        ui.DoubleClick(10, row);
        Assert.True(ui.Window.FlowOpen);
        Assert.Contains("#1 tcp 198.51.100.10:56552", ui.Screen());
        int plotRow = ui.RowOf("┤") + 3;
        ui.Wheel(100, plotRow, MouseFlags.WheeledUp);
        Assert.Equal(2, ui.Window.FlowPage.Window.Zoom);
        ui.Wheel(100, plotRow, MouseFlags.WheeledUp);
        Assert.Equal(4, ui.Window.FlowPage.Window.Zoom);
        ui.Wheel(100, plotRow, MouseFlags.WheeledDown);
        Assert.Equal(2, ui.Window.FlowPage.Window.Zoom);
        int tabs = ui.RowOf("1 time-sequence");
        int x = ui.Lines()[tabs].IndexOf("7 transcript", StringComparison.Ordinal);
        ui.Click(x + 2, tabs);
        Assert.Equal(FlowTab.Transcript, ui.Window.FlowPage.Tab);
    }

    [Fact]
    public void Graphs_KeysZoomPanAndDirection()
    {
        using var ui = IncidentUi(120, 40);
        ui.Window.Open(2);
        ui.Screen();
        var page = ui.Window.FlowPage;
        Assert.True(page.ClientToServer);
        ui.Type("++");
        Assert.Equal(4, page.Window.Zoom);
        ui.Key(Key.CursorRight);
        Assert.True(page.Window.Pan > 0);
        ui.Key(Key.D0);
        Assert.Equal(1, page.Window.Zoom);
        ui.Key(Key.D);
        Assert.False(page.ClientToServer);
        Assert.Contains("d: server→client", ui.Screen());
    }

    [Fact]
    public void ExitStatus_CleanCapture_Zero()
    {
        using var ui = new Headless(FileSource(Path.Combine(PathProbe.Tests.Support.TestPaths.Captures, "smtp-healthy-ipv4.pcap")), 80, 24);
        Assert.Contains("0 critical", ui.Screen());
        Assert.Equal(0, ui.Window.ExitStatus);
    }

    [Fact]
    public void Rtt_SameNumberAsTheReport()
    {
        var analysis = FileAnalyzer.Analyze(Incident, new AnalysisOptions { Timelines = true });
        var report = new StringWriter();
        TextReport.Write(report, [analysis], new TextReport.Options());
        // The report's flow rows: "   2  critical  tcp  ...  0.10  1,460/1,460 ...": its RTT column is the 11th.
        var reported = new Dictionary<string, string>();
        foreach (var line in report.ToString().Split('\n'))
        {
            var cols = Regex.Split(line.Trim(), @"\s{2,}");
            if (cols.Length >= 15 && int.TryParse(cols[0], out _)) reported[cols[0]] = cols[10];
        }
        Assert.Equal(2, reported.Count);
        using var ui = IncidentUi(200, 60);
        foreach (var (id, rtt) in reported)
        {
            var line = ui.Lines().First(l => Regex.IsMatch(l, $@"^\S*\s+{id}\s"));
            Assert.Contains($" {rtt} ", line);
            ui.Window.Open(int.Parse(id));
            Assert.Contains($"RTT {rtt} ms", ui.Screen());
            ui.Key(Key.Esc);
        }
    }

    [Fact]
    public void NoColor_NoColourCodes()
    {
        using var ui = IncidentUi(120, 40, mono: true);
        ui.Window.Open(2);
        ui.Key(Key.D2);
        string ansi = ui.Ansi();
        // SGR colour parameters: 30-37, 90-97 foreground, 40-47, 100-107 background, 38;/48; extended.
        var colours = Regex.Matches(ansi, @"\x1b\[([0-9;]*)m").SelectMany(m => m.Groups[1].Value.Split(';'))
            .Where(p => int.TryParse(p, out int n) && (n is >= 30 and <= 37 or >= 40 and <= 47 or >= 90 and <= 97 or >= 100 and <= 107 or 38 or 48)).ToList();
        Assert.True(colours.Count == 0, $"colour codes with NO_COLOR: {string.Join(",", colours.Distinct())}");
        using var colour = IncidentUi(120, 40);
        colour.Window.Open(2);
        colour.Key(Key.D2);
        Assert.Matches(@"\x1b\[[0-9;]*(3[0-7]|9[0-7]|38)[;m]", colour.Ansi());
    }
}

internal static class HeadlessExtensions
{
    public static PacketEntry[] FlowPageSource(this Headless ui) => ui.Window.FlowPage.Packets?.Packets.ToArray() ?? [];
}
