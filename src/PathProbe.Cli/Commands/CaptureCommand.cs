using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using PathProbe.Capture;
using PathProbe.Cli.Commands.Capture;
using PathProbe.Cli.Records;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.LibPcap;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Reports;
using PathProbe.Reports.Records;

namespace PathProbe.Cli.Commands;

/// <summary>
/// <c>pathprobe capture -i IFACE [FILTER...]</c>: live capture through libpcap into the same engine as analyze, with
/// findings as they are detected, an optional pcapng copy, and the full report when the capture stops.
/// <c>pathprobe capture -D</c> lists the interfaces.
/// </summary>
public static class CaptureCommand
{
    /// <summary>
    /// Mail (SMTP 25, submissions 465, submission 587, the common alternative 2525), DNS over UDP and TCP, and all ICMP:
    /// the "fragmentation needed"/"packet too big" messages that explain an MTU black hole use no port and would
    /// be lost to a port filter. IPv4 fragments after the first carry no transport header, so "port 53" cannot match
    /// them; the last two terms keep every IPv4 fragment (MF set or offset non-zero) and every IPv6 packet whose first
    /// extension header is a fragment header (next header 44), so large DNS answers still reassemble.
    /// </summary>
    public const string DefaultFilter =
        "tcp port 25 or tcp port 465 or tcp port 587 or tcp port 2525 or port 53 or icmp or icmp6" +
        " or (ip[6:2] & 0x3fff != 0) or (ip6 and ip6[6] == 44)";

    private const int TickMilliseconds = 500;

    /// <summary>--duration's ceiling: a billion seconds (31 years) keeps every deadline computation in range.</summary>
    public const double MaxDurationSeconds = 1e9;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var list = new Option<bool>("--list-interfaces", "-D") { Description = "List the interfaces libpcap can capture on, with their addresses, and exit (tcpdump -D)." };
        var filter = new Argument<string[]>("FILTER")
        {
            Description = "tcpdump filter expression (pcap-filter(7)), e.g. 'tcp port 25 and host 198.51.100.25'. Default: " +
                          DefaultFilter + " — mail and DNS ports plus all ICMP (the errors that explain black holes carry no " +
                          "port) plus IPv4 and IPv6 fragments (later fragments have no port either). Use 'ip or ip6' for everything IP.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var write = CliOptions.OutputFile("-w", null,
            "Also write the frames to FILE as pcapng, like tcpdump -w (nanosecond timestamps; at the end of each file an interface " +
            "statistics block with the kernel's received/dropped counters, as dumpcap writes). With -G the name is a " +
            "strftime pattern (e.g. mail-%Y%m%d-%H%M%S.pcapng), as in tcpdump.");
        var rotate = CliOptions.Megabytes("-C", null,
            "With -w, like tcpdump -C: before writing a packet, start a new file once the current one is larger than MB millions " +
            "of bytes (fractions allowed: 0.5; or with k, m, g for KiB, MiB, GiB). Files: FILE, FILE1, FILE2, ...; with -W N: " +
            "FILE0 .. FILE{N-1} (zero-padded to the digits of N-1), reused as a ring. Each file is a complete pcapng.", 1L << 50);
        var ring = CliOptions.Int32("-W", null, "N",
            "With -C: keep a ring of N files, overwriting the oldest (tcpdump -W). With -G alone: stop capturing after N files.", 1, int.MaxValue);
        var seconds = CliOptions.Number("-G", null, "S",
            "With -w: start a new file before writing a packet once the current one is S seconds old (tcpdump -G); the -w name " +
            "goes through strftime with the local time each file starts.", 0, MaxDurationSeconds, "seconds");
        var json = new Option<bool>("--json") { Description = "At the end, write the analysis JSON document (schema pathprobe.analysis/2, plus inputs[].drops, files and fileOutput) instead of the text report." };
        var ndjson = new Option<bool>("--ndjson")
        {
            Description = "Stream records as newline-delimited JSON to standard output (the record shapes of analyze --ndjson, README \"Records\"): " +
                          "a {\"type\":\"finding\",\"change\":\"opened|updated|closed\",...} line each time a finding opens, changes or closes (the same id throughout); " +
                          "flow, smtp and dns lines as each flow ends, linked by \"uid\"; at the end an input line and one {\"type\":\"summary\",...} line holding the whole analysis document.",
        };
        var duration = CliOptions.Number("--duration", null, "S", "Stop after S seconds (fractions allowed).", 0, MaxDurationSeconds, "seconds");
        var count = CliOptions.Integer("--count", "-c", "N", "Stop after N packets, like tcpdump -c.", 1, long.MaxValue);
        var maxFlows = CliOptions.Int32("--max-flows", null, "N",
            "Flows tracked at once; the least recently active flow is evicted (and counted) when full.", 1, int.MaxValue, new FlowTableOptions().MaxFlows);
        var flowRows = CliOptions.Int32("--flow-rows", null, "N", "Flow rows in the text report.", 0, int.MaxValue, 50);
        var threads = AnalyzeCommand.ThreadsOption();
        var metricsListen = CliOptions.Text("--metrics-listen", null, "ADDR:PORT",
            "Serve Prometheus metrics at http://ADDR:PORT/metrics while capturing (127.0.0.1:9464, a host name, or *:9464 for every " +
            "address; no IPv6 literal): packets, drops, active flows, retransmissions, findings opened and open by kind and severity, black-holed " +
            "peers, mail transactions by outcome and reply class, a handshake-RTT histogram. No per-address labels.");
        var otlpEndpoint = CliOptions.Text("--otlp-endpoint", null, "URL",
            "Send the same metrics, and each finding's opening, change and closing as a log record (the finding's evidence and " +
            "flow ids as attributes), to an OpenTelemetry collector: http://HOST:4318 for OTLP/HTTP (the /v1/metrics and /v1/logs " +
            "paths are added), http://HOST:4317 with --otlp-protocol grpc.");
        var otlpProtocol = CliOptions.Choice("--otlp-protocol", null, "PROTOCOL", "OTLP transport: http/protobuf (default) or grpc.",
            new Dictionary<string, string> { ["http/protobuf"] = "http/protobuf", ["grpc"] = "grpc" }, "http/protobuf");
        var otlpInterval = CliOptions.Number("--otlp-interval", null, "S", "Seconds between OTLP metric exports (default 10).", 0, 86_400, "seconds", 10);
        var config = CliOptions.Text("--config", null, "FILE",
            "Read settings from FILE (INI: 'key = value' lines; JSON when the name ends in .json). Every flag has a key: its long " +
            "name without dashes (interface, metrics-listen, ...), write for -w, file-size for -C, file-count for -W, rotate-seconds " +
            "for -G, filter for the filter expression. Flags on the command line win. For running as a service: docs/fleet.md.");

