using System.Diagnostics;
using PathProbe.Cli.Tui;
using PathProbe.Tests.Support;
using static PathProbe.Tests.Tui.TuiTestSupport;

namespace PathProbe.Tests.Tui;

public sealed class TuiHostileAndKeysTests
{
    [Fact]
    public void HostileBannerAndEhlo_RenderedInert()
    {
        string path = Path.Combine(Path.GetTempPath(), $"pathprobe-hostile-{Guid.NewGuid():N}.pcap");
        File.WriteAllBytes(path, SmtpPcap(
            ["220 evil.test \u001b[2J\u001b[31mESMTP [red]markup[/]", "250 ok", "221 bye"],
            ["EHLO \u001b]0;owned\u0007host\u001b[H", "QUIT"]));
        try
        {
            var analysis = AnalyzeWithSmtp(path);
            var app = new TuiApp(FileTuiSource.FromAnalysis(analysis, "hostile.pcap"));
            Assert.Equal(KeyAction.OpenFlow, app.Handle(Key(ConsoleKey.Enter)));
            app.Update(app.Snapshot with { Detail = FileTuiSource.Detail(analysis, app.OpenFlowId, app.Snapshot), Generation = 99 });
            var lines = TuiView.Render(app, 120, 40);

            // With colours on, the only escapes in the output are Spectre's SGR sequences (ESC [ ... m).
            var screen = new TuiScreen(color: true);
            string ansi = string.Concat(lines.Select(l => screen.RenderLine(l, 120)));
            Assert.DoesNotContain('\u0007', ansi);
            Assert.DoesNotMatch(@"\u001b(?!\[[0-9;]*m)", ansi);
            string plain = TuiScreen.Plain(lines, 120);
            Assert.Contains(@"S: 220 evil.test \x1b[2J\x1b[31mESMTP [red]markup", plain); // markup shown as text, not applied
            Assert.Contains(@"EHLO \x1b]0;owned\x07host\x1b[H", plain);
            Assert.Contains(@"smtp \x1b]0;owned", plain);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Keys_SortFilterNavigate()
    {
        var analysis = AnalyzeWithSmtp(Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap"));
        var app = new TuiApp(FileTuiSource.FromAnalysis(analysis, "x"));
        Assert.Equal(2, app.VisibleRows[0].Id); // worst first
        app.Handle(Char('s'));
        Assert.Equal(FlowSort.Bytes, app.Sort);
        app.Handle(Char('s')); app.Handle(Char('s'));
        Assert.Equal(FlowSort.Start, app.Sort);
        Assert.Equal(1, app.VisibleRows[0].Id);
        app.Handle(Key(ConsoleKey.End));
        Assert.Equal(2, app.SelectedFlowId);
        app.Handle(Key(ConsoleKey.Home));
        Assert.Equal(1, app.SelectedFlowId);

        app.Handle(Char('/'));
        Type(app, "56552");
        Assert.Equal(2, app.VisibleRows.Count); // not applied while typing
        app.Handle(Key(ConsoleKey.Enter));
        Assert.Equal("56552", app.Filter);
        Assert.Equal([1], app.VisibleRows.Select(r => r.Id));
        app.Handle(Char('/'));
        app.Handle(Key(ConsoleKey.Backspace));
        app.Handle(Key(ConsoleKey.Escape));
        Assert.Equal("56552", app.Filter);
        app.Handle(Key(ConsoleKey.Escape));
        Assert.Equal("", app.Filter);
        app.Handle(Char('/'));
        Type(app, "retransmission-storm");
        app.Handle(Key(ConsoleKey.Enter));
        Assert.Equal([2], app.VisibleRows.Select(r => r.Id));

        Assert.Equal(KeyAction.Write, app.Handle(Char('w')));
        app.Handle(Char('p'));
        Assert.True(app.Paused);
        var before = app.Snapshot;
        app.Update(before with { Generation = 1000 });
        Assert.Same(before, app.Snapshot);
        Assert.Equal(KeyAction.Quit, app.Handle(Char('q')));
    }

    [Fact]
    public void FlowList_100000Flows_SortsOnceAndRendersQuickly()
    {
        var rows = new FlowRow[100_000];
        var rnd = new Random(7);
        for (int i = 0; i < rows.Length; i++)
            rows[i] = new FlowRow
            {
                Id = i + 1, Protocol = "tcp", Client = $"10.0.{i / 256 % 256}.{i % 256}:{1024 + i % 60000}", Server = "203.0.113.25:25",
                ServerAddress = "203.0.113.25", Application = "smtp", State = "open", Bytes = rnd.Next(1, 1_000_000),
                RetransmissionShare = rnd.NextDouble() / 10, Severity = i == 77_777 ? 2 : -1, Start = i, SearchText = $"#{i + 1} 10.0.{i / 256 % 256}.{i % 256}",
            };
        var app = new TuiApp(new TuiSnapshot { Source = "big", Rows = rows, Findings = [], Generation = 1 });
        var sw = Stopwatch.StartNew();
        var first = TuiView.Render(app, 120, 40);
        Assert.Contains("!!", first[3].Plain);
        for (int i = 0; i < 50; i++) { app.Handle(Key(ConsoleKey.PageDown)); TuiView.Render(app, 120, 40); }
        app.Handle(Char('/')); Type(app, "10.0.3."); app.Handle(Key(ConsoleKey.Enter));
        TuiView.Render(app, 120, 40);
        Assert.Equal(512, app.VisibleRows.Count); // 10.0.3.x twice: ids wrap every 65 536
        Assert.True(sw.ElapsedMilliseconds < 5000, $"{sw.ElapsedMilliseconds} ms");
    }
}
