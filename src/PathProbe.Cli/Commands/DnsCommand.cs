using System.CommandLine;
using System.Net;
using PathProbe.Dns;
using PathProbe.Primitives;

namespace PathProbe.Cli.Commands;

/// <summary><c>pathprobe dns DOMAIN [--ip ADDRESS] [--helo NAME] [--server IP[:port]] [--json]</c>: mail DNS checks.</summary>
public static class DnsCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var domain = new Argument<string>("DOMAIN") { Description = "The mail domain to check (the part after @)." };
        var ip = new Option<string?>("--ip") { HelpName = "IP", Description = "The sending server's address: checks its PTR/FCrDNS and SPF for DOMAIN." };
        var helo = new Option<string?>("--helo") { HelpName = "NAME", Description = "The HELO/EHLO name the server sends: checked against --ip and SPF." };
        var server = new Option<string[]>("--server")
        {
            HelpName = "IP[:PORT]",
            Description = "DNS server IP[:port] or [IPv6]:port to ask (repeatable); default: the nameservers of /etc/resolv.conf.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var json = new Option<bool>("--json") { Description = "Write one JSON document (schema pathprobe.dns/1) instead of the table." };
        var timeout = CliOptions.Number("--timeout", null, "S", "Seconds to wait for each DNS answer (at most 60).", 0, 60, "seconds", 2.0);
        var cmd = new Command("dns", "Check a mail domain's DNS: MX, reverse DNS, HELO, SPF, SPF size vs UDP/MTU, DMARC, NS.")
        {
            domain, ip, helo, server, json, timeout,
        };
        cmd.SetAction((parse, cancel) => Run(parse.GetValue(domain)!, parse.GetValue(ip), parse.GetValue(helo),
            parse.GetValue(server) ?? Array.Empty<string>(), parse.GetValue(json), parse.GetValue(timeout), stdout, stderr, cancel));
        return cmd;
    }

    internal static async Task<int> Run(string domain, string? ipText, string? helo, string[] servers, bool json, double timeoutSeconds,
        TextWriter stdout, TextWriter stderr, CancellationToken cancel)
    {
        domain = domain.Trim().TrimEnd('.');
        if (!Protocols.Dns.DnsName.IsValid(domain) || !domain.Contains('.'))
        {
            stderr.WriteLine($"pathprobe: '{SafeText.Clean(domain)}' is not a domain name (write it like example.com)");
            return Program.ExitUsage;
        }
        IpAddress? ip = null;
        if (ipText is not null)
        {
            if (!IPAddress.TryParse(ipText, out var parsed)) { stderr.WriteLine($"pathprobe: --ip '{SafeText.Clean(ipText)}' is not an IP address"); return Program.ExitUsage; }
            ip = IpAddress.FromIPAddress(parsed);
        }
        if (helo is not null && !Protocols.Dns.DnsName.IsValid(helo)) { stderr.WriteLine($"pathprobe: --helo '{SafeText.Clean(helo)}' is not a host name"); return Program.ExitUsage; }
        if (timeoutSeconds is <= 0 or > 60) { stderr.WriteLine("pathprobe: --timeout must be between 0 and 60 seconds"); return Program.ExitUsage; }
        var endpoints = new List<IPEndPoint>();
        foreach (var s in servers)
        {
            if (!DnsServerAddress.TryParse(s, out var ep, out var err)) { stderr.WriteLine($"pathprobe: --server {err}"); return Program.ExitUsage; }
            endpoints.Add(ep);
        }
        var resolver = new UdpTcpResolver(new ResolverOptions { Servers = endpoints, Timeout = TimeSpan.FromSeconds(timeoutSeconds) });
        if (resolver.Servers.Count == 0)
        {
            stderr.WriteLine("pathprobe: no DNS server: /etc/resolv.conf has no nameserver line; name one with --server IP[:port]");
            return Program.ExitUsage;
        }
        var serverNames = resolver.Servers.Select(DnsServerAddress.Format).ToList();
        var report = await new MailDnsChecker(resolver).RunAsync(domain, ip, helo, cancel);
        if (report.ResolverError is not null)
        {
            stderr.WriteLine($"pathprobe: the DNS server did not answer ({string.Join(", ", serverNames)}): {SafeText.Clean(report.ResolverError)}; try --server IP");
            if (json) Write(stdout, report, serverNames);
            return Program.ExitUsage;
        }
        if (json) Write(stdout, report, serverNames);
        else MailDnsChecker.WriteText(stdout, report);
        return report.HasErrors ? Program.ExitCritical : Program.ExitOk;
    }

    private static void Write(TextWriter stdout, MailDnsReport report, List<string> servers)
    {
        using var ms = new MemoryStream();
        MailDnsChecker.WriteJson(ms, report, servers);
        stdout.Write(System.Text.Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length));
        stdout.WriteLine();
    }
}
