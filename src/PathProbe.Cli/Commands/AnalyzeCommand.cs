using System.CommandLine;
using PathProbe.Analysis.Smtp;
using PathProbe.Dns;
using PathProbe.Flows;
using PathProbe.Protocols.Dns;
using PathProbe.Pipeline;
using PathProbe.Reports;

namespace PathProbe.Cli.Commands;

/// <summary><c>pathprobe analyze FILE... [--json]</c>: offline analysis of capture files.</summary>
public static class AnalyzeCommand
{
    /// <summary>The capture analysed when no file is named: the incident PathProbe exists for.</summary>
    public const string BundledCapture = "smtp-mru1424-sender.pcap";

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var files = new Argument<string[]>("FILE")
        {
            Description = "pcap or pcapng files, optionally .gz compressed. Each is analysed on its own (one vantage point each). " +
                          $"Without a file, the bundled capture {BundledCapture} is analysed.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var json = new Option<bool>("--json") { Description = "Write one JSON document (schema pathprobe.analysis/1) to standard output instead of the text report." };
        var output = new Option<string?>("--output", "-o") { Description = "Write the report to this file instead of standard output." };
        var maxFlows = new Option<int>("--max-flows")
        {
            Description = "Flows tracked at once; the least recently active flow is evicted (and counted) when full.",
            DefaultValueFactory = _ => new FlowTableOptions().MaxFlows,
        };
        var flowRows = new Option<int>("--flow-rows")
        {
            Description = "Flow rows in the text report (the largest flows are shown; --json lists all).",
            DefaultValueFactory = _ => 50,
        };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress on standard error." };
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
            Description = "DNS server IP[:port] or [IPv6]:port for --dns-checks (repeatable); default: the nameservers of /etc/resolv.conf.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var cmd = new Command("analyze", "Analyse capture files and report flows, anomalies and findings.")
        {
            files, json, output, maxFlows, flowRows, quiet, noTcp, dnsChecks, dnsServer,
        };
        cmd.SetAction((parse, cancel) => Task.FromResult(Run(
            parse.GetValue(files) ?? Array.Empty<string>(), parse.GetValue(json), parse.GetValue(output),
            parse.GetValue(maxFlows), parse.GetValue(flowRows), parse.GetValue(quiet), stdout, stderr, cancel, parse.GetValue(noTcp),
            parse.GetValue(dnsChecks) ? parse.GetValue(dnsServer) ?? Array.Empty<string>() : null)));
        return cmd;
    }

    internal static int Run(string[] files, bool json, string? outputPath, int maxFlows, int flowRows, bool quiet,
        TextWriter stdout, TextWriter stderr, CancellationToken cancel, bool noTcpAnalysis = false, string[]? dnsCheckServers = null)
    {
        if (maxFlows < 1) { stderr.WriteLine("pathprobe: --max-flows must be at least 1"); return Program.ExitUsage; }
        DnsClientResolver? resolver = null;
        if (dnsCheckServers is not null)
        {
            var endpoints = new List<System.Net.IPEndPoint>();
            foreach (var s in dnsCheckServers)
            {
                if (!DnsServerAddress.TryParse(s, out var ep, out var err)) { stderr.WriteLine($"pathprobe: --dns-server {err}"); return Program.ExitUsage; }
                endpoints.Add(ep);
            }
            resolver = new DnsClientResolver(new ResolverOptions { Servers = endpoints });
            if (resolver.Servers.Count == 0)
            {
                stderr.WriteLine("pathprobe: --dns-checks needs a DNS server: /etc/resolv.conf has no nameserver line; name one with --dns-server IP[:port]");
                return Program.ExitUsage;
            }
        }
        if (files.Length == 0)
        {
            string bundled = Path.Combine(AppContext.BaseDirectory, "captures", BundledCapture);
            if (!File.Exists(bundled))
            {
                stderr.WriteLine($"pathprobe: no file given and the bundled capture is missing ({bundled}); name a capture: pathprobe analyze FILE");
                return Program.ExitUsage;
            }
            files = new[] { bundled };
            if (!json && !quiet) stderr.WriteLine($"pathprobe: no file given; analysing the bundled capture {BundledCapture} (the MRU 1424 incident, sender's view)");
        }

        var options = new AnalysisOptions { Flows = new FlowTableOptions { MaxFlows = maxFlows }, TcpAnalysis = !noTcpAnalysis };
        var analyses = new List<CaptureAnalysis>(files.Length);
        bool showProgress = !quiet && !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error);
        int nextFlowId = 1;
        for (int i = 0; i < files.Length; i++)
        {
            Action<AnalysisProgress>? progress = showProgress ? p => ShowProgress(stderr, p) : null;
            var a = FileAnalyzer.Analyze(files[i], options, i, nextFlowId, progress, cancel);
            if (showProgress) stderr.Write("\r\u001b[K");
            nextFlowId += a.Flows.Count + (int)a.FlowsNotReported;
            analyses.Add(a);
            if (a.Input.Error is not null) stderr.WriteLine($"pathprobe: {(a.Input.Unreadable ? "error" : "warning")}: {a.Input.Error}");
            if (cancel.IsCancellationRequested) break;
        }

        if (resolver is not null) RunDnsChecks(analyses, resolver, quiet, stderr, cancel);

        try
        {
            using var file = outputPath is null ? null : new FileStream(outputPath, FileMode.Create, FileAccess.Write);
            if (json)
            {
                if (file is not null) JsonReport.Write(file, analyses);
                else if (ReferenceEquals(stdout, Console.Out))
                {
                    // Stream straight to standard output: no copy of the document in memory.
                    stdout.Flush();
                    using var raw = Console.OpenStandardOutput();
                    using var buffered = new BufferedStream(raw, 1 << 16);
                    JsonReport.Write(buffered, analyses);
                    buffered.WriteByte((byte)'\n');
                }
                else
                {
                    stdout.Flush();
                    using var ms = new MemoryStream();
                    JsonReport.Write(ms, analyses);
                    stdout.Write(System.Text.Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length));
                    stdout.WriteLine();
                }
            }
            else
            {
                using var w = file is null ? null : new StreamWriter(file);
                TextReport.Write(w ?? stdout, analyses, new TextReport.Options { MaxFlowRows = Math.Max(0, flowRows) });
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"pathprobe: cannot write the report to '{outputPath}': {e.Message}");
            return Program.ExitUsage;
        }

        if (analyses.Any(a => a.Input.Unreadable)) return Program.ExitUsage;
        return analyses.Any(a => a.Findings.Any(f => f.Severity == Findings.Severity.Critical)) ? Program.ExitCritical : Program.ExitOk;
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
            a.Findings.AddRange(checks.RunAsync(parties, time, cancel).GetAwaiter().GetResult());
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

    private static void ShowProgress(TextWriter stderr, AnalysisProgress p)
    {
        string pct = p.Length > 0 ? $"{100.0 * p.Position / p.Length:0}%" : "";
        stderr.Write($"\r\u001b[Kanalysing {Path.GetFileName(p.Path)}: {pct} {p.Packets:#,0} packets");
    }
}
