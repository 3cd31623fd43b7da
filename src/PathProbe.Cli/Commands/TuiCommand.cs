using System.CommandLine;
using System.CommandLine.Parsing;
using System.Diagnostics;
using System.Globalization;
using PathProbe.Cli.Tui;
using PathProbe.Flows;
using PathProbe.LibPcap;
using PathProbe.Pipeline;

namespace PathProbe.Cli.Commands;

/// <summary>
/// <c>pathprobe tui FILE</c> and <c>pathprobe tui -i IFACE [FILTER...]</c>: the terminal UI. The UI thread reads
/// keys and renders at most 10 frames a second from the latest snapshot; analysis runs on its own thread and never
/// waits for the screen.
/// </summary>
public static class TuiCommand
{
    private const int FrameMilliseconds = 100;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var args = InputOptions.Positional("FILE|FILTER",
            "A capture file (pcap, pcapng, .gz; several only when read as one capture: --join or a rotated set), then a filter; with -i, " +
            "only a tcpdump filter expression (default: capture's).");
        var maxFlows = CliOptions.Int32("--max-flows", null, "N",
            "Flows tracked at once; the least recently active flow is evicted (and counted) when full.", 1, int.MaxValue, new FlowTableOptions().MaxFlows);
        var cmd = new Command("tui", "Interactive terminal UI: flows worst first, a per-flow time-sequence graph with SMTP phases, " +
                                     "segment sizes against MSS and path-MTU ceiling, findings and the SMTP transcript. Press ? for keys.")
        {
            args, maxFlows,
        };
        var live = LiveOptions.AddTo(cmd);
        var input = InputOptions.AddTo(cmd, args);
        cmd.SetAction(parse =>
        {
            FileTuiSource? file = null;
            string? iface = parse.GetValue(live.Interface);
            string[] words = parse.GetValue(args) ?? [];
            if (iface is null)
            {
                // tui FILE takes what analyze takes (-r, FILTER, -c, --since, --until, --join), as one input.
                file = FileInput(input, parse, new AnalysisOptions { Flows = new FlowTableOptions { MaxFlows = parse.GetValue(maxFlows) }, Timelines = true },
                    stdout, stderr, out int status);
                if (file is null) return status;
            }
            else if (input.Given(parse) is { Count: > 0 } fileOnly)
                return Usage(stderr, $"{string.Join(", ", fileOnly)} {(fileOnly.Count == 1 ? "applies" : "apply")} to capture files, not to -i");
            string filter = words.Length == 0 ? CaptureCommand.DefaultFilter : string.Join(' ', words);
            return Run(filter, iface, iface is null ? null : live.Settings(parse, filter), parse.GetValue(maxFlows), stdout, stderr, file);
        });
        return cmd;
    }

    /// <summary>The file source of tui FILE, or null with the exit status after saying why.</summary>
    private static FileTuiSource? FileInput(InputOptions input, ParseResult parse, AnalysisOptions options, TextWriter stdout, TextWriter stderr, out int status)
    {
        status = Program.ExitUsage;
        var request = input.Resolve(parse, out string? error);
        if (request is null) { Usage(stderr, error!); return null; }
        if (request.Files.Count == 0) { Usage(stderr, "name one capture file: pathprobe tui FILE, or capture live: pathprobe tui -i IFACE [FILTER...]"); return null; }
        if (request.Files.Any(InputStreams.IsStandardInput)) { Usage(stderr, "tui reads keys from the terminal, so it cannot read a capture from standard input ('-'): name a file"); return null; }
        if (Console.IsInputRedirected || Console.IsOutputRedirected || !ReferenceEquals(stdout, Console.Out))
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

    private static int Run(string filter, string? iface, LiveCaptureOptions? liveOptions, int maxFlows, TextWriter stdout, TextWriter stderr,
        FileTuiSource? fileSource = null)
    {
        if (Console.IsInputRedirected || Console.IsOutputRedirected || !ReferenceEquals(stdout, Console.Out))
            return Usage(stderr, "tui needs a terminal (use 'pathprobe analyze' for a report)");
        var options = new AnalysisOptions { Flows = new FlowTableOptions { MaxFlows = maxFlows }, Timelines = true };

        ITuiSource source;
        if (fileSource is not null)
        {
            source = fileSource;
        }
        else
        {
            try
            {
                var live = LiveCaptureSource.Open(iface!, liveOptions);
                source = new LiveTuiSource(live, options, filter);
            }
            catch (PcapException e) { stderr.WriteLine($"pathprobe: {e.Message}"); return Program.ExitUsage; }
        }

        string? error;
        using (source)
        {
            error = Loop(source, stdout);
        }
        if (error is not null) { stderr.WriteLine($"pathprobe: {error}"); return Program.ExitUsage; }
        return Program.ExitOk;
    }

    /// <summary>The UI thread: keys, snapshots, frames. Returns an error to print after the screen is restored.</summary>
    private static string? Loop(ITuiSource source, TextWriter stdout)
    {
        var screen = new TuiScreen(TuiScreen.ColorAllowed());
        var app = new TuiApp(source.Current);
        bool treatCtrlC = Console.TreatControlCAsInput;
        Console.TreatControlCAsInput = true;
        stdout.Write("\u001b[?1049h\u001b[?25l\u001b[2J");
        stdout.Flush();
        Task<string>? writing = null;
        try
        {
            int width = 0, height = 0;
            long lastGeneration = -1, lastFrame = -FrameMilliseconds;
            bool dirty = true;
            var clock = Stopwatch.StartNew();
            while (true)
            {
                while (Console.KeyAvailable)
                {
                    var action = app.Handle(Console.ReadKey(intercept: true));
                    dirty = true;
                    if (action == KeyAction.Quit) return source.Error;
                    if (action == KeyAction.OpenFlow) source.RequestDetail(app.OpenFlowId);
                    if (action == KeyAction.Write)
                    {
                        if (writing is { IsCompleted: false }) app.Message = "still writing the previous file";
                        else
                        {
                            string path = $"pathprobe-{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}.pcapng";
                            app.Message = $"writing {path}…";
                            writing = source.WriteAsync(Path.GetFullPath(path));
                        }
                    }
                }
                if (writing is { IsCompleted: true })
                {
                    app.Message = writing.IsCompletedSuccessfully ? writing.Result : $"could not write: {writing.Exception?.InnerException?.Message}";
                    writing = null;
                    dirty = true;
                }
                var snapshot = source.Current;
                if (snapshot.Generation != lastGeneration)
                {
                    lastGeneration = snapshot.Generation;
                    app.Update(snapshot);
                    if (app.Mode == TuiMode.Flow && snapshot.Detail?.Row.Id != app.OpenFlowId) source.RequestDetail(app.OpenFlowId);
                    dirty = true;
                }
                if (Console.WindowWidth != width || Console.WindowHeight != height)
                {
                    width = Console.WindowWidth;
                    height = Console.WindowHeight;
                    dirty = true;
                }
                long now = clock.ElapsedMilliseconds;
                if (dirty && now - lastFrame >= FrameMilliseconds)
                {
                    var lines = TuiView.Render(app, width, height);
                    stdout.Write(screen.Frame(lines, Math.Max(TuiView.MinWidth, width)));
                    stdout.Flush();
                    lastFrame = now;
                    dirty = false;
                }
                Thread.Sleep(15);
            }
        }
        finally
        {
            writing?.Wait(TimeSpan.FromSeconds(30));
            stdout.Write("\u001b[0m\u001b[?25h\u001b[?1049l");
            stdout.Flush();
            Console.TreatControlCAsInput = treatCtrlC;
        }
    }

    private static int Usage(TextWriter stderr, string message)
    {
        stderr.WriteLine($"pathprobe: {message}");
        return Program.ExitUsage;
    }
}
