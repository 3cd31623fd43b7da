using System.CommandLine;
using PathProbe.Analysis.Smtp;
using PathProbe.Cli.Records;
using PathProbe.Dns;
using PathProbe.Flows;
using PathProbe.Protocols.Dns;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Reports;
using PathProbe.Reports.Records;

namespace PathProbe.Cli.Commands;

/// <summary><c>pathprobe analyze FILE... [--json]</c>: offline analysis of capture files.</summary>
public static class AnalyzeCommand
{
    /// <summary>The capture analysed when no file is named: the incident PathProbe exists for.</summary>
    public const string BundledCapture = "smtp-mru1424-sender.pcap";

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var positional = InputOptions.Positional("FILE|FILTER",
            "pcap or pcapng files (gzip too), then a tcpdump filter. Files are analysed one by one (one vantage point each), except " +
            $"files read as one capture (--join, or a rotated set). Without a file, the bundled capture {BundledCapture} is analysed.");
        var json = new Option<bool>("--json") { Description = "Write one JSON document (schema pathprobe.analysis/2, schemas/pathprobe.analysis-2.schema.json) to standard output instead of the text report." };
        var output = CliOptions.OutputFile("--output", "-o", "Write the report to FILE instead of standard output ('-' is standard output).", allowDash: true);
        var maxFlows = CliOptions.Int32("--max-flows", null, "N",
            "Flows tracked at once; the least recently active flow is evicted (and counted) when full.", 1, int.MaxValue, new FlowTableOptions().MaxFlows);
        var flowRows = CliOptions.Int32("--flow-rows", null, "N",
            $"Flow rows in the text report (the first in --sort order; --json lists up to {new FlowTableOptions().MaxReportedFlows:#,0}).", 0, int.MaxValue, 50);
        var mailRows = CliOptions.Int32("--mail-rows", null, "N",
            "Mail-log lines of delivered transactions and other sessions in the text report, after all that did not succeed.", 0, int.MaxValue, 20);
        var sort = CliOptions.Choice("--sort", null, "ORDER",
            "Order of the flow table: worst (worst finding first, then by id), id, bytes (most first), start (earliest first).",
            new Dictionary<string, FlowSort> { ["worst"] = FlowSort.Worst, ["id"] = FlowSort.Id, ["bytes"] = FlowSort.Bytes, ["start"] = FlowSort.Start },
            FlowSort.Worst);
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress on standard error." };
        var threads = ThreadsOption();
        var noTcp = new Option<bool>("--no-tcp-analysis")
        {
            Description = "Decode and track flows only: no TCP sequence analysis, stalls, connect or storm findings (to measure their cost).",
        };

        var dnsChecks = new Option<bool>("--dns-checks")
        {
            Description = "For each SMTP flow, check the DNS a receiver looks at (sends DNS queries): the client's PTR and FCrDNS against its " +
                          "EHLO name, SPF for the client's address and the MAIL FROM domain (and the EHLO name), the recipients' domains' MX. " +
                          "Results are findings dns-fcrdns, dns-spf, dns-mx linked to the flows; a check DNS could not answer (REFUSED, timeout, ...) " +
                          "is a dns-check-failed finding with the resolver's reason.",
        };
        var dnsServer = new Option<string[]>("--dns-server")
        {
            HelpName = "IP[:PORT]",
            Description = "DNS server IP[:port] or [IPv6]:port for --dns-checks (repeatable); default: the nameservers of /etc/resolv.conf.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var cmd = new Command("analyze", "Analyse capture files and report flows, anomalies and findings.")
        {
            positional, json, output, maxFlows, flowRows, mailRows, sort, quiet, noTcp, dnsChecks, dnsServer, threads,
        };
        var input = InputOptions.AddTo(cmd, positional);
        var records = RecordOptions.AddTo(cmd, live: false);
        cmd.SetAction((parse, cancel) =>
        {
            var request = input.Resolve(parse, out string? error);
            if (request is null) return Task.FromResult(Usage(stderr, error!));
            return Task.FromResult(Run(request, new Settings
            {
                Json = parse.GetValue(json), OutputPath = parse.GetValue(output), MaxFlows = parse.GetValue(maxFlows),
                FlowRows = parse.GetValue(flowRows), MailRows = parse.GetValue(mailRows), Sort = parse.GetValue(sort),
                Quiet = parse.GetValue(quiet), NoTcpAnalysis = parse.GetValue(noTcp), Threads = parse.GetValue(threads),
                DnsCheckServers = parse.GetValue(dnsChecks) ? parse.GetValue(dnsServer) ?? [] : null,
                Records = records.Settings(parse),
            }, stdout, stderr, cancel));
        });
        return cmd;
    }

