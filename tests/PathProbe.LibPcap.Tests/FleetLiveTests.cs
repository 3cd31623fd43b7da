using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using PathProbe.LibPcap.Tests.Support;
using PathProbe.Telemetry.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.LibPcap.Tests;

/// <summary>
/// Issue 20 items 1, 2, 4 and 6 with the real program: <c>pathprobe capture</c> in a network namespace while a real MRU
/// black hole happens on the veth (server MTU 1424, MSS 1460 advertised), scraped by a real Prometheus started by the
/// test in the same namespace (its own port and storage, bounded in time), with OTLP/HTTP going to a minimal receiver
/// there that stores each request body for the test to decode. Then SIGTERM: the capture must flush the pcapng, the
/// report and the exporters. And SIGHUP: the pcapng is reopened (a new file after a move, a new section otherwise).
/// Root only; every process is ended by its PID (the namespaces' Dispose kills what is left in them).
/// </summary>
public sealed class FleetLiveTests(ITestOutputHelper output) : IDisposable
{
    private const string Python = CaptureCommandLiveTests.Python;
    private readonly string _dir = Directory.CreateTempSubdirectory("pathprobe-fleet-live-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string OtlpSink = """
        import http.server, itertools, os, sys
        out, n = sys.argv[2], itertools.count()
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_POST(self):
                if "chunked" in (self.headers.get("Transfer-Encoding") or ""):
                    body = b""
                    while True:
                        size = int(self.rfile.readline().strip(), 16)
                        if size == 0:
                            self.rfile.readline(); break
                        body += self.rfile.read(size); self.rfile.readline()
                else:
                    body = self.rfile.read(int(self.headers["Content-Length"]))
                name = "%06d-%s.bin" % (next(n), self.path.strip("/").replace("/", "-"))
                with open(os.path.join(out, name + ".tmp"), "wb") as f: f.write(body)
                os.rename(os.path.join(out, name + ".tmp"), os.path.join(out, name))
                self.send_response(200); self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0"); self.end_headers()
            def log_message(self, *a): pass
        http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
        """;

    [SkippableFact]
    public void Prometheus_ScrapesCaptureDuringMruBlackHole_FindingQueriedAndSigtermFlushesEverything()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "live capture tests need Linux");
        if (!Requires.RootLibPcapAnd(output, "ip", "tshark")) return;
        string? prometheus = Requires.Which("prometheus");
        Skip.If(prometheus is null, "prometheus is not installed (package prometheus; scripts/test.sh installs it)");
        Skip.IfNot(File.Exists(Python), $"{Python} is missing");

        using var net = new NetnsPair(serverMtu: 1424, serverAdvertisedMss: 1460);
        // A namespace of our own: no other program's ports to avoid; still, pick them at random.
        var random = new Random();
        int metricsPort = random.Next(20_000, 30_000), promPort = random.Next(30_000, 40_000), otlpPort = random.Next(40_000, 50_000);
        string otlpDir = Directory.CreateDirectory(Path.Combine(_dir, "otlp")).FullName;
        string config = Path.Combine(_dir, "prometheus.yml");
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: pathprobe
                static_configs:
                  - targets: ['127.0.0.1:{metricsPort}']
            """);
        string file = Path.Combine(_dir, "mru.pcapng");
        string cli = Path.Combine(AppContext.BaseDirectory, "pathprobe.dll");

