using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using PathProbe.LibPcap.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.LibPcap.Tests;

/// <summary>
/// The real <c>pathprobe capture</c> in a network namespace, stopped with SIGINT like a user would, against bounded
/// traffic between two namespaces. Root only. The run uses --ndjson: findings stream as lines and the last line is the
/// whole analysis document ("type":"summary"), which is what these tests compare with an offline analysis of the
/// pcapng the capture wrote.
/// </summary>
public sealed class CaptureCommandLiveTests(ITestOutputHelper output) : IDisposable
{
    internal const string Python = "/usr/bin/python3";
    private const int Payload = 200 * 1024;
    private readonly string _dir = Directory.CreateTempSubdirectory("pathprobe-live-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private bool Ready()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "live capture tests need Linux");
        if (!Requires.RootLibPcapAnd(output, "ip", "tshark")) return false;
        if (File.Exists(Python)) return true;
        throw new SkipException($"{Python} is missing (the test's SMTP peers are python scripts)");
    }

    [SkippableFact]
    public void Capture_SmtpBetweenNamespaces_ReportMatchesOfflineAnalysisAndTshark()
    {
        if (!Ready()) return;
        using var net = new NetnsPair();
        string file = Path.Combine(_dir, "live.pcapng");
        var (exit, summary) = CaptureDuring(net, file, () => SmtpExchange(net, clientTimeoutSeconds: 10));

        Assert.Equal(130, exit); // stopped with SIGINT, after the report
        var input = summary["inputs"]![0]!;
        Assert.Equal("live", (string?)input["format"]);
        Assert.Equal(net.ClientIf, (string?)input["path"]);
        Assert.Equal(0, (long)input["drops"]!["kernel"]!);
        Assert.Equal(0, (long)input["drops"]!["interface"]!);

        var smtp = Assert.Single(summary["flows"]!.AsArray(), IsSmtpSession)!;
        Assert.Equal("tcp", (string?)smtp["protocol"]);
        Assert.Equal(NetnsPair.ClientAddress, (string?)smtp["client"]!["ip"]); // schema 2: endpoints are {ip, port}
        Assert.Equal(Payload, (long)smtp["payloadBytes"]!["c2s"]!);
        Assert.Equal("closed", (string?)smtp["state"]);

        long packets = (long)input["packets"]!;
        Assert.Equal(packets, TsharkPacketCount(file));
        Assert.Equal(FlowSignatures(summary), FlowSignatures(Analyze(file)));
    }

    /// <summary>Also with analysis workers (--threads 2, issue 16 item 4: live capture uses the same workers): the
    /// live lines and the final report are those of one engine.</summary>
    [SkippableTheory]
    [InlineData("1")]
    [InlineData("2")]
    public void Capture_MruBlackHoleSenderSide_FullSizedPacketsAndOfflineAnalysisAgree(string threads)
    {
        if (!Ready()) return;
        // Server link MTU 1424 but MSS 1460 advertised: the client's 1500-byte packets vanish on the veth.
        using var net = new NetnsPair(serverMtu: 1424, serverAdvertisedMss: 1460);
        string file = Path.Combine(_dir, "mru.pcapng");
        var (exit, summary) = CaptureDuring(net, file, () => SmtpExchange(net, clientTimeoutSeconds: 3), out var liveFindings, "--threads", threads);

        Assert.Equal(130, exit); // stopped with SIGINT, after the report; the findings are critical:
        Assert.Contains(summary["findings"]!.AsArray(), f => (string?)f!["severity"] == "critical");
        var input = summary["inputs"]![0]!;
        Assert.Equal(0, (long)input["drops"]!["kernel"]!);
        Assert.Equal(0, (long)input["drops"]!["interface"]!);
        var smtp = Assert.Single(summary["flows"]!.AsArray(), IsSmtpSession)!;
        Assert.Equal(1500, (long)smtp["maxIpPacket"]!["c2s"]!);
        Assert.True((long)smtp["payloadBytes"]!["c2s"]! < Payload * 2, "bounded retransmissions");
        Assert.Equal((long)input["packets"]!, TsharkPacketCount(file));
        var offline = Analyze(file);
        Assert.Equal(FlowSignatures(summary), FlowSignatures(offline));

        // (a) The black hole was reported while the capture was still running (before SIGINT), as an NDJSON line.
        // Every change of the finding is a line with the same id; the first says it opened.
        var lives = liveFindings.Where(l => (string?)l.Finding["kind"] == "mtu-blackhole").ToList();
        Assert.NotEmpty(lives);
        Assert.Single(lives.Select(l => (int)l.Finding["id"]!).Distinct());
        var live = lives[0];
        Assert.Equal("opened", (string?)live.Finding["change"]);
        Assert.True(live.BeforeStop, "mtu-blackhole was only reported after the capture was stopped");
        Assert.Equal("sender", (string?)live.Finding["evidence"]!["vantage"]);
        // (c) The final report and the offline analysis of the pcapng agree, and the true limit is inside the range:
        // the server's veth has MTU 1424 and admits IP packets up to 1428 bytes (captures/README.md, "Effective MRU").
        Assert.Equal(FindingSignatures(summary), FindingSignatures(offline));
        var hole = Assert.Single(summary["findings"]!.AsArray(), f => (string?)f!["kind"] == "mtu-blackhole")!;
        var range = hole["evidence"]!["pathMtu"]!;
        Assert.InRange(1424, (int)range["min"]!, (int)range["max"]!);
        Assert.InRange(1428, (int)range["min"]!, (int)range["max"]!);
    }