    internal sealed class Settings
    {
        public bool Json { get; init; }
        public string? OutputPath { get; init; }
        public int MaxFlows { get; init; } = new FlowTableOptions().MaxFlows;
        public int FlowRows { get; init; } = 50;
        public int MailRows { get; init; } = 20;
        public FlowSort Sort { get; init; } = FlowSort.Worst;
        public bool Quiet { get; init; }
        public bool NoTcpAnalysis { get; init; }
        public string[]? DnsCheckServers { get; init; }
        /// <summary>--ndjson, --parquet, --host, --capture-id.</summary>
        public RecordSettings Records { get; init; } = new();
        public int Threads { get; init; } = 1;
    }

    /// <summary>--threads N (analyze and capture): analysis workers, 1 by default: two workers were not
    /// measured faster than one on the 2-core machine (README, "Several cores").</summary>
    internal static Option<int> ThreadsOption() => CliOptions.Int32("--threads", null, "N",
        "Analysis workers (default 1). With 1, one thread reads the frames and analyses them (analyze reads a single " +
        "capture file from disk, and decompresses it, ahead on a thread of its own). Above 1, reading runs on a thread " +
        "of its own and flows are split across workers by their server's address; the report is the same as with one. " +
        "capture uses one engine when metrics, OTLP or records are on.", 1, ParallelAnalyzer.MaxWorkers,
        1);

    /// <summary>The old entry point (tests): files only, no selection.</summary>
    internal static int Run(string[] files, bool json, string? outputPath, int maxFlows, int flowRows, bool quiet,
        TextWriter stdout, TextWriter stderr, CancellationToken cancel, bool noTcpAnalysis = false, string[]? dnsCheckServers = null,
        int mailRows = 20, FlowSort sort = FlowSort.Worst) =>
        Run(new InputOptions.Request { Files = files.ToList() },
            new Settings
            {
                Json = json, OutputPath = outputPath, MaxFlows = maxFlows, FlowRows = flowRows, MailRows = mailRows, Sort = sort,
                Quiet = quiet, NoTcpAnalysis = noTcpAnalysis, DnsCheckServers = dnsCheckServers,
            },
            stdout, stderr, cancel);