        using var sink = NetnsPair.Start(net.ClientNs, Python, ["-c", OtlpSink, otlpPort.ToString(CultureInfo.InvariantCulture), otlpDir]);
        using var prom = NetnsPair.Start(net.ClientNs, prometheus!,
            [$"--config.file={config}", $"--storage.tsdb.path={Path.Combine(_dir, "tsdb")}", $"--web.listen-address=127.0.0.1:{promPort}",
             "--storage.tsdb.retention.time=1h", "--log.level=warn"]);
        var capture = new LiveProcess(NetnsPair.Start(net.ClientNs, Environment.ProcessPath!,
            ["exec", cli, "capture", "-i", net.ClientIf, "-w", file, "--ndjson", "--host", "mx1.fleet.test", "--capture-id", "fleet-run-7",
             "--metrics-listen", $"127.0.0.1:{metricsPort}", "--otlp-endpoint", $"http://127.0.0.1:{otlpPort}", "--otlp-interval", "1"]));
        try
        {
            Assert.True(capture.WaitForStderr("capturing on", 15_000), $"capture did not start: {capture.Stderr}");
            Assert.Contains($"metrics at http://127.0.0.1:{metricsPort}/metrics", capture.Stderr);
            // Prometheus is up and has scraped the capture at least once before the traffic starts.
            Assert.True(Poll(() => Query(net, promPort, "up{job=\"pathprobe\"}") is [var up] && up == 1, 30_000), "Prometheus never scraped the capture");

            // The black hole: 200 KB toward a server whose link drops every full-sized frame; the client gives up after 12 s.
            CaptureCommandLiveTests.SmtpExchange(net, clientTimeoutSeconds: 12);

            // While the capture still runs: the finding was counted, and was open during the exchange.
            double total = 0, open = 0, peers = 0;
            Assert.True(Poll(() =>
            {
                total = Query(net, promPort, "sum(pathprobe_findings_total{kind=\"mtu-blackhole\"})").FirstOrDefault();
                open = Query(net, promPort, "max_over_time(sum(pathprobe_findings_open{kind=\"mtu-blackhole\"})[5m:1s])").FirstOrDefault();
                peers = Query(net, promPort, "max_over_time(pathprobe_blackhole_peers[5m])").FirstOrDefault();
                return total >= 1 && open >= 1 && peers >= 1;
            }, 30_000), $"Prometheus: findings_total {total}, max open {open}, max black-holed peers {peers}\n{capture.Stderr}");
            double packets = Query(net, promPort, "pathprobe_packets_total").Single();
            double retransmissions = Query(net, promPort, "pathprobe_retransmissions_total").Single();
            double rttCount = Query(net, promPort, "pathprobe_handshake_rtt_seconds_count").FirstOrDefault(); // recorded when a flow ends
            output.WriteLine($"Prometheus: mtu-blackhole findings_total {total}, max open {open}, max peers {peers}, packets {packets}, " +
                             $"retransmissions {retransmissions}, handshake RTT samples {rttCount}");
            Assert.True(packets > 10, $"packets_total {packets}");
            Assert.True(retransmissions > 0, "a black hole retransmits");

            // SIGTERM: the report (NDJSON summary), the pcapng and the exporters are all flushed; exit 143.
            NetnsPair.Run("kill", $"-TERM {capture.Process.Id}");
            Assert.True(capture.Process.WaitForExit(30_000), "capture did not stop after SIGTERM");
            capture.Process.WaitForExit();
            output.WriteLine(capture.Stderr);
            Assert.Equal(143, capture.Process.ExitCode);
            Assert.Contains("stopped (SIGTERM)", capture.Stderr);
            var summary = capture.Summary();
            var holes = summary["findings"]!.AsArray().Where(f => (string?)f!["kind"] == "mtu-blackhole").ToList();
            Assert.Equal(total, holes.Count); // Prometheus counted each black hole once, as the report lists them
            long reported = (long)summary["inputs"]![0]!["packets"]!;
            var (_, tshark) = NetnsPair.Run("tshark", $"-n -r {file} -T fields -e frame.number");
            Assert.Equal(reported, tshark.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
            Assert.True(packets <= reported, $"Prometheus saw {packets} packets, the report {reported}");

            // OTLP: the black hole's opening as a log record with its flow and evidence, and the last metric export
            // (sent at SIGTERM) counts every packet the report counts.
            Thread.Sleep(500);
            var bodies = Directory.GetFiles(otlpDir, "*.bin").Order(StringComparer.Ordinal).ToList();
            var logs = bodies.Where(b => b.EndsWith("v1-logs.bin", StringComparison.Ordinal)).SelectMany(b => Otlp.LogRecords(File.ReadAllBytes(b))).ToList();
            var opened = Assert.Single(logs, r => (string?)r.Attributes["pathprobe.finding.kind"] == "mtu-blackhole" && (string?)r.Attributes["pathprobe.finding.change"] == "opened");
            var hole = holes[0]!;
            Assert.Equal((long)hole["id"]!, opened.Attributes["pathprobe.finding.id"]);
            Assert.Equal((long)hole["flows"]![0]!, opened.Attributes["pathprobe.flow.id"]);
            Assert.Equal("sender", opened.Attributes["pathprobe.evidence.vantage"]);
            Assert.Equal(net.ClientIf, opened.Resource["pathprobe.capture.interface"]);
            // The run's --host and --capture-id, as its NDJSON records carry them: the three outputs join on them.
            Assert.Equal("mx1.fleet.test", opened.Resource["host.name"]);
            Assert.Equal("fleet-run-7", opened.Resource["pathprobe.capture.id"]);
            Assert.Equal("fleet-run-7", opened.Attributes["pathprobe.capture.id"]);
            var records = capture.Lines().Select(l => JsonNode.Parse(l)!.AsObject()).Where(r => (string?)r["type"] == "finding").ToList();
            Assert.NotEmpty(records);
            Assert.All(records, r => Assert.Equal(("mx1.fleet.test", "fleet-run-7"), ((string?)r["host"], (string?)r["capture_id"])));
            var lastMetrics = Otlp.Metrics(File.ReadAllBytes(bodies.Last(b => b.EndsWith("v1-metrics.bin", StringComparison.Ordinal)))).ToDictionary(m => m.Name);
            Assert.Equal(reported, lastMetrics["pathprobe.packets"].Points.Single().Value);
            output.WriteLine($"OTLP: {bodies.Count} requests, {logs.Count} log records; final packets {reported}");
        }
        finally
        {
            capture.Kill();
            foreach (var p in new[] { prom, sink })
                if (!p.HasExited) { p.Kill(); p.WaitForExit(5000); }
        }
    }