        var cmd = new Command("capture",
            "Capture live from an interface (libpcap) and report flows and findings as they happen (a line when a finding opens, " +
            "changes its severity or verdict, or closes); Ctrl-C, --duration or --count stops the capture and prints the full report. Needs root or CAP_NET_RAW.")
        {
            filter,
        };
        var live = LiveOptions.AddTo(cmd);
        foreach (var o in new Option[] { list, write, rotate, ring, seconds, count, duration, json, ndjson, maxFlows, flowRows,
                                         metricsListen, otlpEndpoint, otlpProtocol, otlpInterval, config, threads }) cmd.Add(o);
        var records = RecordOptions.AddTo(cmd, live: true);
        cmd.SetAction(parse =>
        {
            if (parse.GetValue(config) is { } configFile)
            {
                // The file's keys become flags in front of the command line's, parsed and checked like typed flags.
                var merged = CaptureConfig.Merge(parse, cmd, config, configFile, out string? configError);
                if (merged is null) return Usage(stderr, configError!);
                parse = cmd.Parse(merged, new System.CommandLine.ParserConfiguration { ResponseFileTokenReplacer = null });
                if (Program.UsageError(parse) is { } error) return Usage(stderr, $"{error} (from {SafeText.Clean(configFile, 200)} or the command line)");
            }
            if (parse.GetValue(list)) return ListInterfaces(stdout, stderr);
            MetricsEndpoint? listen = null;
            if (parse.GetValue(metricsListen) is { } listenText && !MetricsEndpoint.TryParse(listenText, out listen, out string? listenError))
                return Usage(stderr, $"--metrics-listen: {listenError}");
            Uri? otlp = null;
            if (parse.GetValue(otlpEndpoint) is { } otlpText &&
                (!Uri.TryCreate(otlpText, UriKind.Absolute, out otlp) || otlp.Scheme is not ("http" or "https")))
                return Usage(stderr, $"--otlp-endpoint: '{SafeText.Clean(otlpText, 200)}' is not an http:// or https:// URL (e.g. http://127.0.0.1:4318)");
            string expression = string.Join(' ', parse.GetValue(filter) ?? []);
            var settings = new Settings
            {
                Interface = parse.GetValue(live.Interface),
                Filter = expression,
                Live = live.Settings(parse, string.IsNullOrWhiteSpace(expression) ? DefaultFilter : expression),
                WritePath = parse.GetValue(write),
                RotateBytes = parse.GetValue(rotate),
                RingFiles = parse.GetValue(ring),
                RotateSeconds = parse.GetValue(seconds),
                Json = parse.GetValue(json),
                Ndjson = parse.GetValue(ndjson),
                DurationSeconds = parse.GetValue(duration),
                Count = parse.GetValue(count),
                MaxFlows = parse.GetValue(maxFlows),
                FlowRows = parse.GetValue(flowRows),
                Records = records.Settings(parse),
                Threads = parse.GetValue(threads),
                Telemetry = new TelemetryOptions
                {
                    MetricsListen = listen,
                    OtlpEndpoint = otlp,
                    OtlpGrpc = parse.GetValue(otlpProtocol) == "grpc",
                    OtlpIntervalSeconds = parse.GetValue(otlpInterval),
                    Interface = parse.GetValue(live.Interface) ?? "",
                },
            };
            return Run(settings, stdout, stderr);
        });
        return cmd;
    }

    internal sealed class Settings
    {
        public string? Interface { get; init; }
        public string Filter { get; init; } = "";
        public LiveCaptureOptions Live { get; init; } = new();
        public string? WritePath { get; init; }
        /// <summary>-C in bytes; 0 = no size rotation.</summary>
        public long RotateBytes { get; init; }
        /// <summary>-W; 0 = no ring, no file limit.</summary>
        public int RingFiles { get; init; }
        /// <summary>-G in seconds; 0 = no time rotation.</summary>
        public double RotateSeconds { get; init; }
        public bool Json { get; init; }
        public bool Ndjson { get; init; }
        public double DurationSeconds { get; init; }
        public long Count { get; init; }
        public int MaxFlows { get; init; } = new FlowTableOptions().MaxFlows;
        public int FlowRows { get; init; } = 50;
        /// <summary>--parquet, --host, --capture-id (Records/RecordOptions).</summary>
        public RecordSettings Records { get; init; } = new();
        /// <summary>--threads: analysis workers (1: on the capture thread).</summary>
        public int Threads { get; init; } = 1;
        /// <summary>Records or telemetry are written from the engine's state as the capture runs, so one engine analyses on
        /// the capture thread whatever <see cref="Threads"/> says.</summary>
        public bool OneEngine => Telemetry.Any || Records.Any || Ndjson;
        public bool UsesWorkers => Threads > 1 && !OneEngine;
        public TelemetryOptions Telemetry { get; init; } = new();
    }

    internal static int ListInterfaces(TextWriter stdout, TextWriter stderr)
    {
        IReadOnlyList<PcapDevice> devices;
        try { devices = PcapDevice.FindAll(); }
        catch (PcapException e) { stderr.WriteLine($"pathprobe: {e.Message}"); return Program.ExitUsage; }
        int n = 0;
        foreach (var d in devices)
        {
            var flags = new List<string>();
            if (d.IsUp) flags.Add("Up");
            if (d.IsRunning) flags.Add("Running");
            if (d.IsLoopback) flags.Add("Loopback");
            if (d.IsWireless) flags.Add("Wireless");
            string description = d.Description is null ? "" : $" ({SafeText.Clean(d.Description)})";
            stdout.WriteLine($"{++n}.{SafeText.Clean(d.Name)}{description} [{string.Join(", ", flags)}]");
            foreach (var a in d.Addresses)
                stdout.WriteLine($"    {a.Address}{(a.Netmask is { } m ? "/" + PrefixLength(m).ToString(CultureInfo.InvariantCulture) : "")}");
        }
        if (n == 0) stderr.WriteLine("pathprobe: no interfaces visible; listing them may need root (sudo pathprobe capture -D)");
        return Program.ExitOk;
    }

    private static int PrefixLength(System.Net.IPAddress mask)
    {
        int bits = 0;
        foreach (byte b in mask.GetAddressBytes()) bits += System.Numerics.BitOperations.PopCount(b);
        return bits;
    }

    internal static int Run(Settings s, TextWriter stdout, TextWriter stderr)
    {
        if (string.IsNullOrEmpty(s.Interface))
            return Usage(stderr, "name an interface to capture on: pathprobe capture -i IFACE (pathprobe capture -D lists them)");
        if (s.Json && s.Ndjson) return Usage(stderr, "--json and --ndjson cannot be combined");
        if (s.RotateBytes > 0 && s.WritePath is null) return Usage(stderr, "-C needs -w FILE (the file to rotate)");
        if (s.RotateSeconds > 0 && s.WritePath is null) return Usage(stderr, "-G needs -w FILE (the file name pattern)");
        if (s.RingFiles > 0 && s.RotateBytes == 0 && s.RotateSeconds == 0) return Usage(stderr, "-W needs -C or -G (what makes a new file)");
        string filter = s.Live.Filter ?? DefaultFilter;
        if (s.Records.PrepareParquetDirectory() is { } directoryError) return Usage(stderr, directoryError);

        // The host name and capture id the records and the OTLP resource carry (--host, --capture-id).
        var scope = new RecordScope(s.Records.HostName, s.Records.LiveCaptureId(DateTime.UtcNow));
        // The exporters first: a metrics port that is taken is a usage error before anything is captured.
        CaptureTelemetry? telemetry = null;
        if (s.Telemetry.Any)
        {
            telemetry = CaptureTelemetry.Start(s.Telemetry, scope, out string? telemetryError);
            if (telemetry is null) return Usage(stderr, telemetryError!);
        }
        using var telemetryScope = telemetry;

        LiveCaptureSource source;
        try
        {
            source = LiveCaptureSource.Open(s.Interface, s.Live);
        }
        catch (PcapException e) { stderr.WriteLine($"pathprobe: {e.Message}"); return Program.ExitUsage; }

        using (source)
        {
            var capture = source.Capture;
            foreach (string w in capture.Warnings) stderr.WriteLine($"pathprobe: warning: {w}");
            if (s.Threads > 1 && s.OneEngine)
                stderr.WriteLine("pathprobe: warning: --threads is not used with metrics, OTLP, --ndjson or --parquet: one engine analyses on the capture thread");

            RotatingPcapNgWriter? writer = null;
            var counters = new LiveCounters(source);
            if (s.WritePath is not null)
            {
                if (s.RotateSeconds > 0 && !Strftime.HasConversion(s.WritePath))
                    stderr.WriteLine($"pathprobe: warning: -G without a strftime conversion in the -w name: each new file replaces the previous (e.g. -w '{SafeText.Clean(s.WritePath, 200)}-%Y%m%d-%H%M%S')");
                var rotation = new RotationOptions
                {
                    LimitBytes = s.RotateBytes,
                    Files = s.RingFiles,
                    Seconds = s.RotateSeconds,
                };
                writer = new RotatingPcapNgWriter(s.WritePath, rotation, capture.LinkType, capture.SnapLength,
                    capture.Device, $"pathprobe capture -i {capture.Device}; filter: {filter}", counters.Now);
                // The first file is created on the writer's thread: wait for it, so a path that cannot be created is a
                // usage error before capturing starts. A file that was created but cannot be written (a full disk,
                // /dev/full) is not: capture and analysis go on, and the end says what the file holds.
                writer.WaitForPendingWrites();
                if (writer.CreateError is { } error)
                {
                    writer.Dispose();
                    stderr.WriteLine($"pathprobe: {SafeText.Clean(error, 300)}");
                    return Program.ExitUsage;
                }
            }

            string device = SafeText.Clean(capture.Device, 100);
            stderr.WriteLine($"pathprobe: capturing on {device} ({LinkTypes.Name(capture.LinkType)}, snaplen {capture.SnapLength}); " +
                             $"filter: {SafeText.Clean(filter, 300)}; Ctrl-C stops and prints the report");
            if (s.Telemetry.MetricsListen is { } listen)
                stderr.WriteLine($"pathprobe: metrics at http://{(listen.Host == "*" ? "0.0.0.0" : listen.Host)}:{listen.Port}/metrics");
            using var signals = new StopSignals(stop: source.Stop);
            using var hangup = new HangupSignal();
            var parquet = s.Records.OpenParquet(scope, out string? parquetError);
            if (parquetError is not null) { writer?.Dispose(); return Usage(stderr, parquetError); }
            var live = new LiveRun(source, writer, counters, s, stdout, stderr, scope, parquet) { Telemetry = telemetry, Hangup = hangup };
            CaptureAnalysis analysis;
            try
            {
                analysis = live.Run();
            }
            finally
            {
                writer?.Dispose(); // flushed and closed before the report, so the file is complete even if reporting fails
                parquet?.Dispose(); // the last files closed and renamed
            }
            if (parquet is not null)
            {
                if (parquet.Error is { } pe)
                    stderr.WriteLine($"pathprobe: error: --parquet: {SafeText.Clean(pe, 300)}; the files before the error are complete, later records were not written");
                else
                    stderr.WriteLine($"pathprobe: wrote {parquet.Files.Count:#,0} Parquet file{(parquet.Files.Count == 1 ? "" : "s")} under {SafeText.Clean(s.Records.ParquetDirectory!, 200)} (host {SafeText.Clean(scope.Host, 100)}, capture id {SafeText.Clean(scope.CaptureId, 100)})");
            }
            int status = Report(analysis, live.Statistics, writer, s, stdout, stderr);
            if (parquet?.Error is not null && status == Program.ExitOk) status = Program.ExitUsage;
            if (signals.Describe() is { } why) stderr.WriteLine($"pathprobe: {why}");
            return signals.ExitStatus(status);
        }
    }

    /// <summary>The capture's pcap_stats as pcapng interface statistics: for the ISB at the end of each file and for the
    /// drop windows of the live analysis. Capture thread only.</summary>
    private sealed class LiveCounters(LiveCaptureSource source)
    {
        private readonly long _start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        public long Delivered;

        public InterfaceStatistics Now()
        {
            var st = source.Statistics();
            var now = new Timestamp(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000);
            return new InterfaceStatistics
            {
                Time = now,
                StartTime = new Timestamp(_start),
                EndTime = now,
                Received = st.Received,
                InterfaceDropped = st.InterfaceDropped,
                OsDropped = st.Dropped,
                Delivered = Delivered,
            };
        }
    }

    private static int Report(CaptureAnalysis analysis, CaptureStatistics stats, RotatingPcapNgWriter? writer, Settings s, TextWriter stdout, TextWriter stderr)
    {
        var input = analysis.Input;
        if (stats.TotalDropped > 0)
            stderr.WriteLine($"pathprobe: warning: {DropMessage(stats)}");
        if (writer is not null)
        {
            string files = string.Join(", ", writer.Files.Select(f => SafeText.Clean(f, 200)));
            string ring = writer.FilesStarted > writer.Files.Count ? $" (a ring: {writer.FilesStarted:#,0} files started, the last {writer.Files.Count} kept)" : "";
            if (writer.Error is null) stderr.WriteLine($"pathprobe: wrote {files}{ring}");
            else stderr.WriteLine(CopyFailed(writer.Error, files + ring, writer.Files.Count, writer.FramesNotWritten, writer.BytesNotWritten));
            if (writer.Waits > 0)
                stderr.WriteLine($"pathprobe: warning: the disk fell behind: capture waited {writer.Waits:#,0} times for the file writer ({writer.WaitedMilliseconds:#,0} ms in all); kernel drops, if any, are counted above");
        }

        var output = ReportOutput.Open(null, out _)!;
        bool written;
        if (s.Json || s.Ndjson)
        {
            var doc = NdjsonWriter.Render([analysis], indented: s.Json);
            var inputNode = doc["inputs"]![0]!.AsObject();
            inputNode["drops"] = new JsonObject { ["kernel"] = stats.Dropped, ["interface"] = stats.InterfaceDropped, ["received"] = stats.Received };
            if (writer is not null)
            {
                inputNode["files"] = new JsonArray(writer.Files.Select(f => (JsonNode?)JsonValue.Create(f)).ToArray());
                inputNode["fileOutput"] = new JsonObject
                {
                    ["filesStarted"] = writer.FilesStarted,
                    ["framesNotWritten"] = writer.FramesNotWritten,
                    ["bytesNotWritten"] = writer.BytesNotWritten,
                    ["diskWaits"] = writer.Waits,
                    ["diskWaited"] = Math.Round(writer.WaitedMilliseconds / 1000.0, 3), // seconds (schema 2: one unit for durations)
                    ["error"] = writer.Error,
                };
            }
            written = output.Write(stream =>
            {
                using var w = new StreamWriter(stream, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true);
                if (s.Ndjson) new NdjsonWriter(w).WriteSummary(doc);
                else w.WriteLine(doc.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            }, stdout, stderr, ReportOutput.Verdict([analysis]));
        }
        else
        {
            written = output.Write(stream =>
            {
                using var w = new StreamWriter(stream, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true);
                int width = output.ToStandardOutput ? AnalyzeCommand.TerminalWidth(stdout) : 80;
                TextReport.Write(w, [analysis], new TextReport.Options { MaxFlowRows = Math.Max(0, s.FlowRows), Width = width });
                w.WriteLine();
                TextReport.Wrap(w, "Drops      ", $"{FindingText.N(stats.Dropped)} by the kernel (capture buffer full), {FindingText.N(stats.InterfaceDropped)} by the interface; " +
                                                  $"{FindingText.N(stats.Received)} packets received by the filter", width);
            }, stdout, stderr, ReportOutput.Verdict([analysis]));
        }
        if (input.Error is not null && input.Truncated && stats.TotalDropped == 0)
            stderr.WriteLine($"pathprobe: warning: {input.Error}");
        if (!written || writer?.Error is not null) return Program.ExitUsage;
        return analysis.Findings.Any(f => f.Severity == Severity.Critical) ? Program.ExitCritical : Program.ExitOk;
    }

    /// <summary>The line said at the end when writing the frames (-w) failed; capture and tui -i say it alike.</summary>
    internal static string CopyFailed(string error, string files, int fileCount, long framesNotWritten, long bytesNotWritten) =>
        $"pathprobe: error: the pcapng copy failed: {SafeText.Clean(error, 300)}; {files} hold{(fileCount == 1 ? "s" : "")} what was written " +
        $"before, valid up to the last whole block; {framesNotWritten:#,0} later frames ({bytesNotWritten:#,0} bytes of packet blocks) " +
        "were not written; the capture and its analysis are not affected";

    /// <summary>The live line of a finding's change: "23:12:59.120 new #3 [critical] mtu-blackhole: ONGOING: ...".</summary>
    internal static string FindingLine(FindingEvent e, Timestamp now)
    {
        var f = e.Finding;
        string change = e.Change switch { FindingChange.Opened => "new", FindingChange.Closed => "closed", _ => "changed" };
        return $"{FindingText.Time(now)} {change} #{f.Id} [{FindingKinds.SeverityName(f.Severity)}] {f.Name}: {f.Summary}";
    }

    internal static string DropMessage(CaptureStatistics stats) =>
        $"{stats.Dropped:#,0} packets dropped by the kernel (capture buffer full: raise --buffer-size or narrow the filter) and " +
        $"{stats.InterfaceDropped:#,0} by the interface; the analysis does not see them, so retransmissions and gaps near them may be artefacts of the capture";

    private static int Usage(TextWriter stderr, string message)
    {
        stderr.WriteLine($"pathprobe: {message}");
        return Program.ExitUsage;
    }

    /// <summary>One capture run: the read loop on the calling thread, signal handlers that only stop it.</summary>
    private sealed class LiveRun(LiveCaptureSource source, RotatingPcapNgWriter? writer, LiveCounters counters, Settings s, TextWriter stdout, TextWriter stderr,
        RecordScope scope, ParquetRecordWriter? parquet)
    {
        private readonly CaptureDrops _drops = new() { Source = "pcap_stats" };
        private long _lastDropped;
        private long _lastSample;
        private bool _writeErrorShown;
        // Records (--ndjson lines, --parquet files): written as flows end (hooked in Run) and findings change, on this thread.
        private readonly RecordFeed? _records = s.Ndjson || parquet is not null
            ? new RecordFeed(scope, s.Ndjson ? new NdjsonRecordWriter(stdout) : null, parquet) : null;
        private static AnalysisOptions Options(Settings s) => new() { Flows = new FlowTableOptions { MaxFlows = s.MaxFlows }, FindingEvents = true };
        private readonly Engine _engine = new(Options(s));
        // --threads above 1: the capture thread reads and batches, the workers analyse (the same as analyze --threads).
        // Not with metrics, OTLP or records (their hooks read one engine's flow table): then one engine on the capture thread.
        private ParallelAnalyzer? _parallel;
        private CaptureTelemetry? _telemetry;

        /// <summary>Metrics and finding records, or null. Set before <see cref="Run"/>.</summary>
        public CaptureTelemetry? Telemetry
        {
            get => _telemetry;
            init
            {
                _telemetry = value;
                if (value is null) return;
                // After the engine's own detectors have closed the flow (the flow table has one close hook).
                var engineHook = _engine.Flows.FlowClosing;
                _engine.Flows.FlowClosing = flow => { engineHook?.Invoke(flow); value.FlowClosed(flow); };
            }
        }

        /// <summary>SIGHUP: reopen the outputs on the next tick.</summary>
        public HangupSignal? Hangup { get; init; }
        private readonly List<FindingEvent> _events = new();
        private readonly bool _text = !s.Json && !s.Ndjson;
        private readonly int _width = AnalyzeCommand.TerminalWidth(stdout);
        private long _period = s.Records.Period(DateTime.UtcNow);
        private readonly bool _status = !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error);
        private int _findings;
        private FrameTally _tally;
        private long _lastPackets;
        private long _lastTick;

        public CaptureStatistics Statistics { get; private set; }


        public CaptureAnalysis Run()
        {
            if (_records is { } records)
            {
                // After the engine's own close stages (the flow table has one close hook): the flow's SMTP session and
                // DNS transactions are final, and the record is not yet recycled.
                var engineHook = _engine.Flows.FlowClosing;
                _engine.Flows.FlowClosing = flow => { engineHook?.Invoke(flow); records.FlowClosed(flow); };
            }
            var input = new InputSummary { Path = source.Info.Path, Format = "live" };
            input.LinkTypes.Add(source.Capture.LinkType);
            long start = Environment.TickCount64;
            _lastSample = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
            long stopAt = s.DurationSeconds > 0 ? start + (long)(s.DurationSeconds * 1000) : long.MaxValue;
            _lastTick = start;
            long nextTick = start + TickMilliseconds;
            if (s.UsesWorkers) _parallel = new ParallelAnalyzer(Options(s), 0, 1, s.Threads);
            _parallel?.Start();

            while (true)
            {
                var status = source.Read(out RawFrame frame);
                if (status == CaptureReadStatus.Packet)
                {
                    _tally.Add(frame);
                    if (_parallel is null) _engine.Process(frame); else _parallel.Process(frame);
                    counters.Delivered = _tally.Packets;
                    if (writer is not null && !writer.Write(frame) && writer.LimitReached) source.Stop(); // -G with -W: tcpdump exits
                    if (_tally.Packets == s.Count) source.Stop();
                }
                else if (status is CaptureReadStatus.Stopped or CaptureReadStatus.Error)
                {
                    break;
                }

                long now = Environment.TickCount64;
                if (now >= nextTick)
                {
                    nextTick = now + TickMilliseconds;
                    // Silent flows still age: a black hole seen from the receiver is a hole nothing fills.
                    long clock = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
                    if (_parallel is null) _engine.Idle(clock); else _parallel.Idle(clock);
                    Tick(now);
                    YoungGeneration.Check();
                }
                if (now >= stopAt) source.Stop();
            }

            Statistics = source.Statistics();
            SampleDrops(Statistics);
            Tick(Environment.TickCount64, final: true);
            if (_status) stderr.Write("\r\u001b[K");

            input.Info = source.Info;
            _tally.WriteTo(input);
            if (source.End.Kind == SourceEndKind.Error)
            {
                input.Truncated = true;
                input.Error = $"{source.End.Reason}; everything before it was analysed";
            }
            else if (Statistics.TotalDropped > 0)
            {
                input.Error = DropMessage(Statistics);
            }
            _drops.Received = Statistics.Received;
            _drops.InterfaceDropped = Statistics.InterfaceDropped;
            _drops.OsDropped = Statistics.Dropped;
            input.Drops = _drops;
            source.Info.Interfaces[0].Statistics = counters.Now();
            if (_parallel is not null) return _parallel.Complete(input);
            var analysis = _engine.Complete(input);
            // What the end of the capture closed (flows, findings) goes out too: records, then the exporters (Tick
            // publishes the metrics and finding events), then the input record and the findings' final versions.
            Tick(Environment.TickCount64, final: true);
            _records?.Finish(analysis);
            if (s.Ndjson) stdout.Flush();
            return analysis;
        }

        /// <summary>A drop window from the previous sample to now when the kernel's drop counters rose.</summary>
        private void SampleDrops(CaptureStatistics stats)
        {
            long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
            if (_lastSample == 0) _lastSample = now;
            _drops.Samples++;
            if (stats.TotalDropped > _lastDropped)
                _drops.AddWindow(new Timestamp(_lastSample), new Timestamp(now), stats.TotalDropped - _lastDropped);
            _lastDropped = stats.TotalDropped;
            _lastSample = now;
        }

        /// <summary>Runs on the capture thread between reads: the engine is never touched from elsewhere.</summary>
        private void Tick(long now, bool final = false)
        {
            _events.Clear();
            if (_parallel is null)
            {
                _engine.TakeFindingEvents(_events);
                _findings = _engine.Findings.Count;
            }
            else
            {
                // The workers catch up with every packet read so far; then one view of their findings, flows numbered
                // as in the final report.
                _parallel.Pause();
                _findings = _parallel.TakeFindingEvents(_events);
            }
            foreach (var e in _events)
            {
                _records?.FindingChanged(e);
                if (_text && e.Notable) WriteLine(e);
            }
            if (s.Ndjson) stdout.Flush();
            var stats = source.Statistics();
            Telemetry?.Publish(_tally.Packets, stats.Dropped, stats.InterfaceDropped, _engine.Flows, _events);
            if (final) return;
            // --parquet: a new set of files on each period boundary (clock hours by default).
            if (parquet is not null && s.Records.Period(DateTime.UtcNow) is var period && period != _period)
            {
                _period = period;
                parquet.Rotate();
            }
            if (Hangup?.Take() == true)
            {
                writer?.Reopen();
                parquet?.Rotate(); // the current Parquet files are closed; the next records start new ones
                stderr.WriteLine($"{(_status ? "\r\u001b[K" : "")}pathprobe: SIGHUP: " +
                                 (writer is null ? "no -w file to reopen" : $"reopened {SafeText.Clean(writer.Files[^1], 200)}") +
                                 (parquet is null ? "" : "; Parquet files closed, new ones start with the next records"));
            }
            writer?.Flush();
            if (writer?.Error is { } error && !_writeErrorShown)
            {
                _writeErrorShown = true;
                stderr.WriteLine($"{(_status ? "\r\u001b[K" : "")}pathprobe: warning: {error}; no more packets are written, the capture and its analysis go on");
            }
            SampleDrops(stats);
            if (_status)
            {
                double seconds = Math.Max(1, now - _lastTick) / 1000.0;
                double pps = (_tally.Packets - _lastPackets) / seconds;
                stderr.Write($"\r\u001b[K{source.Info.Path}: {pps:#,0} pkt/s, {_tally.Packets:#,0} packets, {_parallel?.LiveFlows ?? _engine.Flows.LiveCount:#,0} flows, " +
                             $"{_findings} findings, {stats.TotalDropped:#,0} dropped");
                stderr.Flush();
            }
            _lastPackets = _tally.Packets;
            _lastTick = now;
        }

        /// <summary>Text mode: one line when a finding opens, when its severity or verdict changes, and when it closes.</summary>
        private void WriteLine(FindingEvent e)
        {
            if (_status) stderr.Write("\r\u001b[K");
            TextReport.Wrap(stdout, "", FindingLine(e, new Timestamp(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000)), _width, "    ");
            stdout.Flush();
        }
    }
}
