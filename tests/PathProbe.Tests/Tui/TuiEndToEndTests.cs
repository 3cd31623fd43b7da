using System.Diagnostics;
using PathProbe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Tests.Tui;

/// <summary>The real program in a real terminal (tmux): open the incident capture, open the stalled flow, filter, quit.</summary>
public sealed class TuiEndToEndTests(ITestOutputHelper output)
{
    private static string Tmux(params string[] args) => TestPaths.RunTool("tmux", args);

    [SkippableFact]
    public void Tui_InTmux_OpenStalledFlowFilterQuit()
    {
        if (TestPaths.Tool("tmux") is null) throw new SkipException($"tmux is not installed (scripts/test.sh installs it)");
        string exe = Path.Combine(AppContext.BaseDirectory, "pathprobe");
        Assert.True(File.Exists(exe), exe);
        string session = $"pathprobe-e2e-{Environment.ProcessId}";
        string done = Path.Combine(Path.GetTempPath(), session + ".exit");
        File.Delete(done);
        string capture = Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap");
        Tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40",
            $"'{exe}' tui '{capture}'; echo $? > '{done}'; sleep 30");
        try
        {
            string Screen() => Tmux("capture-pane", "-p", "-t", session);
            string WaitFor(string text)
            {
                var sw = Stopwatch.StartNew();
                string s = "";
                while (sw.ElapsedMilliseconds < 15000)
                {
                    s = Screen();
                    if (s.Contains(text)) return s;
                    Thread.Sleep(100);
                }
                Assert.Fail($"'{text}' not on screen:\n{s}");
                return s;
            }

            var list = WaitFor("2 flows");
            Assert.Contains("stalled", list.Split('\n').First(l => l.StartsWith("!!")));
            Tmux("send-keys", "-t", session, "Enter");
            int expected = PathProbe.Pipeline.FileAnalyzer.Analyze(capture).Findings.Count(f => f.Flows.Contains(2));
            var flow = WaitFor($"Findings ({expected})"); // mtu-blackhole, stall, retransmission-storm, mss-mismatch, smtp-aborted
            Assert.Contains("#2 tcp", flow);
            Assert.Contains("┤", flow);           // the graphs
            Assert.Contains("░", flow);           // the stall on the time axis
            Assert.Contains("critical mtu-blackhole", flow);
            Assert.Contains("━", flow);           // the path-MTU ceiling line
            Thread.Sleep(300);
            Tmux("send-keys", "-t", session, "Escape");
            Thread.Sleep(500);
            Tmux("send-keys", "-t", session, "/");
            Tmux("send-keys", "-t", session, "-l", "56552");
            Tmux("send-keys", "-t", session, "Enter");
            var filtered = WaitFor("filter: 56552");
            Assert.Contains("198.51.100.10:56552", filtered);
            Assert.DoesNotContain("198.51.100.10:37672", filtered);
            Tmux("send-keys", "-t", session, "q");
            var sw = Stopwatch.StartNew();
            while (!File.Exists(done) && sw.ElapsedMilliseconds < 10000) Thread.Sleep(100);
            Assert.True(File.Exists(done), "the program did not exit after q:\n" + Screen());
            Thread.Sleep(100);
            Assert.Equal("0", File.ReadAllText(done).Trim());
        }
        finally
        {
            try { Tmux("kill-session", "-t", session); } catch (InvalidOperationException) { }
            File.Delete(done);
        }
    }
}