    [SkippableFact]
    public void Sighup_MovedAndKeptFile_ReopenedAsNewFileAndNewSection()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "live capture tests need Linux");
        if (!Requires.RootLibPcapAnd(output, "ip", "tshark")) return;
        Skip.IfNot(File.Exists(Python), $"{Python} is missing");
        using var net = new NetnsPair();
        string file = Path.Combine(_dir, "hup.pcapng");
        string cli = Path.Combine(AppContext.BaseDirectory, "pathprobe.dll");
        var capture = new LiveProcess(NetnsPair.Start(net.ClientNs, Environment.ProcessPath!, ["exec", cli, "capture", "-i", net.ClientIf, "-w", file, "--ndjson"]));
        try
        {
            Assert.True(capture.WaitForStderr("capturing on", 15_000), $"capture did not start: {capture.Stderr}");
            CaptureCommandLiveTests.SmtpExchange(net, clientTimeoutSeconds: 10);
            Thread.Sleep(600);
            // logrotate's way: move the file, then SIGHUP.
            File.Move(file, file + ".1");
            NetnsPair.Run("kill", $"-HUP {capture.Process.Id}");
            Assert.True(capture.WaitForStderr($"SIGHUP: reopened {file}", 5_000), capture.Stderr);
            Assert.True(File.Exists(file), "no new file after SIGHUP");
            CaptureCommandLiveTests.SmtpExchange(net, clientTimeoutSeconds: 10);
            Thread.Sleep(600);
            // SIGHUP without a move: the same file goes on with a new section.
            NetnsPair.Run("kill", $"-HUP {capture.Process.Id}");
            Assert.True(Poll(() => Count(capture.Stderr, "SIGHUP: reopened") == 2, 5_000), capture.Stderr);
            CaptureCommandLiveTests.SmtpExchange(net, clientTimeoutSeconds: 10);
            Thread.Sleep(600);
            NetnsPair.Run("kill", $"-TERM {capture.Process.Id}");
            Assert.True(capture.Process.WaitForExit(20_000), "capture did not stop after SIGTERM");
            capture.Process.WaitForExit();
            Assert.Equal(143, capture.Process.ExitCode);
            output.WriteLine(capture.Stderr);

            long reported = (long)capture.Summary()["inputs"]![0]!["packets"]!;
            long moved = Frames(file + ".1"), current = Frames(file);
            output.WriteLine($"report {reported} packets; moved file {moved}, reopened file {current} (two sections)");
            Assert.True(moved > 0 && current > moved, $"moved {moved}, current {current}");
            Assert.Equal(reported, moved + current); // nothing lost, nothing twice
            // Two sections in the reopened file: two section header blocks (capinfos counts interfaces per section).
            Assert.Equal(2, CountSections(File.ReadAllBytes(file)));
        }
        finally
        {
            capture.Kill();
        }
    }

    private static int Count(string text, string what)
    {
        int n = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }

    /// <summary>Walks pcapng blocks and counts section header blocks (type 0x0A0D0D0A).</summary>
    private static int CountSections(byte[] data)
    {
        int n = 0;
        for (int i = 0; i + 12 <= data.Length;)
        {
            uint type = BitConverter.ToUInt32(data, i);
            int length = BitConverter.ToInt32(data, i + 4);
            if (type == 0x0A0D0D0A) n++;
            if (length < 12) break;
            i += length;
        }
        return n;
    }

    private static long Frames(string path)
    {
        var (_, stdout) = NetnsPair.Run("tshark", $"-n -r {path} -T fields -e frame.number");
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }

    /// <summary>An instant query against Prometheus's HTTP API from inside the namespace: the values of the result.</summary>
    private static double[] Query(NetnsPair net, int port, string promql)
    {
        const string get = """
            import json, sys, urllib.parse, urllib.request
            u = "http://127.0.0.1:%s/api/v1/query?query=%s" % (sys.argv[1], urllib.parse.quote(sys.argv[2]))
            try:
                print(urllib.request.urlopen(u, timeout=5).read().decode())
            except Exception as e:
                print(json.dumps({"status": "error", "error": str(e)}))
            """;
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "netns", "exec", net.ClientNs, Python, "-c", get, port.ToString(CultureInfo.InvariantCulture), promql }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string text = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(10_000)) { p.Kill(); return []; }
        var doc = JsonNode.Parse(text);
        if ((string?)doc?["status"] != "success") return [];
        return doc!["data"]!["result"]!.AsArray()
            .Select(r => double.Parse((string)r!["value"]![1]!, CultureInfo.InvariantCulture)).ToArray();
    }

    private static bool Poll(Func<bool> condition, int timeoutMs)
    {
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < timeoutMs)
        {
            if (condition()) return true;
            Thread.Sleep(500);
        }
        return condition();
    }

    /// <summary>The capture process with its output collected as it arrives.</summary>
    private sealed class LiveProcess
    {
        private readonly StringBuilder _out = new(), _err = new();

        public LiveProcess(Process p)
        {
            Process = p;
            p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_err) _err.AppendLine(e.Data); };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
        }

        public Process Process { get; }
        public string Stderr { get { lock (_err) return _err.ToString(); } }

        public bool WaitForStderr(string text, int timeoutMs) => Poll(() => Stderr.Contains(text, StringComparison.Ordinal), timeoutMs);

        /// <summary>Standard output's lines so far.</summary>
        public string[] Lines()
        {
            lock (_out) return _out.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }

        /// <summary>The NDJSON summary line (the last line of standard output).</summary>
        public JsonObject Summary()
        {
            string[] lines;
            lock (_out) lines = _out.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.NotEmpty(lines);
            var summary = JsonNode.Parse(lines[^1])!.AsObject();
            Assert.Equal("summary", (string?)summary["type"]);
            return summary;
        }

        public void Kill()
        {
            if (!Process.HasExited) { Process.Kill(); Process.WaitForExit(5000); }
            Process.Dispose();
        }
    }
}