    /// <summary>issue 19 item 2 and issue 13 item 6, live: -C 0.05 -W 3 over a 200 KB SMTP exchange rotates at least four
    /// times, keeps exactly three files, each a valid pcapng on its own (tshark reads it cleanly) ending in an interface
    /// statistics block that PathProbe reads back.</summary>
    [SkippableFact]
    public void Capture_RingOfThree_ExactlyThreeValidFilesWithStatistics()
    {
        if (!Ready()) return;
        using var net = new NetnsPair();
        string file = Path.Combine(_dir, "ring.pcapng");
        var (exit, summary) = CaptureDuring(net, file, () => SmtpExchange(net, clientTimeoutSeconds: 10), "-C", "0.05", "-W", "3");

        Assert.Equal(130, exit); // stopped with SIGINT, after the report
        var input = summary["inputs"]![0]!;
        var names = Directory.GetFiles(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["ring.pcapng0", "ring.pcapng1", "ring.pcapng2"], names);
        Assert.True((int)input["fileOutput"]!["filesStarted"]! >= 4, $"{input["fileOutput"]} started");
        Assert.Null((string?)input["fileOutput"]!["error"]);
        Assert.Equal(3, input["files"]!.AsArray().Count);

        long packets = 0;
        foreach (var name in names)
        {
            string path = Path.Combine(_dir, name!);
            long tshark = TsharkPacketCount(path);
            Assert.True(tshark > 0, $"{name}: no packets");
            packets += tshark;
            using var source = PathProbe.Capture.CaptureFile.Open(path);
            long read = 0;
            while (source.TryRead(out _)) read++;
            Assert.True(source.End.IsClean, $"{name}: {source.End.Reason}");
            Assert.Equal(tshark, read);
            var stats = source.Info.Interfaces[0].Statistics;
            Assert.NotNull(stats);
            Assert.True(stats!.Received > 0 && stats.OsDropped == 0, $"{name}: {stats}");
            Assert.Equal(net.ClientIf, source.Info.Interfaces[0].Name);
        }
        Assert.True(packets < (long)input["packets"]!, "the ring kept only the newest files");
    }

