using System.Diagnostics;
using System.Text.RegularExpressions;
using PathProbe.LibPcap.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.LibPcap.Tests;

/// <summary>
/// Issue 15's capture cases that need libpcap, as a user meets them: an interface name with escape sequences, a
/// pcapng copy on a full disk, SIGTERM, and the setcap advice, which is run as printed to prove it (as nobody, in a
/// namespace of its own, for the apphost and for `dotnet pathprobe.dll`).
/// </summary>
public sealed class CaptureCommandLineTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pathprobe-capcli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [SkippableFact]
    public void Capture_InterfaceNameWithEscapes_EscapedInTheError()
    {
        if (!Requires.LibPcap(output)) return;
        var stderr = new StringWriter();
        int exit = PathProbe.Cli.Program.Run(["capture", "-i", "\u001b[31mred\u0007"], new StringWriter(), stderr);
        Assert.Equal(2, exit);
        string line = Assert.Single(stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain('\u001b', line);
        Assert.DoesNotContain('\u0007', line);
        Assert.Contains(@"'\x1b[31mred\x07'", line);
        output.WriteLine(line);
    }

    [SkippableFact]
    public void Capture_CopyOnAFullDisk_AnalysisIntactErrorSaidExit2()
    {
        if (!Requires.RootLibPcapAnd(output, "ip", "ping")) return;
        Skip.IfNot(File.Exists("/dev/full"), "/dev/full is Linux only");
        using var net = new NetnsPair();
        var (exit, stdout, stderr) = CaptureWhile(net, ["-w", "/dev/full", "-c", "10", "icmp"], () => Ping(net, 10), signal: null);
        output.WriteLine(stderr);
        Assert.Equal(2, exit);
        // One mechanism (the file writer's thread) for every write error: capture and analysis go on, the end says it.
        Assert.Contains("pathprobe: error: the pcapng copy failed: writing '/dev/full' failed: No space left on device;", stderr);
        Assert.Contains("10 later frames", stderr);
        Assert.Contains("the capture and its analysis are not affected", stderr);
        Assert.Contains("10 packets", stdout); // the report of all ten
        Assert.DoesNotContain("   at ", stderr);
    }

    [SkippableFact]
    public void Capture_Sigterm_ReportThenExit143()
    {
        if (!Requires.RootLibPcapAnd(output, "ip", "ping")) return;
        using var net = new NetnsPair();
        var (exit, stdout, stderr) = CaptureWhile(net, ["icmp"], () => Ping(net, 3), signal: "TERM");
        Assert.Equal(143, exit);
        Assert.Contains("pathprobe: stopped (SIGTERM)", stderr);
        Assert.Contains("6 packets", stdout); // 3 requests, 3 replies
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void SetcapAdvice_RunAsPrinted_LetsAnUnprivilegedUserCapture(bool viaDotnetHost)
    {
        if (!Requires.RootLibPcapAnd(output, "ip", "ping", "setcap", "setpriv")) return;
        // A copy of the program (and for `dotnet pathprobe.dll` of the dotnet host and runtime), so that the
        // capabilities are set on files of this test only, never on the machine's dotnet.
        string app = Path.Combine(_dir, "app");
        CopyDirectory(AppContext.BaseDirectory, app);
        string[] command = [Path.Combine(app, "pathprobe")];
        if (viaDotnetHost)
        {
            string root = Path.GetDirectoryName(File.ResolveLinkTarget(Environment.ProcessPath!, true)?.FullName ?? Environment.ProcessPath!)!;
            Skip.IfNot(Path.GetFileName(Environment.ProcessPath) == "dotnet", "the tests do not run under the dotnet host");
            string host = Path.Combine(_dir, "dotnet");
            Directory.CreateDirectory(host);
            File.Copy(Path.Combine(root, "dotnet"), Path.Combine(host, "dotnet"));
            CopyDirectory(Path.Combine(root, "host", "fxr"), Path.Combine(host, "host", "fxr"));
            CopyDirectory(Path.Combine(root, "shared", "Microsoft.NETCore.App"), Path.Combine(host, "shared", "Microsoft.NETCore.App"));
            command = [Path.Combine(host, "dotnet"), Path.Combine(app, "pathprobe.dll")];
        }
        NetnsPair.Run("chmod", $"-R a+rX {_dir}");

        string ns = $"ppcap{Environment.ProcessId % 100_000}";
        NetnsPair.Run("ip", $"netns add {ns}");
        try
        {
            NetnsPair.Run("ip", $"-n {ns} link set lo up");
            var first = AsNobody(ns, command, traffic: null);
            output.WriteLine(first.Stderr);
            Assert.Equal(2, first.Exit);
            var m = Regex.Match(first.Stderr, @"run with sudo, or sudo (setcap cap_net_raw,cap_net_admin=eip (\S+))");
            Assert.True(m.Success, first.Stderr);
            Assert.Equal(command[0], m.Groups[2].Value); // the apphost, or the dotnet host that runs pathprobe.dll
            if (viaDotnetHost) Assert.Contains("every .NET program started with it can then capture", first.Stderr);

            NetnsPair.Run("setcap", $"cap_net_raw,cap_net_admin=eip {m.Groups[2].Value}"); // as printed, without sudo: we are root
            var second = AsNobody(ns, command, traffic: () => NetnsPair.Run("ip", $"netns exec {ns} ping -c 3 -i 0.2 127.0.0.1"));
            output.WriteLine(second.Stderr);
            Assert.Equal(0, second.Exit);
            Assert.Contains("2 packets", second.Stdout);
        }
        finally
        {
            NetnsPair.Run("ip", $"netns del {ns}", check: false);
        }
    }

    private static (int Exit, string Stdout, string Stderr) AsNobody(string ns, string[] command, Action? traffic)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "netns", "exec", ns, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--" }
                     .Concat(command).Concat(["capture", "-i", "lo", "-c", "2", "icmp"]))
            psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = "/tmp";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = new System.Text.StringBuilder();
        var started = new TaskCompletionSource();
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr) stderr.AppendLine(e.Data);
            if (e.Data.Contains("capturing on")) started.TrySetResult();
        };
        p.BeginErrorReadLine();
        if (traffic is not null)
        {
            Task.WaitAny(started.Task, Task.Run(() => p.WaitForExit(15_000)));
            Thread.Sleep(300);
            if (!p.HasExited) traffic();
        }
        if (!p.WaitForExit(20_000)) { p.Kill(entireProcessTree: true); Assert.Fail($"pathprobe did not finish: {stderr}"); }
        p.WaitForExit();
        lock (stderr) return (p.ExitCode, stdout.Result, stderr.ToString());
    }

    private (int Exit, string Stdout, string Stderr) CaptureWhile(NetnsPair net, string[] args, Action traffic, string? signal)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "pathprobe");
        using var p = NetnsPair.Start(net.ClientNs, cli, new[] { "capture", "-i", net.ClientIf }.Concat(args));
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = new System.Text.StringBuilder();
        var started = new TaskCompletionSource();
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr) stderr.AppendLine(e.Data);
            if (e.Data.Contains("capturing on")) started.TrySetResult();
        };
        p.BeginErrorReadLine();
        try
        {
            Assert.True(started.Task.Wait(15_000), $"capture did not start: {stderr}");
            traffic();
            Thread.Sleep(500); // the kernel hands over the last block after the read timeout
            if (signal is not null) NetnsPair.Run("kill", $"-{signal} {p.Id}");
            Assert.True(p.WaitForExit(20_000), $"capture did not stop: {stderr}");
            p.WaitForExit();
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
        lock (stderr) return (p.ExitCode, stdout.Result, stderr.ToString());
    }

    private static void Ping(NetnsPair net, int count) =>
        NetnsPair.Run("ip", $"netns exec {net.ClientNs} ping -c {count} -i 0.05 -W 1 {NetnsPair.ServerAddress}");

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (string d in Directory.GetDirectories(from)) CopyDirectory(d, Path.Combine(to, Path.GetFileName(d)));
    }
}
