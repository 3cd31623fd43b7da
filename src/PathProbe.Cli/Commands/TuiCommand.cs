using System.CommandLine;
using System.CommandLine.Parsing;
using PathProbe.Cli.Tui;
using PathProbe.Cli.Tui.Model;
using PathProbe.Cli.Tui.Views;
using PathProbe.Flows;
using PathProbe.LibPcap;
using PathProbe.Pipeline;
using PathProbe.Primitives;

namespace PathProbe.Cli.Commands;

/// <summary>
/// <c>pathprobe tui FILE [FILTER...]</c> (with analyze's input options) and
/// <c>pathprobe tui -i IFACE [FILTER...] [-w FILE] [--duration S]</c> (with capture's live options): the terminal UI on
/// Terminal.Gui. Analysis runs on its own thread and publishes snapshots; the UI takes the latest ten times a second.
/// Exits like analyze for what was shown: 1 with a critical finding, 0 otherwise, 2 for a usage error, an unreadable
/// input or a -w file that could not be written; 130 or 143 when SIGINT or SIGTERM ended it (the terminal restored first).
/// </summary>
public static class TuiCommand
{
    private const string LiveUsage = "pathprobe tui -i IFACE [FILTER...] [-w FILE] [--duration S]";

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var args = InputOptions.Positional("FILE|FILTER",
            "A capture file (pcap, pcapng, .gz; several only when read as one capture: --join or a rotated set), then a filter; with -i, " +
            "only a tcpdump filter expression (default: capture's).");
        var write = CliOptions.OutputFile("-w", null,
            "With -i: also write the frames to FILE as pcapng, like tcpdump -w (the packet view reads them from it).");
        var duration = CliOptions.Number("--duration", null, "S",
            "With -i: stop capturing after S seconds (fractions allowed); the screen stays until you quit.", 0, CaptureCommand.MaxDurationSeconds, "seconds");
        var maxFlows = CliOptions.Int32("--max-flows", null, "N",
            "Flows tracked at once; the least recently active flow is evicted (and counted) when full.", 1, int.MaxValue, new FlowTableOptions().MaxFlows);
        var cmd = new Command("tui", "Interactive terminal UI: findings grouped by kind and peer, a sortable and filterable flow table, and per " +
                                     "flow a time-sequence graph, packet sizes against MSS and the path-MTU ceiling, throughput, RTT, the " +
                                     "packet list with decoded headers, findings and the SMTP transcript. Mouse and keys; press ? for them. " +
                                     "Exit status as analyze: 1 when a critical finding was shown.")
        {
            args, write, duration, maxFlows,
        };
        var live = LiveOptions.AddTo(cmd);
        var input = InputOptions.AddTo(cmd, args);
        cmd.SetAction(parse =>
        {
            string? iface = parse.GetValue(live.Interface);
            string[] words = parse.GetValue(args) ?? [];
            var options = new AnalysisOptions { Flows = new FlowTableOptions { MaxFlows = parse.GetValue(maxFlows) }, Timelines = true };
            if (iface is null)
            {
                if (Given(parse, write) || Given(parse, duration))
                    return Usage(stderr, $"-w and --duration apply to a live capture: {LiveUsage}");
                // tui FILE takes what analyze takes (-r, FILTER, -c, --since, --until, --join), as one input.
                var file = FileInput(input, parse, options, stdout, stderr, out int status);
                return file is null ? status : Run(file, null, stderr);
            }
            if (input.Given(parse) is { Count: > 0 } fileOnly)
                return Usage(stderr, $"{string.Join(", ", fileOnly)} {(fileOnly.Count == 1 ? "applies" : "apply")} to capture files, not to -i");
            if (!IsTerminal(stdout)) return Usage(stderr, "tui needs a terminal (use 'pathprobe analyze' for a report)");
            string filter = words.Length == 0 ? CaptureCommand.DefaultFilter : string.Join(' ', words);
            string? writePath = parse.GetValue(write);
            LiveCaptureSource capture;
            try
            {
                capture = LiveCaptureSource.Open(iface, live.Settings(parse, filter));
            }
            catch (PcapException e) { stderr.WriteLine($"pathprobe: {e.Message}"); return Program.ExitUsage; }
            var source = new LiveTuiSource(capture, options, new LiveTuiOptions { Filter = filter, WritePath = writePath, DurationSeconds = parse.GetValue(duration) });
            if (source.CreateError is { } cannot)
            {
                // As capture: a -w file that cannot be created is a usage error before the screen opens.
                source.Dispose();
                stderr.WriteLine($"pathprobe: {SafeText.Clean(cannot, 300)}");
                return Program.ExitUsage;
            }
            return Run(source, writePath, stderr);
        });
        return cmd;
    }

    /// <summary>The file source of tui FILE, or null with the exit status after saying why.</summary>
    private static FileTuiSource? FileInput(InputOptions input, ParseResult parse, AnalysisOptions options, TextWriter stdout, TextWriter stderr, out int status)
    {
        status = Program.ExitUsage;
        var request = input.Resolve(parse, out string? error);
        if (request is null) { Usage(stderr, error!); return null; }
        if (request.Files.Count == 0) { Usage(stderr, $"name one capture file: pathprobe tui FILE, or capture live: {LiveUsage}"); return null; }
        if (request.Files.Any(InputStreams.IsStandardInput)) { Usage(stderr, "tui reads keys from the terminal, so it cannot read a capture from standard input ('-'): name a file"); return null; }
        if (!IsTerminal(stdout))
        {
            Usage(stderr, "tui needs a terminal (use 'pathprobe analyze' for a report)");
            return null;
        }
        var plan = InputPlanner.Plan(request.Files, request.Join);
        if (plan.Count != 1)
        {
            Usage(stderr, "tui shows one capture: name one file, or read pieces of one capture together with --join");
            return null;
        }
        var selection = InputOptions.Selection(request, out error);
        if (selection is null) { Usage(stderr, error!); return null; }
        return new FileTuiSource(plan[0], selection, options);
    }

    /// <summary>Runs the UI until it quits; then, with the terminal restored, says what a user needs and returns the status.</summary>
    private static int Run(ITuiSource source, string? writePath, TextWriter stderr)
    {
        int status;
        string? error;
        using (source)
        {
            // TuiHost owns SIGINT/SIGTERM/SIGHUP while the screen is up (it quits and restores the terminal), so no
            // StopSignals here: its second-signal default action would kill the process with the terminal still raw.
            status = TuiHost.Run(source, Theme.FromEnvironment());
            error = source.Error;
        }
        // The terminal is restored here (and a -w file closed): say what a user needs after the screen is gone.
        bool signalled = status is Program.ExitSigInt or Program.ExitSigTerm;
        if (error is not null)
        {
            stderr.WriteLine($"pathprobe: {error}");
            if (!signalled) status = Program.ExitUsage;
        }
        if (writePath is not null && source is LiveTuiSource live)
        {
            if (live.WriteError is null) stderr.WriteLine($"pathprobe: wrote {SafeText.Clean(writePath, 200)}");
            else
            {
                // As capture says it: the copy ends at the error, the analysis on screen was not affected.
                stderr.WriteLine(CaptureCommand.CopyFailed(live.WriteError, SafeText.Clean(writePath, 200), 1, live.FramesNotWritten, live.BytesNotWritten));
                if (!signalled) status = Program.ExitUsage;
            }
        }
        if (status == Program.ExitSigInt) stderr.WriteLine("pathprobe: interrupted (SIGINT)");
        else if (status == Program.ExitSigTerm) stderr.WriteLine("pathprobe: stopped (SIGTERM)");
        return status;
    }

    private static bool Given(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    private static bool IsTerminal(TextWriter stdout) =>
        !Console.IsInputRedirected && !Console.IsOutputRedirected && ReferenceEquals(stdout, Console.Out);

    private static int Usage(TextWriter stderr, string message)
    {
        stderr.WriteLine($"pathprobe: {message}");
        return Program.ExitUsage;
    }
}