    /// <summary>Disk full while writing (issue 15: `-w /dev/full` lost the analysis): on a 128 KiB tmpfs the 200 KB
    /// exchange fills the disk mid-capture; the writer says what failed, the file stays valid up to its last whole
    /// block, and the capture and its analysis go on to the end.</summary>
    [SkippableFact]
    public void Capture_DiskFullMidCapture_FileValidAnalysisGoesOn()
    {
        if (!Ready()) return;
        string mnt = Path.Combine(_dir, "small");
        Directory.CreateDirectory(mnt);
        var (mounted, _) = NetnsPair.Run("mount", $"-t tmpfs -o size=128k tmpfs {mnt}", check: false);
        Skip.If(mounted != 0, "cannot mount a small tmpfs");
        try
        {
            using var net = new NetnsPair();
            string file = Path.Combine(mnt, "full.pcapng");
            var (exit, summary) = CaptureDuring(net, file, () => SmtpExchange(net, clientTimeoutSeconds: 10));
            Assert.Equal(130, exit); // SIGINT decides the status; without it a failed copy is 2 (see CaptureCommandLineTests)

            var input = summary["inputs"]![0]!;
            Assert.Contains("No space left on device", (string?)input["fileOutput"]!["error"]);
            Assert.True((long)input["fileOutput"]!["bytesNotWritten"]! > 0);
            var smtp = Assert.Single(summary["flows"]!.AsArray(), IsSmtpSession)!;
            Assert.Equal(Payload, (long)smtp["payloadBytes"]!["c2s"]!);     // the analysis saw everything
            long kept = TsharkPacketCount(file);                              // tshark reads what was written
            Assert.InRange(kept, 1, (long)input["packets"]! - 1);
            using var source = PathProbe.Capture.CaptureFile.Open(file);
            long read = 0;
            while (source.TryRead(out _)) read++;
            Assert.True(source.End.IsClean, source.End.Reason);              // cut at a block boundary
            Assert.Equal(kept, read);
        }
        finally
        {
            NetnsPair.Run("umount", mnt, check: false);
        }
    }

    private static List<string> FindingSignatures(JsonObject doc) =>
        doc["findings"]!.AsArray().Select(f => $"{f!["kind"]} {f["severity"]} [{string.Join(",", f["flows"]!.AsArray().Select(x => (int)x!))}]")
            .Order(StringComparer.Ordinal).ToList();

    /// <summary>Runs pathprobe capture on the client side while <paramref name="traffic"/> runs, then SIGINT.</summary>
    private (int exit, JsonObject summary) CaptureDuring(NetnsPair net, string file, Action traffic, params string[] options) =>
        CaptureDuring(net, file, traffic, out _, options);

