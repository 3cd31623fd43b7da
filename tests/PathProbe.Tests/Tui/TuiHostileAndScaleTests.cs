using PathProbe.Cli.Tui.Model;
using PathProbe.Findings;
using Terminal.Gui.Input;
using Xunit.Abstractions;
using static PathProbe.Tests.Tui.TuiTestSupport;

namespace PathProbe.Tests.Tui;

/// <summary>Text from the network is inert on screen; a table of 100 000 flows works like a small one.</summary>
[Collection("tui")]
public sealed class TuiHostileAndScaleTests(ITestOutputHelper output)
{
    [Fact]
    public void HostileEhloAndBanner_AreInertOnEveryScreen()
    {
        // A banner and an EHLO name full of terminal escapes: clear screen, colour, OSC 52 clipboard write, cursor moves.
        string esc = "\u001b";
        string[] server = [$"220 mx{esc}[2J{esc}]52;c;cm0gLXJmIH4={esc}\\ ready{esc}[31m", "250 ok", "250 ok", "250 ok", "354 go", "250 queued", "221 bye"];
        string[] client = [$"EHLO evil{esc}[H{esc}[2J\u009b31m\u0007name", "MAIL FROM:<a@example.net>", "RCPT TO:<b@example.org>", "DATA", ".", "QUIT"];
        string path = Path.Combine(Path.GetTempPath(), $"pathprobe-tui-hostile-{Environment.ProcessId}.pcap");
        File.WriteAllBytes(path, SmtpPcap(server, client));
        try
        {
            using var ui = new Headless(FileSource(path), 200, 60);
            var screens = new List<string> { ui.Screen() };
            ui.Window.Open(ui.Window.Snapshot.Rows[0].Id);
            foreach (var key in new[] { Key.D1, Key.D2, Key.D5, Key.D6, Key.D7 })
            {
                ui.Key(key);
                if (key == Key.D5) ui.WaitFor("TCP ");
                screens.Add(ui.Screen());
            }
            screens.Add(ui.Window.FlowPage.PacketDetail.AllText);
            foreach (var s in screens)
            {
                Assert.DoesNotContain('\u001b', s);
                Assert.DoesNotContain('\u009b', s);
                Assert.DoesNotContain('\u0007', s);
            }
            string transcript = screens[5];
            output.WriteLine(transcript);
            Assert.Contains(@"EHLO evil\x1b[H\x1b[2J", transcript);
            Assert.Contains(@"220 mx\x1b[2J\x1b]52;c;", transcript);
            // What the driver sends to the terminal carries no escape from the packets either: every ESC it writes
            // starts one of its own sequences (CSI, or OSC 8 hyperlinks), never "ESC ]52" or "ESC [2J".
            string ansi = ui.Ansi();
            Assert.DoesNotContain(esc + "]52", ansi);
            Assert.DoesNotContain(esc + "[2J", ansi);
            Assert.DoesNotContain(esc + "[H" + esc, ansi);
        }
        finally { File.Delete(path); }
    }

    /// <summary>A snapshot of <paramref name="n"/> flows, every 100th with a critical verdict.</summary>
    internal static TuiSnapshot ManyFlows(int n)
    {
        var rows = new FlowRow[n];
        var verdicts = new List<TuiVerdict>();
        for (int i = 0; i < n; i++)
        {
            bool bad = i % 100 == 0;
            rows[i] = new FlowRow
            {
                Id = i + 1, Protocol = "tcp", Client = $"198.51.{100 + i / 65536 % 2}.{i / 256 % 256}:{1024 + i % 60000}", Server = "203.0.113.25:25",
                ClientAddress = $"198.51.100.{i % 256}", ServerAddress = "203.0.113.25", ClientPort = (ushort)(1024 + i % 60000), ServerPort = 25,
                AppName = "smtp", Application = $"smtp host{i}.example.net", State = bad ? "open" : "closed", Start = 1_790_000_000_000_000_000 + i * 1_000_000L,
                DurationNanos = 1_000_000L * (i % 5000), PacketsToServer = 10 + i % 97, PacketsToClient = 8 + i % 13, BytesToServer = 1000 + i * 7L % 100000,
                BytesToClient = 900, RetransmissionsClient = bad ? 8 : 0, RetransmissionsServer = 0, RttNanos = (long)((0.1 + i % 50) * 1e6),
                MssClient = 1460, MssServer = 1460, MaxSegmentClient = 1448, MaxSegmentServer = 138, MaxIpClient = 1500, MaxIpServer = 190,
                Severity = bad ? 2 : -1, Kinds = bad ? "mtu-blackhole" : "",
            };
            if (bad)
                verdicts.Add(new TuiVerdict
                {
                    Index = verdicts.Count, Kind = "mtu-blackhole", Severity = Severity.Critical, Flows = [i + 1], Time = rows[i].Start,
                    Summary = "path-MTU black hole toward 203.0.113.25", Evidence = "", Peer = "203.0.113.25",
                });
        }
        return new TuiSnapshot { Source = "synthetic", Rows = rows, Verdicts = verdicts, Packets = n * 20L, FirstTime = rows[0].Start, Generation = 1 };
    }

    [Fact]
    public void HundredThousandFlows_KeysMoveSortAndFilter()
    {
        using var ui = new Headless(new FixedSource(ManyFlows(100_000)), 200, 60);
        var s = ui.Screen();
        Assert.Contains("100,000 flows", s);
        Assert.Contains("Flows (100,000)", s);
        Assert.Contains("mtu-blackhole ×1000", s);
        ui.Window.FlowTable.SetFocus();
        ui.Keys(Key.PageDown, Key.PageDown, Key.End);
        Assert.Equal(99_999, ui.Window.FlowTable.Value!.SelectedCell.Y);
        ui.Key(Key.Home);
        Assert.Equal(0, ui.Window.FlowTable.Value!.SelectedCell.Y);
        ui.Key(Key.S); // by id
        Assert.Contains("sorted by # ▲", ui.Screen());
        ui.Key(Key.F).Key(Key.Tab).Type("1025").Key(Key.Enter);
        Assert.Contains("Flows (2 of 100,000)", ui.Screen());
        ui.Key(Key.Esc);
        Assert.Contains("Flows (100,000)", ui.Screen());
    }
}
