using System.CommandLine;
using PathProbe.Cli.Tui;
using PathProbe.Cli.Tui.Model;
using PathProbe.Cli.Tui.Views;
using PathProbe.Flows;
using PathProbe.LibPcap;
using PathProbe.Pipeline;

namespace PathProbe.Cli.Commands;

/// <summary>
/// <c>pathprobe tui FILE</c> and <c>pathprobe tui -i IFACE [FILTER...] [-w FILE] [--duration S]</c>: the terminal UI
/// on Terminal.Gui. Analysis runs on its own thread and publishes snapshots; the UI takes the latest ten times a second.
/// Exits like analyze for what was shown: 1 with a critical finding, 0 otherwise, 2 for a usage error or an unreadable input.
/// </summary>
public static class TuiCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var args = new Argument<string[]>("FILE|FILTER")
        {
            Description = "A capture file (pcap, pcapng, .gz); with -i, a tcpdump filter expression (default: capture's).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var iface = new Option<string?>("--interface", "-i") { Description = "Capture live from this interface (see pathprobe capture -D)." };
        var write = new Option<string?>("-w") { Description = "With -i: also write the frames to this pcapng file (the packet view reads them from it)." };
        var duration = new Option<double>("--duration") { Description = "With -i: stop capturing after this many seconds; the screen stays until you quit." };
        var snaplen = new Option<int>("--snaplen", "-s") { Description = "Bytes captured per frame (0 = 262144).", DefaultValueFactory = _ => 262_144 };
        var noPromisc = new Option<bool>("--no-promisc", "-p") { Description = "Do not put the interface into promiscuous mode." };
        var buffer = new Option<int>("--buffer-size", "-B") { Description = "Kernel capture buffer in KiB.", DefaultValueFactory = _ => 16 * 1024 };
        var maxFlows = new Option<int>("--max-flows")
        {
            Description = "Flows tracked at once; the least recently active flow is evicted (and counted) when full.",
            DefaultValueFactory = _ => new FlowTableOptions().MaxFlows,
        };
        var cmd = new Command("tui", "Interactive terminal UI: findings grouped by kind and peer, a sortable and filterable flow table, and per " +
                                     "flow a time-sequence graph, packet sizes against MSS and the path-MTU ceiling, throughput, RTT, the " +
                                     "packet list with decoded headers, findings and the SMTP transcript. Mouse and keys; press ? for them. " +
                                     "Exit status as analyze: 1 when a critical finding was shown.")
        {
            args, iface, write, duration, snaplen, noPromisc, buffer, maxFlows,
        };
        cmd.SetAction(parse => Run(new Settings
        {
            Args = parse.GetValue(args) ?? [],
            Interface = parse.GetValue(iface),
            WritePath = parse.GetValue(write),
            DurationSeconds = parse.GetValue(duration),
            SnapLength = parse.GetValue(snaplen),
            Promiscuous = !parse.GetValue(noPromisc),
            BufferKiB = parse.GetValue(buffer),
            MaxFlows = parse.GetValue(maxFlows),
        }, stdout, stderr));
        return cmd;
    }

    private sealed record Settings
    {
        public required string[] Args { get; init; }
        public string? Interface { get; init; }
        public string? WritePath { get; init; }
        public double DurationSeconds { get; init; }
        public int SnapLength { get; init; }
        public bool Promiscuous { get; init; }
        public int BufferKiB { get; init; }
        public int MaxFlows { get; init; }
    }

    private static int Run(Settings s, TextWriter stdout, TextWriter stderr)
    {
        if (s.MaxFlows < 1) return Usage(stderr, "--max-flows must be at least 1");
        if (s.Interface is null && (s.WritePath is not null || s.DurationSeconds != 0))
            return Usage(stderr, "-w and --duration apply to a live capture: pathprobe tui -i IFACE [FILTER...] [-w FILE] [--duration S]");
        if (s.DurationSeconds < 0 || s.SnapLength < 0 || s.BufferKiB < 0) return Usage(stderr, "--duration, --snaplen and --buffer-size cannot be negative");
        if (Console.IsInputRedirected || Console.IsOutputRedirected || !ReferenceEquals(stdout, Console.Out))
            return Usage(stderr, "tui needs a terminal (use 'pathprobe analyze' for a report)");
        var options = new AnalysisOptions { Flows = new FlowTableOptions { MaxFlows = s.MaxFlows }, Timelines = true };

        ITuiSource source;
        if (s.Interface is null)
        {
            if (s.Args.Length != 1) return Usage(stderr, "name one capture file: pathprobe tui FILE, or capture live: pathprobe tui -i IFACE [FILTER...]");
            if (Directory.Exists(s.Args[0])) return Usage(stderr, $"'{s.Args[0]}' is a directory, not a capture file");
            if (!File.Exists(s.Args[0])) return Usage(stderr, $"'{s.Args[0]}' does not exist");
            source = new FileTuiSource(s.Args[0], options);
        }
        else
        {
            string filter = s.Args.Length == 0 ? CaptureCommand.DefaultFilter : string.Join(' ', s.Args);
            LiveCaptureSource live;
            try
            {
                live = LiveCaptureSource.Open(s.Interface, new LiveCaptureOptions
                {
                    SnapLength = s.SnapLength == 0 ? 262_144 : s.SnapLength, Promiscuous = s.Promiscuous, BufferSize = checked(s.BufferKiB * 1024), Filter = filter,
                });
            }
            catch (PcapException e) { stderr.WriteLine($"pathprobe: {e.Message}"); return Program.ExitUsage; }
            catch (OverflowException) { return Usage(stderr, "--buffer-size is too large"); }
            try
            {
                source = new LiveTuiSource(live, options, new LiveTuiOptions { Filter = filter, WritePath = s.WritePath, DurationSeconds = s.DurationSeconds });
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                live.Dispose();
                stderr.WriteLine($"pathprobe: cannot write '{s.WritePath}': {e.Message}");
                return Program.ExitUsage;
            }
        }

        int status;
        string? error;
        using (source)
        {
            status = TuiHost.Run(source, Theme.FromEnvironment());
            error = source.Error;
        }
        // The terminal is restored here: say what a user needs after the screen is gone.
        if (error is not null) { stderr.WriteLine($"pathprobe: {error}"); return Program.ExitUsage; }
        if (s.WritePath is not null) stderr.WriteLine($"pathprobe: wrote {s.WritePath}");
        return status;
    }

    private static int Usage(TextWriter stderr, string message)
    {
        stderr.WriteLine($"pathprobe: {message}");
        return Program.ExitUsage;
    }
}