    /// <summary>As above, also returning each streamed finding and whether it arrived before SIGINT was sent.</summary>
    private (int exit, JsonObject summary) CaptureDuring(NetnsPair net, string file, Action traffic,
        out List<(JsonObject Finding, bool BeforeStop)> liveFindings, params string[] options)
    {
        bool stopped = false;
        var arrivals = new List<(string Line, bool BeforeStop)>();
        string cli = Path.Combine(AppContext.BaseDirectory, "pathprobe.dll");
        Assert.True(File.Exists(cli), $"{cli} missing");
        using var capture = NetnsPair.Start(net.ClientNs, Environment.ProcessPath!,
            ["exec", cli, "capture", "-i", net.ClientIf, "-w", file, "--ndjson", .. options]);
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var listening = new TaskCompletionSource();
        capture.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stdout) { stdout.AppendLine(e.Data); arrivals.Add((e.Data, !Volatile.Read(ref stopped))); }
        };
        capture.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr) stderr.AppendLine(e.Data);
            if (e.Data.Contains("capturing on")) listening.TrySetResult();
        };
        capture.BeginOutputReadLine();
        capture.BeginErrorReadLine();
        try
        {
            Assert.True(listening.Task.Wait(15_000), $"capture did not start: {stderr}");
            traffic();
            Thread.Sleep(500); // the kernel hands over the last partly filled block after the 100 ms read timeout
            Volatile.Write(ref stopped, true);
            NetnsPair.Run("kill", $"-INT {capture.Id}");
            Assert.True(capture.WaitForExit(20_000), "capture did not stop after SIGINT");
            capture.WaitForExit(); // drain the output events
        }
        finally
        {
            if (!capture.HasExited) capture.Kill();
        }
        output.WriteLine(stderr.ToString());
        string[] lines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        // The records of analyze --ndjson (README "Records"), then the summary; every finding's flows have flow records.
        var records = lines[..^1].Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.All(records, r => Assert.Contains((string?)r["type"], new[] { "finding", "flow", "smtp", "dns", "input" }));
        var flowUids = records.Where(r => (string?)r["type"] == "flow").Select(r => (string)r["uid"]!).ToHashSet();
        foreach (var r in records.Where(r => (string?)r["type"] is "finding"))
            Assert.All(r["uids"]!.AsArray(), u => Assert.Contains((string)u!, flowUids));
        foreach (var r in records.Where(r => (string?)r["type"] is "smtp" or "dns")) Assert.Contains((string)r["uid"]!, flowUids);
        Assert.Single(records, r => (string?)r["type"] == "input");
        var summary = JsonNode.Parse(lines[^1])!.AsObject();
        Assert.Equal(((JsonArray)summary["flows"]!).Count, flowUids.Count);
        Assert.Equal("summary", (string?)summary["type"]);
        Assert.Equal("pathprobe.analysis/2", (string?)summary["schema"]);
        output.WriteLine($"exit {capture.ExitCode}, {lines.Length - 1} record lines, {summary["inputs"]![0]!["packets"]} packets");
        lock (stdout)
            liveFindings = arrivals.Where(a => a.Line.Length > 0)
                .Select(a => (Node: JsonNode.Parse(a.Line)!.AsObject(), a.BeforeStop))
                .Where(a => (string?)a.Node["type"] == "finding").Select(a => (a.Node, a.BeforeStop)).ToList();
        return (capture.ExitCode, summary);
    }

    /// <summary>A 220 banner from the server, 200 KB from the client, "250 ok" back: bounded by timeouts on both ends.</summary>
    internal static void SmtpExchange(NetnsPair net, int clientTimeoutSeconds)
    {
        const string server = """
            import socket, sys
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((sys.argv[1], 25)); s.listen(1); s.settimeout(15)
            c, _ = s.accept(); c.settimeout(float(sys.argv[3]) + 2)
            c.sendall(b"220 mx.example.net ESMTP\r\n")
            n = 0
            try:
                while n < int(sys.argv[2]):
                    d = c.recv(65536)
                    if not d: break
                    n += len(d)
                c.sendall(b"250 ok\r\n")
            except OSError:
                pass
            c.close()
            """;
        const string client = """
            import socket, sys, time
            for _ in range(50):
                try:
                    s = socket.create_connection((sys.argv[1], 25), timeout=float(sys.argv[3])); break
                except ConnectionRefusedError:
                    time.sleep(0.1)
            s.recv(100)
            try:
                s.sendall(b"x" * int(sys.argv[2])); s.shutdown(socket.SHUT_WR); s.recv(100)
            except OSError:
                pass
            s.close()
            """;
        string timeout = clientTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var srv = NetnsPair.Start(net.ServerNs, Python, ["-c", server, NetnsPair.ServerAddress, Payload.ToString(), timeout]);
        using var cli = NetnsPair.Start(net.ClientNs, Python, ["-c", client, NetnsPair.ServerAddress, Payload.ToString(), timeout]);
        int limit = (clientTimeoutSeconds + 10) * 1000;
        try
        {
            Assert.True(cli.WaitForExit(limit), "client did not finish");
            Assert.True(srv.WaitForExit(limit), "server did not finish");
        }
        finally
        {
            if (!cli.HasExited) cli.Kill();
            if (!srv.HasExited) srv.Kill();
        }
    }

    /// <summary>The port-25 flow that carried data (the client may first be refused while the server starts).</summary>
    private static bool IsSmtpSession(JsonNode? f) =>
        (string?)f!["server"]!["ip"] == NetnsPair.ServerAddress && (int)f["server"]!["port"]! == 25 && (long)f["payloadBytes"]!["c2s"]! > 0;

    private static long TsharkPacketCount(string file)
    {
        var (_, stdout) = NetnsPair.Run("tshark", $"-n -r {file} -T fields -e frame.number");
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }

    private static JsonObject Analyze(string file)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = PathProbe.Cli.Program.Run(["analyze", file, "--json"], stdout, stderr);
        Assert.True(exit is 0 or 1, stderr.ToString());
        return JsonNode.Parse(stdout.ToString())!.AsObject();
    }

    private static List<string> FlowSignatures(JsonObject doc) =>
        doc["flows"]!.AsArray().Select(f =>
            $"{f!["protocol"]} {f["client"]!.ToJsonString()} -> {f["server"]!.ToJsonString()} packets {f["packets"]!["c2s"]}/{f["packets"]!["s2c"]} " +
            $"payload {f["payloadBytes"]!["c2s"]}/{f["payloadBytes"]!["s2c"]} maxIp {f["maxIpPacket"]!["c2s"]}/{f["maxIpPacket"]!["s2c"]} " +
            $"start {f["start"]} end {f["end"]} state {f["state"]}")
        .Order(StringComparer.Ordinal).ToList();
}
