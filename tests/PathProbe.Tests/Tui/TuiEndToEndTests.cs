using System.Diagnostics;
using PathProbe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Tests.Tui;

/// <summary>The real program in a real terminal (tmux): the bundled incident, the black hole on screen, the flow opened,
/// quit with status 1; and SIGTERM leaves the terminal as it was.</summary>
public sealed class TuiEndToEndTests(ITestOutputHelper output)
{
    // A tmux server of this test process only (-L): test runs side by side shared the default server, and one run's last
    // kill-session stopped the server under another run's new-session ("server exited unexpectedly").
    private static readonly string Socket = $"pathprobe-e2e-{Environment.ProcessId}";
    private static string Tmux(params string[] args) => TestPaths.RunTool("tmux", ["-L", Socket, .. args]);

    private sealed class Session : IDisposable
    {
        public string Name { get; } = $"pathprobe-e2e-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40];
        public string Done { get; }

        public Session(string command, int width, int height)
        {
            Done = Path.Combine(Path.GetTempPath(), Name + ".exit");
            File.Delete(Done);
            Tmux("new-session", "-d", "-s", Name, "-x", width.ToString(), "-y", height.ToString(),
                $"{command}; echo $? > '{Done}'; sleep 30");
        }

        public string Screen() => Tmux("capture-pane", "-p", "-t", Name);

        public string WaitFor(string text, int ms = 20000)
        {
            var sw = Stopwatch.StartNew();
            string s = "";
            while (sw.ElapsedMilliseconds < ms)
            {
                s = Screen();
                if (s.Contains(text, StringComparison.Ordinal)) return s;
                Thread.Sleep(100);
            }
            Assert.Fail($"'{text}' not on screen:\n{s}");
            return s;
        }

        public void Keys(params string[] keys)
        {
            foreach (var k in keys) Tmux("send-keys", "-t", Name, k);
            Thread.Sleep(300);
        }

        public string Exit(int ms = 15000)
        {
            var sw = Stopwatch.StartNew();
            while (!File.Exists(Done) && sw.ElapsedMilliseconds < ms) Thread.Sleep(100);
            Assert.True(File.Exists(Done), "the program did not exit:\n" + Screen());
            Thread.Sleep(100);
            return File.ReadAllText(Done).Trim();
        }

        public void Dispose()
        {
            try { Tmux("kill-session", "-t", Name); } catch (InvalidOperationException) { }
            File.Delete(Done);
        }
    }

    private static string Exe()
    {
        string exe = Path.Combine(AppContext.BaseDirectory, "pathprobe");
        Assert.True(File.Exists(exe), exe);
        return exe;
    }

    [SkippableFact]
    public void Incident_BlackHoleOnScreen_OpenFlow_QuitWithStatusOne()
    {
        if (TestPaths.Tool("tmux") is null) throw new SkipException("tmux is not installed (scripts/test.sh installs it)");
        string capture = Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap");
        using var s = new Session($"'{Exe()}' tui '{capture}'", 80, 24);
        var list = s.WaitFor("mtu-blackhole");
        output.WriteLine(list);
        Assert.Contains("4 critical", list);
        Assert.Contains("!! critical mtu-blackhole", list);
        // The findings pane has the focus: Enter opens the black hole's flow.
        s.Keys("Enter");
        var flow = s.WaitFor("#2 tcp 198.51.100.10:37672");
        Assert.Contains("1 time-sequence", flow);
        Assert.Contains("░", flow);
        s.Keys("2");
        var sizes = s.WaitFor("━");
        output.WriteLine(sizes);
        Assert.Contains("1500┤", sizes);
        // Esc goes back, it does not quit.
        s.Keys("Escape");
        s.WaitFor("Flows (2)");
        Assert.False(File.Exists(s.Done));
        s.Keys("C-q");
        Assert.Equal("1", s.Exit());
        // The terminal is back: the alternate screen is gone and the shell's own output shows.
        Assert.DoesNotContain("Flows (2)", s.Screen());
    }

    [SkippableFact]
    public void CleanCapture_QuitsWithStatusZero_SigtermRestoresTheTerminal()
    {
        if (TestPaths.Tool("tmux") is null) throw new SkipException("tmux is not installed (scripts/test.sh installs it)");
        string capture = Path.Combine(TestPaths.Captures, "smtp-healthy-ipv4.pcap");
        using (var s = new Session($"'{Exe()}' tui '{capture}'", 120, 40))
        {
            s.WaitFor("0 critical");
            s.Keys("q");
            Assert.Equal("0", s.Exit());
        }
        using (var s = new Session($"printf 'before\\n'; '{Exe()}' tui '{capture}'", 120, 40))
        {
            s.WaitFor("0 critical");
            string pids = Tmux("list-panes", "-t", s.Name, "-F", "#{pane_pid}").Trim();
            // The pane runs a shell; the TUI is its child.
            string child = TestPaths.RunTool("pgrep", "-P", pids, "-f", "pathprobe").Trim().Split('\n')[0];
            TestPaths.RunTool("kill", "-TERM", child);
            // The status of every command stopped by SIGTERM (README "Exit status"), after the terminal is restored.
            Assert.Equal("143", s.Exit());
            var after = s.Screen();
            output.WriteLine(after);
            Assert.Contains("before", after);
            Assert.DoesNotContain("0 critical", after);
            // The terminal modes are restored: the cursor is visible and no mouse reporting is left on.
            string modes = Tmux("display-message", "-p", "-t", s.Name, "#{cursor_flag} #{mouse_any_flag} #{alternate_on}");
            Assert.Equal("1 0 0", modes.Trim());
        }
    }

    [SkippableFact]
    public void TerminalClosedUnderIt_TheTuiExitsByItself()
    {
        if (TestPaths.Tool("tmux") is null) throw new SkipException("tmux is not installed (scripts/test.sh installs it)");
        string capture = Path.Combine(TestPaths.Captures, "smtp-healthy-ipv4.pcap");
        int pid;
        using (var s = new Session($"'{Exe()}' tui '{capture}'", 80, 24))
        {
            s.WaitFor("0 critical");
            string shell = Tmux("list-panes", "-t", s.Name, "-F", "#{pane_pid}").Trim();
            pid = int.Parse(TestPaths.RunTool("pgrep", "-P", shell, "-f", "pathprobe").Trim().Split('\n')[0]);
            // Closing the pane hangs up the terminal: the TUI is asked to quit (SIGHUP, or the hang-up seen on its
            // input); when its loop cannot finish on a dead terminal, it exits 10 s later all the same.
        }
        var sw = Stopwatch.StartNew();
        bool alive = true;
        while (sw.ElapsedMilliseconds < 30_000 && (alive = Directory.Exists($"/proc/{pid}"))) Thread.Sleep(100);
        if (alive)
        {
            try { Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { }
            Assert.Fail("the TUI kept running after its terminal was closed");
        }
        output.WriteLine($"exited {sw.ElapsedMilliseconds} ms after the terminal closed");
    }
}
