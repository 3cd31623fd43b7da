using System.CommandLine;
using System.Net;
using PathProbe.Dns;
using PathProbe.Primitives;

namespace PathProbe.Cli.Commands;

/// <summary><c>pathprobe dns DOMAIN [--ip ADDRESS] [--helo NAME] [--server IP[:port]]... [--timeout S] [--retries N] [--json]</c>:
/// mail DNS checks.</summary>
public static class DnsCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var domain = new Argument<string>("DOMAIN")
        {
            Description = "The mail domain to check (the part after @); an internationalized name (bücher.example) is asked about in its xn-- form.",
        };
        var ip = new Option<string?>("--ip") { HelpName = "IP", Description = "The sending server's address: checks its PTR/FCrDNS and SPF for DOMAIN." };
        var helo = new Option<string?>("--helo") { HelpName = "NAME", Description = "The HELO/EHLO name the server sends: checked against --ip and SPF." };
        var server = new Option<string[]>("--server")
        {
            HelpName = "IP[:PORT]",
            Description = "DNS server IP[:port] or [IPv6]:port to ask (repeatable; asked in order until one gives a definite answer); " +
                          "default: the nameservers of /etc/resolv.conf.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var json = new Option<bool>("--json") { Description = "Write one JSON document (schema pathprobe.dns/1) instead of the table." };
        var timeout = new Option<double>("--timeout") { HelpName = "S", Description = "Seconds to wait for each answer (UDP, and TCP when an answer is truncated).", DefaultValueFactory = _ => 2.0 };
        var retries = new Option<int>("--retries") { HelpName = "N", Description = "Times a query is sent again to a server that did not answer (0-10).", DefaultValueFactory = _ => 2 };
        var cmd = new Command("dns",
            "Check a mail domain's DNS: existence, MX (null MX, CNAME, addresses), reverse DNS, HELO, SPF (lookups, size vs UDP/MTU), " +
            "DMARC (with the organizational domain's policy), NS. Each check is ok, a problem (info, warning, error), or unknown when DNS " +
            "gave no definite answer (REFUSED, SERVFAIL, timeout, truncated and TCP failed, malformed), with the reason. Queries go over UDP " +
            "(EDNS0, 1232 bytes) and again over TCP when an answer is truncated. " +
            "Exit status: 0 no warning or error, 1 a warning or error found, 2 usage error or no check could be made.")
        {
            domain, ip, helo, server, json, timeout, retries,
        };
        cmd.SetAction((parse, cancel) => Run(parse.GetValue(domain)!, parse.GetValue(ip), parse.GetValue(helo),
            parse.GetValue(server) ?? Array.Empty<string>(), parse.GetValue(json), parse.GetValue(timeout), stdout, stderr, cancel,
            parse.GetValue(retries)));
        return cmd;
    }

    internal static async Task<int> Run(string domainText, string? ipText, string? heloText, string[] servers, bool json, double timeoutSeconds,
        TextWriter stdout, TextWriter stderr, CancellationToken cancel, int retries = 2)
    {
        if (!HostNames.TryToAscii(domainText.Trim(), out var domain, out var why) || !domain.Contains('.'))
        {
            stderr.WriteLine($"pathprobe: '{SafeText.Clean(domainText)}' is not a domain name: {why ?? "it has a single label"} (write it like example.com)");
            return Program.ExitUsage;
        }
        IpAddress? ip = null;
        if (ipText is not null)
        {
            if (!IPAddress.TryParse(ipText, out var parsed)) { stderr.WriteLine($"pathprobe: --ip '{SafeText.Clean(ipText)}' is not an IP address"); return Program.ExitUsage; }
            ip = IpAddress.FromIPAddress(parsed);
        }
        string? helo = null;
        if (heloText is not null && !HostNames.TryToAscii(heloText, out helo, out var heloWhy))
        {
            stderr.WriteLine($"pathprobe: --helo '{SafeText.Clean(heloText)}' is not a host name: {heloWhy}");
            return Program.ExitUsage;
        }
        if (timeoutSeconds is <= 0 or > 60 || double.IsNaN(timeoutSeconds)) { stderr.WriteLine("pathprobe: --timeout must be more than 0 and at most 60 seconds"); return Program.ExitUsage; }
        if (retries is < 0 or > 10) { stderr.WriteLine("pathprobe: --retries must be between 0 and 10"); return Program.ExitUsage; }
        var endpoints = new List<IPEndPoint>();
        foreach (var s in servers)
        {
            if (!DnsServerAddress.TryParse(s, out var ep, out var err)) { stderr.WriteLine($"pathprobe: --server {err}"); return Program.ExitUsage; }
            endpoints.Add(ep);
        }
        var resolver = new DnsClientResolver(new ResolverOptions { Servers = endpoints, Timeout = TimeSpan.FromSeconds(timeoutSeconds), Retries = retries });
        if (resolver.Servers.Count == 0)
        {
            stderr.WriteLine("pathprobe: no DNS server: /etc/resolv.conf has no nameserver line; name one with --server IP[:port]");
            return Program.ExitUsage;
        }
        var serverNames = resolver.Servers.Select(DnsServerAddress.Format).ToList();
        var report = await new MailDnsChecker(resolver).RunAsync(domain, ip, helo, cancel);
        if (json) Write(stdout, report, serverNames);
        else MailDnsChecker.WriteText(stdout, report, serverNames);
        if (report.NoCheckMade)
        {
            stderr.WriteLine($"pathprobe: no check could be made: {SafeText.Clean(report.ResolverError)}; name a server that answers with --server IP[:port]");
            return Program.ExitUsage;
        }
        return report.HasProblems ? Program.ExitCritical : Program.ExitOk;
    }

    private static void Write(TextWriter stdout, MailDnsReport report, List<string> servers)
    {
        using var ms = new MemoryStream();
        MailDnsChecker.WriteJson(ms, report, servers);
        stdout.Write(System.Text.Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length));
        stdout.WriteLine();
    }
}