    internal static int Run(InputOptions.Request request, Settings s, TextWriter stdout, TextWriter stderr, CancellationToken cancel)
    {
        if (s.Json && s.Records.Ndjson) return Usage(stderr, "--json and --ndjson cannot be combined (one document, or one record per line)");
        if (s.Records.PrepareParquetDirectory() is { } directoryError) return Usage(stderr, directoryError);
        DnsClientResolver? resolver = null;
        if (s.DnsCheckServers is { } dnsCheckServers)
        {
            var endpoints = new List<System.Net.IPEndPoint>();
            foreach (var server in dnsCheckServers)
            {
                if (!DnsServerAddress.TryParse(server, out var ep, out var err)) return Usage(stderr, $"--dns-server {err}");
                endpoints.Add(ep);
            }
            resolver = new DnsClientResolver(new ResolverOptions { Servers = endpoints });
            if (resolver.Servers.Count == 0)
                return Usage(stderr, "--dns-checks needs a DNS server: /etc/resolv.conf has no nameserver line; name one with --dns-server IP[:port]");
        }
        var files = request.Files;
        if (files.Count == 0)
        {
            string bundled = Path.Combine(AppContext.BaseDirectory, "captures", BundledCapture);
            if (!File.Exists(bundled))
                return Usage(stderr, $"no file given and the bundled capture is missing ({bundled}); name a capture: pathprobe analyze FILE");
            files = [bundled];
            if (!s.Json && !s.Records.Ndjson && !s.Quiet) stderr.WriteLine($"pathprobe: no file given; analysing the bundled capture {BundledCapture} (the MRU 1424 incident, sender's view)");
        }
        if (files.Any(InputStreams.IsStandardInput) && ReferenceEquals(stdout, Console.Out) && !Console.IsInputRedirected)
            return Usage(stderr, "'-' reads a capture from standard input, which is a terminal: pipe one in (tcpdump -w - | pathprobe analyze -) or name a file");

        var selection = InputOptions.Selection(request, out string? filterError);
        if (selection is null) return Usage(stderr, filterError!);
        using var filter = selection.Filter as IDisposable;
        using var target = ReportOutput.Open(s.OutputPath, out string? outputError);
        if (target is null) return Usage(stderr, outputError!);

        using var signals = new StopSignals(cancel);
        var options = new AnalysisOptions { Flows = new FlowTableOptions { MaxFlows = s.MaxFlows }, TcpAnalysis = !s.NoTcpAnalysis };
        var analyses = new List<CaptureAnalysis>(files.Count);
        bool showProgress = !s.Quiet && !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error);
        var plan = new Queue<AnalysisInput>(InputPlanner.Plan(files, request.Join, signals.Token));
        int nextFlowId = 1;
        while (plan.Count > 0 && !signals.Stopped)
        {
            var next = plan.Dequeue();
            Action<AnalysisProgress>? progress = showProgress ? p => ShowProgress(stderr, p) : null;
            CaptureAnalysis a;
            try
            {
                a = FileAnalyzer.Analyze(next, options, selection, analyses.Count, nextFlowId, progress, signals.Token, s.Threads);
            }
            catch (InputsOverlapException e)
            {
                // Named like a rotated set, but the files overlap in time: separate vantages after all.
                if (showProgress) stderr.Write("\r\u001b[K");
                if (!s.Quiet) stderr.WriteLine($"pathprobe: not joining {string.Join(", ", next.Paths.Select(p => SafeText.Clean(Path.GetFileName(p))))}: {e.Message}; analysing them one by one");
                foreach (var p in next.Paths.Reverse()) plan = new Queue<AnalysisInput>(plan.Prepend(AnalysisInput.One(p)));
                continue;
            }
            if (showProgress) stderr.Write("\r\u001b[K");
            nextFlowId += a.Flows.Count + (int)a.FlowsNotReported;
            analyses.Add(a);
            if (a.Input.JoinReason == AnalysisInput.RotatedSet && !s.Quiet)
                stderr.WriteLine($"pathprobe: joined {a.Input.JoinedFiles!.Count} files as one capture (a rotated set: the names differ only in numbers and each file starts where the previous ended; --no-join keeps them apart)");
            if (a.Input.Error is not null && !signals.Stopped) stderr.WriteLine($"pathprobe: {(a.Input.Unreadable ? "error" : "warning")}: {a.Input.Error}");
            foreach (var problem in a.Input.Selection?.Problems ?? []) stderr.WriteLine($"pathprobe: warning: {problem}");
        }
        if (signals.Describe() is { } why) stderr.WriteLine($"pathprobe: {why}: reporting what was read");

        if (resolver is not null && !signals.Stopped) RunDnsChecks(analyses, resolver, s.Quiet, stderr, signals.Token);

        // Records: one scope (host, capture id) for every input of the run.
        var scope = new RecordScope(s.Records.HostName, s.Records.OfflineCaptureId(analyses));
        using var parquet = s.Records.OpenParquet(scope, out string? parquetError);
        if (parquetError is not null) return Usage(stderr, parquetError);
        if (parquet is not null && !s.Records.Ndjson) new RecordFeed(scope, null, parquet).WriteAnalysis(analyses);

        bool written = target.Write(stream =>
        {
            if (s.Records.Ndjson)
            {
                using var w = new StreamWriter(stream, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true);
                new RecordFeed(scope, new NdjsonRecordWriter(w), parquet).WriteAnalysis(analyses);
            }
            else if (s.Json)
            {
                JsonReport.Write(stream, analyses);
                stream.WriteByte((byte)'\n');
            }
            else
            {
                using var w = new StreamWriter(stream, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true);
                TextReport.Write(w, analyses, new TextReport.Options
                {
                    MaxFlowRows = Math.Max(0, s.FlowRows), MailRows = Math.Max(0, s.MailRows), Sort = s.Sort,
                    Width = target.ToStandardOutput ? TerminalWidth(stdout) : 80,
                });
            }
        }, stdout, stderr, ReportOutput.Verdict(analyses));

        bool archived = true;
        if (parquet is not null)
        {
            parquet.Dispose(); // every file closed and renamed to its final name
            if (parquet.Error is { } pe)
            {
                archived = false;
                stderr.WriteLine($"pathprobe: error: --parquet: {SafeText.Clean(pe, 300)}; the files before the error are complete, later records were not written");
            }
            else if (!s.Quiet) stderr.WriteLine($"pathprobe: wrote {parquet.Files.Count} Parquet file{(parquet.Files.Count == 1 ? "" : "s")} under {SafeText.Clean(s.Records.ParquetDirectory!, 200)} (host {SafeText.Clean(scope.Host, 100)}, capture id {SafeText.Clean(scope.CaptureId, 100)})");
        }

