using System.Diagnostics;
using PathProbe.LibPcap.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.LibPcap.Tests;

/// <summary>
/// The real <c>pathprobe tui -i</c> in tmux, capturing in a network namespace while an SMTP client runs into an MRU
/// black hole: flows and the finding appear while it captures, pause holds the screen, 'w' writes the capture so far,
/// the packet view reads the -w file, and quitting exits 1 for the critical finding on screen.
/// </summary>
public sealed class TuiLiveTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pathprobe-tui-live-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Tmux(params string[] args)
    {
        var psi = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // A tmux server of this test process only: runs side by side must not share (and stop) the default server.
        psi.ArgumentList.Add("-L");
        psi.ArgumentList.Add($"pathprobe-live-{Environment.ProcessId}");
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return stdout;
    }

    [SkippableFact]
    public void TuiLive_BlackHoleAppearsWhileCapturing_PauseWriteQuitWithStatusOne()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "live capture tests need Linux");
        if (!Requires.RootLibPcapAnd(output, "ip", "tmux")) return;
        Skip.IfNot(File.Exists(CaptureCommandLiveTests.Python), $"{CaptureCommandLiveTests.Python} is missing (the SMTP peers are python scripts)");
        using var net = new NetnsPair(serverMtu: 1424, serverAdvertisedMss: 1460);
        string cli = Path.Combine(AppContext.BaseDirectory, "pathprobe.dll");
        string file = Path.Combine(_dir, "live.pcapng");
        string done = Path.Combine(_dir, "exit");
        string session = $"pp-tui-live-{Environment.ProcessId}";
        Tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "60", "-c", _dir,
            $"ip netns exec {net.ClientNs} '{Environment.ProcessPath}' exec '{cli}' tui -i {net.ClientIf} -w '{file}' --duration 40; echo $? > '{done}'; sleep 30");
        string Screen() => Tmux("capture-pane", "-p", "-t", session);
        string WaitFor(string text, int ms = 20_000)
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
        void Keys(params string[] keys)
        {
            foreach (var k in keys) Tmux("send-keys", "-t", session, k);
            Thread.Sleep(400);
        }
        try
        {
            WaitFor("capturing");
            var traffic = Task.Run(() => CaptureCommandLiveTests.SmtpExchange(net, clientTimeoutSeconds: 6));
            // The finding shows while the capture runs (the path-MTU detector reports a black hole as it happens).
            var live = WaitFor("mtu-blackhole", 30_000);
            output.WriteLine(live);
            Assert.Contains("capturing", live);
            Assert.Contains("198.51.100.25:25", live);
            Keys("p");
            Assert.Contains("PAUSED", WaitFor("PAUSED"));
            Keys("p");
            Keys("w");
            var wrote = WaitFor("wrote ");
            output.WriteLine(wrote);
            Assert.Single(Directory.GetFiles(_dir, "pathprobe-*.pcapng"));
            traffic.Wait(TimeSpan.FromSeconds(30));
            // Open the black hole's flow and its packets (read back from the -w file).
            Keys("Enter");
            WaitFor("1 time-sequence");
            Keys("5");
            var packets = WaitFor("TCP ", 20_000);
            output.WriteLine(packets);
            Keys("2");
            Assert.Contains("━", WaitFor("ceiling"));
            Keys("C-q");
            var sw = Stopwatch.StartNew();
            while (!File.Exists(done) && sw.ElapsedMilliseconds < 20_000) Thread.Sleep(100);
            Assert.True(File.Exists(done), "the TUI did not exit:\n" + Screen());
            Thread.Sleep(100);
            Assert.Equal("1", File.ReadAllText(done).Trim());
            Assert.True(new FileInfo(file).Length > 0);
            var stdout = new StringWriter();
            int exit = PathProbe.Cli.Program.Run(["analyze", file], stdout, new StringWriter());
            Assert.Equal(1, exit);
            Assert.Contains("PATH-MTU BLACK HOLE", stdout.ToString());
        }
        finally
        {
            Tmux("kill-session", "-t", session);
        }
    }
}
