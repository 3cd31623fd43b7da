using System.Text.Json.Nodes;
using PathProbe.LibPcap.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.LibPcap.Tests;

/// <summary>
/// Capture drops are not path loss (issue 13 item 6): healthy mail traffic (the bundled smtp-healthy-ipv4.pcap, each
/// loop with new addresses) is replayed with tcpreplay at top speed into a veth in a network namespace while
/// <c>pathprobe capture</c> listens on its peer with a 1 KiB kernel buffer, so the capture itself drops most packets.
/// The path was healthy: the report must hold no mtu-blackhole and no critical finding, mark what rests on the missing
/// packets as a possible capture artefact, and exit 0; the same for <c>analyze</c> of the pcapng it wrote (its
/// interface statistics carry the drops). Root, libpcap, ip and tcpreplay; skipped otherwise.
/// </summary>
public sealed class CaptureDropsLiveTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pathprobe-drops-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "PathProbe.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
        }
    }

    [SkippableFact]
    public void Capture_HealthyTrafficWithCaptureDrops_NoBlackHoleNoCriticalExitZero()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "live capture tests need Linux");
        if (!Requires.RootLibPcapAnd(output, "ip", "tcpreplay")) return;
        string replay = Path.Combine(RepoRoot, "captures", "smtp-healthy-ipv4.pcap");
        Skip.IfNot(File.Exists(replay), $"{replay} is missing");

        using var net = new NetnsPair();
        string file = Path.Combine(_dir, "drops.pcapng");
        string cli = Path.Combine(AppContext.BaseDirectory, "pathprobe.dll");
        using var capture = NetnsPair.Start(net.ClientNs, Environment.ProcessPath!,
            ["exec", cli, "capture", "-i", net.ClientIf, "-B", "1", "--duration", "6", "-w", file, "--json"]);
        var stdout = capture.StandardOutput.ReadToEndAsync();
        var stderr = capture.StandardError.ReadToEndAsync();
        try
        {
            Thread.Sleep(2000); // the capture opens the interface
            // Out of the server's end, into the capture's: about 36,000 packets in well under a second.
            var (code, _) = NetnsPair.Run("ip", $"netns exec {net.ServerNs} tcpreplay -q -i {net.ServerIf} --topspeed --loop 150 --unique-ip {replay}",
                check: false, timeoutMs: 30_000);
            Assert.Equal(0, code);
            Assert.True(capture.WaitForExit(30_000), "capture did not stop after --duration");
            capture.WaitForExit();
        }
        finally
        {
            if (!capture.HasExited) capture.Kill();
        }
        output.WriteLine(stderr.Result);
        var live = JsonNode.Parse(stdout.Result)!.AsObject();
        long dropped = (long)live["inputs"]![0]!["drops"]!["kernel"]!;
        output.WriteLine($"exit {capture.ExitCode}; {live["inputs"]![0]!["packets"]} packets analysed, {dropped} dropped by the kernel; " +
                         $"{live["findings"]!.AsArray().Count} findings");
        if (dropped == 0) throw new SkipException("the capture dropped nothing at this speed, so there is nothing to test (a faster machine than the test was made on)");

        Check(live, "capture");
        Assert.Equal(0, capture.ExitCode);

        // The written pcapng carries the drops in its interface statistics: analyze reads them and agrees.
        var so = new StringWriter();
        var se = new StringWriter();
        int exit = PathProbe.Cli.Program.Run(["analyze", file, "--json"], so, se);
        var offline = JsonNode.Parse(so.ToString())!.AsObject();
        Assert.True((long)offline["inputs"]![0]!["captureLoss"]!["dropped"]! > 0, so.ToString()[..Math.Min(2000, so.ToString().Length)]);
        Check(offline, "analyze");
        Assert.Equal(0, exit);
    }

    private void Check(JsonObject doc, string what)
    {
        var findings = doc["findings"]!.AsArray();
        foreach (var f in findings)
            output.WriteLine($"{what}: {f!["severity"]} {f["kind"]} artefact={(f["captureArtefact"] is null ? "no" : "yes")}");
        Assert.DoesNotContain(findings, f => (string?)f!["kind"] is "mtu-blackhole" or "mss-mismatch");
        Assert.DoesNotContain(findings, f => (string?)f!["severity"] == "critical");
        // What rests on missing packets is marked, with the drops that explain it.
        foreach (var f in findings.Where(f => (string?)f!["kind"] is "stall" or "smtp-aborted" or "retransmission-storm"))
            Assert.True(f!["captureArtefact"] is JsonObject a && (long)a["dropped"]! > 0, $"{what}: {f!.ToJsonString()[..200]}");
    }
}