        int status = analyses.Any(a => a.Input.Unreadable) || !written || !archived ? Program.ExitUsage
            : analyses.Any(a => a.Findings.Any(f => f.Severity == Findings.Severity.Critical)) ? Program.ExitCritical : Program.ExitOk;
        return signals.ExitStatus(status);
    }

    private static int Usage(TextWriter stderr, string message)
    {
        stderr.WriteLine($"pathprobe: {message}");
        return Program.ExitUsage;
    }

    /// <summary>--dns-checks: the SMTP parties of each capture, checked in DNS; the results join that capture's findings.</summary>
    private static void RunDnsChecks(List<CaptureAnalysis> analyses, DnsClientResolver resolver, bool quiet, TextWriter stderr, CancellationToken cancel)
    {
        foreach (var a in analyses)
        {
            var parties = new List<SmtpParty>();
            foreach (var f in a.Flows)
            {
                if (f.App is not SmtpFlowState smtp) continue;
                var session = smtp.Session;
                var from = session.Transactions.Select(t => Domain(t.Sender)).OfType<string>().Distinct(StringComparer.OrdinalIgnoreCase).ToList();
                var to = session.Transactions.SelectMany(t => t.Recipients).Select(r => Domain(r.Address)).OfType<string>()
                    .Distinct(StringComparer.OrdinalIgnoreCase).ToList();
                string? ehlo = session.EhloName is { } e && HostNames.TryToAscii(e, out var ea, out _) && ea.Contains('.') ? ea : null;
                if (from.Count == 0 && to.Count == 0 && ehlo is null) continue;
                parties.Add(new SmtpParty(f.Id, f.ClientAddress, ehlo, from, to));
            }
            if (parties.Count == 0) continue;
            if (!quiet) stderr.WriteLine($"pathprobe: --dns-checks: checking {parties.Count} SMTP flow{(parties.Count == 1 ? "" : "s")} with {string.Join(", ", resolver.Servers.Select(DnsServerAddress.Format))}");
            var checks = new CaptureDnsChecks(resolver);
            var time = a.Flows.Where(f => f.App is SmtpFlowState).Select(f => f.Start).Min();
            var byId = a.Flows.ToDictionary(f => f.Id);
            foreach (var v in checks.RunAsync(parties, time, id => byId.TryGetValue(id, out var f) ? PathProbe.Findings.FlowFacts.Of(f) : null, cancel).GetAwaiter().GetResult())
                a.Log.Raise(v);
            if (checks.NotChecked > 0 && !quiet) stderr.WriteLine($"pathprobe: --dns-checks: {checks.NotChecked} further domains not checked (limit {checks.MaxChecks})");
        }
    }

    /// <summary>The domain of an envelope address ("user@example.net" or "<user@example.net>") in ASCII (an
    /// internationalized domain as A-labels), or null (the null sender "<>", no domain, not a valid name).</summary>
    internal static string? Domain(string? address)
    {
        if (string.IsNullOrEmpty(address)) return null;
        string a = address.Trim().Trim('<', '>');
        int at = a.LastIndexOf('@');
        if (at < 0 || at == a.Length - 1) return null;
        string d = a[(at + 1)..].TrimEnd('.');
        return !d.StartsWith('[') && HostNames.TryToAscii(d, out var ascii, out _) && ascii.Contains('.') ? ascii : null;
    }

    /// <summary>The terminal's width when <paramref name="stdout"/> is the console on a terminal, else 80.</summary>
    internal static int TerminalWidth(TextWriter stdout)
    {
        if (!ReferenceEquals(stdout, Console.Out) || Console.IsOutputRedirected) return 80;
        try { return Console.WindowWidth is > 20 and var w ? w : 80; }
        catch (IOException) { return 80; }
    }

    private static void ShowProgress(TextWriter stderr, AnalysisProgress p)
    {
        string pct = p.Length > 0 ? $"{100.0 * p.Position / p.Length:0}%" : "";
        stderr.Write($"\r\u001b[Kanalysing {SafeText.Clean(Path.GetFileName(p.Path), 80)}: {pct} {p.Packets:#,0} packets");
    }
}
