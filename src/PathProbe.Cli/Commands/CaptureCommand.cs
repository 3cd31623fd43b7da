using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using PathProbe.Capture;
using PathProbe.Cli.Commands.Capture;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.LibPcap;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Reports;

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

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var iface = new Option<string?>("--interface", "-i") { Description = "Interface to capture on (see -D)." };
        var list = new Option<bool>("--list-interfaces", "-D") { Description = "List the interfaces libpcap can capture on, with their addresses, and exit." };
        var filter = new Argument<string[]>("FILTER")
        {
            Description = "tcpdump filter expression (pcap-filter(7)), e.g. 'tcp port 25 and host 198.51.100.25'. Default: " +
                          DefaultFilter + " — mail and DNS ports plus all ICMP (the errors that explain black holes carry no " +
                          "port) plus IPv4 and IPv6 fragments (later fragments have no port either). Use 'ip or ip6' for everything IP.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var write = new Option<string?>("-w")
        {
            Description = "Also write the frames to this pcapng file (nanosecond timestamps; at the end of each file an interface " +
                          "statistics block with the kernel's received/dropped counters, as dumpcap writes). With -G the name is a " +
                          "strftime pattern (e.g. mail-%Y%m%d-%H%M%S.pcapng), as in tcpdump.",
        };
        var rotate = new Option<double>("-C")
        {
            Description = "With -w, like tcpdump -C: before writing a packet, start a new file once the current one is larger than " +
                          "this many millions of bytes (fractions allowed). Files: FILE, FILE1, FILE2, ...; with -W N: FILE0 .. FILE{N-1} " +
                          "(zero-padded to the digits of N-1), reused as a ring. Each file is a complete pcapng.",
        };
        var ring = new Option<int>("-W")
        {
            Description = "With -C: keep a ring of this many files, overwriting the oldest (tcpdump -W). With -G alone: stop " +
                          "capturing after this many files.",
        };
        var seconds = new Option<double>("-G")
        {
            Description = "With -w: start a new file before writing a packet once the current one is this many seconds old " +
                          "(tcpdump -G); the -w name goes through strftime with the local time each file starts.",
        };
        var json = new Option<bool>("--json") { Description = "At the end, write the analysis JSON document (schema pathprobe.analysis/1, plus inputs[].drops) instead of the text report." };
        var ndjson = new Option<bool>("--ndjson")
        {
            Description = "Stream newline-delimited JSON to standard output: one {\"type\":\"finding\",...} line per finding as it is " +
                          "detected, and at the end one {\"type\":\"summary\",...} line holding the whole analysis document.",
        };
        var duration = new Option<double>("--duration") { Description = "Stop after this many seconds." };
        var count = new Option<long>("--count", "-c") { Description = "Stop after this many packets." };
        var snaplen = new Option<int>("--snaplen", "-s") { Description = "Bytes captured per frame (0 = 262144).", DefaultValueFactory = _ => 262_144 };
        var noPromisc = new Option<bool>("--no-promisc", "-p") { Description = "Do not put the interface into promiscuous mode." };
        var buffer = new Option<int>("--buffer-size", "-B") { Description = "Kernel capture buffer in KiB (larger absorbs bursts).", DefaultValueFactory = _ => 16 * 1024 };
        var maxFlows = new Option<int>("--max-flows")
        {
            Description = "Flows tracked at once; the least recently active flow is evicted (and counted) when full.",
            DefaultValueFactory = _ => new FlowTableOptions().MaxFlows,
        };
        var flowRows = new Option<int>("--flow-rows") { Description = "Flow rows in the text report.", DefaultValueFactory = _ => 50 };

        var cmd = new Command("capture",
            "Capture live from an interface (libpcap) and report flows and findings as they happen; Ctrl-C, --duration or " +
            "--count stops the capture and prints the full report. Needs root or CAP_NET_RAW.")
        {
            iface, list, filter, write, rotate, ring, seconds, json, ndjson, duration, count, snaplen, noPromisc, buffer, maxFlows, flowRows,
        };
        cmd.SetAction(parse =>
        {
            if (parse.GetValue(list)) return ListInterfaces(stdout, stderr);
            var settings = new Settings
            {
                Interface = parse.GetValue(iface),
                Filter = string.Join(' ', parse.GetValue(filter) ?? Array.Empty<string>()),
                WritePath = parse.GetValue(write),
                RotateMegabytes = parse.GetValue(rotate),
                RingFiles = parse.GetValue(ring),
                RotateSeconds = parse.GetValue(seconds),
                Json = parse.GetValue(json),
                Ndjson = parse.GetValue(ndjson),
                DurationSeconds = parse.GetValue(duration),
                Count = parse.GetValue(count),
                SnapLength = parse.GetValue(snaplen),
                Promiscuous = !parse.GetValue(noPromisc),
                BufferKiB = parse.GetValue(buffer),
                MaxFlows = parse.GetValue(maxFlows),
                FlowRows = parse.GetValue(flowRows),
            };
            return Run(settings, stdout, stderr);
        });
        return cmd;
    }

    internal sealed class Settings
    {
        public string? Interface { get; init; }
        public string Filter { get; init; } = "";
        public string? WritePath { get; init; }
        public double RotateMegabytes { get; init; }
        public int RingFiles { get; init; }
        public double RotateSeconds { get; init; }
        public bool Json { get; init; }
        public bool Ndjson { get; init; }
        public double DurationSeconds { get; init; }
        public long Count { get; init; }
        public int SnapLength { get; init; } = 262_144;
        public bool Promiscuous { get; init; } = true;
        public int BufferKiB { get; init; } = 16 * 1024;
        public int MaxFlows { get; init; } = new FlowTableOptions().MaxFlows;
        public int FlowRows { get; init; } = 50;
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
        if (!(s.RotateMegabytes >= 0) || double.IsInfinity(s.RotateMegabytes) || (s.RotateMegabytes > 0 && s.WritePath is null))
            return Usage(stderr, "-C needs -w FILE and a size in millions of bytes above 0");
        if (!(s.RotateSeconds >= 0) || double.IsInfinity(s.RotateSeconds) || (s.RotateSeconds > 0 && s.WritePath is null))
            return Usage(stderr, "-G needs -w FILE and a number of seconds above 0");
        if (s.RingFiles < 0 || (s.RingFiles > 0 && s.RotateMegabytes == 0 && s.RotateSeconds == 0))
            return Usage(stderr, "-W needs -C or -G (and a number of files above 0)");
        if (s.SnapLength < 0 || s.Count < 0 || s.DurationSeconds < 0 || s.BufferKiB < 0) return Usage(stderr, "--snaplen, --count, --duration and --buffer-size cannot be negative");
        if (s.MaxFlows < 1) return Usage(stderr, "--max-flows must be at least 1");
        string filter = string.IsNullOrWhiteSpace(s.Filter) ? DefaultFilter : s.Filter;

        LiveCaptureSource source;
        try
        {
            source = LiveCaptureSource.Open(s.Interface, new LiveCaptureOptions
            {
                SnapLength = s.SnapLength == 0 ? 262_144 : s.SnapLength,
                Promiscuous = s.Promiscuous,
                BufferSize = checked(s.BufferKiB * 1024),
                Filter = filter,
            });
        }
        catch (PcapException e) { stderr.WriteLine($"pathprobe: {e.Message}"); return Program.ExitUsage; }
        catch (OverflowException) { return Usage(stderr, "--buffer-size is too large"); }

        using (source)
        {
            var capture = source.Capture;
            foreach (string w in capture.Warnings) stderr.WriteLine($"pathprobe: warning: {w}");

            RotatingPcapNgWriter? writer = null;
            var counters = new LiveCounters(source);
            if (s.WritePath is not null)
            {
                if (s.RotateSeconds > 0 && !Strftime.HasConversion(s.WritePath))
                    stderr.WriteLine($"pathprobe: warning: -G without a strftime conversion in the -w name: each new file replaces the previous (e.g. -w '{s.WritePath}-%Y%m%d-%H%M%S')");
                var rotation = new RotationOptions
                {
                    LimitBytes = (long)Math.Min(s.RotateMegabytes * 1e6, long.MaxValue / 2),
                    Files = s.RingFiles,
                    Seconds = s.RotateSeconds,
                };
                writer = new RotatingPcapNgWriter(s.WritePath, rotation, capture.LinkType, capture.SnapLength,
                    capture.Device, $"pathprobe capture -i {capture.Device}; filter: {filter}", counters.Now);
                // The first file is created on the writer's thread: wait for it, so a path that cannot be written is
                // a usage error before capturing starts, not a warning later.
                writer.WaitForPendingWrites();
                if (writer.Error is { } error)
                {
                    writer.Dispose();
                    stderr.WriteLine($"pathprobe: {error}");
                    return Program.ExitUsage;
                }
            }

            stderr.WriteLine($"pathprobe: capturing on {capture.Device} ({LinkTypes.Name(capture.LinkType)}, snaplen {capture.SnapLength}); " +
                             $"filter: {filter}; Ctrl-C stops and prints the report");
            var live = new LiveRun(source, writer, counters, s, stdout, stderr);
            CaptureAnalysis analysis;
            try
            {
                analysis = live.Run();
            }
            finally
            {
                writer?.Dispose(); // flushed and closed before the report, so the file is complete even if reporting fails
            }
            return Report(analysis, live.Statistics, writer, s, stdout, stderr);
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
            if (writer.Error is not null)
                stderr.WriteLine($"pathprobe: warning: {writer.Error}; {writer.BytesNotWritten:#,0} bytes of packet blocks were not written; the capture and its analysis went on");
            stderr.WriteLine($"pathprobe: wrote {string.Join(", ", writer.Files)}{(writer.FilesStarted > writer.Files.Count ? $" (a ring: {writer.FilesStarted:#,0} files started, the last {writer.Files.Count} kept)" : "")}");
            if (writer.Waits > 0)
                stderr.WriteLine($"pathprobe: warning: the disk fell behind: capture waited {writer.Waits:#,0} times for the file writer ({writer.WaitedMilliseconds:#,0} ms in all); kernel drops, if any, are counted above");
        }

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
                    ["diskWaitMilliseconds"] = writer.WaitedMilliseconds,
                    ["error"] = writer.Error,
                };
            }
            if (s.Ndjson) new NdjsonWriter(stdout).WriteSummary(doc);
            else
            {
                stdout.WriteLine(doc.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
                stdout.Flush();
            }
        }
        else
        {
            TextReport.Write(stdout, [analysis], new TextReport.Options { MaxFlowRows = Math.Max(0, s.FlowRows) });
            stdout.WriteLine();
            stdout.WriteLine($"Drops      {stats.Dropped:#,0} by the kernel (capture buffer full), {stats.InterfaceDropped:#,0} by the interface; " +
                             $"{stats.Received:#,0} packets received by the filter");
            stdout.Flush();
        }
        if (input.Error is not null && input.Truncated && stats.TotalDropped == 0)
            stderr.WriteLine($"pathprobe: warning: {input.Error}");
        return analysis.Findings.Any(f => f.Severity == Severity.Critical) ? Program.ExitCritical : Program.ExitOk;
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
    private sealed class LiveRun(LiveCaptureSource source, RotatingPcapNgWriter? writer, LiveCounters counters, Settings s, TextWriter stdout, TextWriter stderr)
    {
        private readonly CaptureDrops _drops = new() { Source = "pcap_stats" };
        private long _lastDropped;
        private long _lastSample;
        private bool _writeErrorShown;
        private readonly Engine _engine = new(new AnalysisOptions { Flows = new FlowTableOptions { MaxFlows = s.MaxFlows } });
        private readonly List<Finding> _newFindings = new();
        private readonly NdjsonWriter? _ndjson = s.Ndjson ? new NdjsonWriter(stdout) : null;
        private readonly bool _status = !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error);
        private int _signals;
        private int _findings;
        private FrameTally _tally;
        private long _lastPackets;
        private long _lastTick;

        public CaptureStatistics Statistics { get; private set; }

        public CaptureAnalysis Run()
        {
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

            var input = new InputSummary { Path = source.Info.Path, Format = "live" };
            input.LinkTypes.Add(source.Capture.LinkType);
            long start = Environment.TickCount64;
            _lastSample = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
            long stopAt = s.DurationSeconds > 0 ? start + (long)(s.DurationSeconds * 1000) : long.MaxValue;
            _lastTick = start;
            long nextTick = start + TickMilliseconds;

            while (true)
            {
                var status = source.Read(out RawFrame frame);
                if (status == CaptureReadStatus.Packet)
                {
                    _tally.Add(frame);
                    _engine.Process(frame);
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
                    _engine.Idle(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000);
                    Tick(now);
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
            return _engine.Complete(input);
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
            _newFindings.Clear();
            _findings += _engine.TakeNewFindings(_newFindings);
            if (_ndjson is not null)
                foreach (var f in _newFindings) _ndjson.WriteFinding(f);
            if (final) return;
            writer?.Flush();
            if (writer?.Error is { } error && !_writeErrorShown)
            {
                _writeErrorShown = true;
                stderr.WriteLine($"{(_status ? "\r\u001b[K" : "")}pathprobe: warning: {error}; no more packets are written, the capture and its analysis go on");
            }
            var stats = source.Statistics();
            SampleDrops(stats);
            if (_status)
            {
                double seconds = Math.Max(1, now - _lastTick) / 1000.0;
                double pps = (_tally.Packets - _lastPackets) / seconds;
                stderr.Write($"\r\u001b[K{source.Info.Path}: {pps:#,0} pkt/s, {_tally.Packets:#,0} packets, {_engine.Flows.LiveCount:#,0} flows, " +
                             $"{_findings} findings, {stats.TotalDropped:#,0} dropped");
                stderr.Flush();
            }
            _lastPackets = _tally.Packets;
            _lastTick = now;
        }

        /// <summary>SIGINT/SIGTERM: stop the read loop (pcap_breakloop is safe here); a second signal ends the process.</summary>
        private void OnSignal(PosixSignalContext context)
        {
            if (Interlocked.Increment(ref _signals) > 1) return; // default action: terminate now
            context.Cancel = true;
            source.Stop();
        }
    }
}
