using PathProbe.Findings;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;

namespace PathProbe.Dns;

/// <summary>What one SMTP flow in a capture says about its sender: the client's address, its EHLO name, the envelope
/// sender domains and the recipient domains.</summary>
public sealed record SmtpParty(int FlowId, IpAddress Client, string? Ehlo, IReadOnlyList<string> MailFromDomains, IReadOnlyList<string> RecipientDomains);

/// <summary>
/// <c>analyze --dns-checks</c>: for the SMTP flows of a capture, the DNS a receiving server looks at, as findings
/// linked to the flows: <c>dns-fcrdns</c> (the client's PTR, its forward confirmation, the EHLO name),
/// <c>dns-spf</c> (SPF of the MAIL FROM domain and of the EHLO name for the client's address) and <c>dns-mx</c> (the
/// recipients' domains' MX). Each distinct question is asked once; the checks themselves are
/// <see cref="MailDnsChecker"/>'s.
/// </summary>
public sealed class CaptureDnsChecks(IDnsResolver resolver)
{
    /// <summary>Distinct (domain, client, EHLO) and recipient domains checked at most, so a capture with thousands of
    /// senders does not turn into thousands of lookups; the rest is counted.</summary>
    public int MaxChecks { get; init; } = 64;
    public int NotChecked { get; private set; }

    public async Task<List<Finding>> RunAsync(IEnumerable<SmtpParty> parties, Timestamp time, CancellationToken cancel = default)
    {
        var checker = new MailDnsChecker(resolver);
        var findings = new List<Finding>();
        var senders = new Dictionary<(string Domain, IpAddress Client, string? Ehlo), List<int>>();
        var recipients = new Dictionary<string, List<int>>(DnsName.Comparer);
        foreach (var p in parties)
        {
            var domains = p.MailFromDomains.Count > 0 ? p.MailFromDomains : p.Ehlo is { } e && DnsName.IsValid(e) ? new[] { e } : Array.Empty<string>();
            foreach (var d in domains.Distinct(DnsName.Comparer))
            {
                var key = (d.TrimEnd('.').ToLowerInvariant(), p.Client, p.Ehlo);
                if (!senders.TryGetValue(key, out var ids)) senders[key] = ids = new List<int>();
                ids.Add(p.FlowId);
            }
            foreach (var d in p.RecipientDomains.Distinct(DnsName.Comparer))
            {
                if (!recipients.TryGetValue(d, out var ids)) recipients[d] = ids = new List<int>();
                ids.Add(p.FlowId);
            }
        }

        int budget = MaxChecks;
        foreach (var ((domain, client, ehlo), flows) in senders)
        {
            if (budget-- <= 0) { NotChecked++; continue; }
            var report = await checker.RunAsync(domain, client, ehlo, cancel).ConfigureAwait(false);
            if (report.ResolverError is not null)
            {
                findings.Add(ResolverFailure(report, flows, time));
                continue;
            }
            foreach (var c in report.Checks)
            {
                string? kind = c.Id switch
                {
                    "spf" or "spf-helo" or "spf-size" => "dns-spf",
                    "ip-ptr" or "helo" => "dns-fcrdns",
                    _ => null,
                };
                if (kind is null) continue;
                findings.Add(ToFinding(kind, c, flows, time, $"sender {client}, MAIL FROM domain {SafeText.Clean(domain)}" +
                                                               (ehlo is null ? "" : $", EHLO {SafeText.Clean(ehlo, 100)}")));
            }
        }
        foreach (var (domain, flows) in recipients)
        {
            if (budget-- <= 0) { NotChecked++; continue; }
            var report = await checker.RunAsync(domain, null, null, cancel).ConfigureAwait(false);
            if (report.ResolverError is not null)
            {
                findings.Add(ResolverFailure(report, flows, time));
                continue;
            }
            foreach (var c in report.Checks.Where(c => c.Id is "mx" or "null-mx" or "mx-cname" or "mx-address"))
                findings.Add(ToFinding("dns-mx", c, flows, time, $"recipient domain {SafeText.Clean(domain)}"));
        }
        return findings;
    }

    private static Finding ToFinding(string kind, DnsCheck c, List<int> flows, Timestamp time, string about) => new()
    {
        Kind = kind,
        Severity = c.Status switch { CheckStatus.Error => Severity.Critical, CheckStatus.Warning => Severity.Warning, _ => Severity.Info },
        Flows = flows.Distinct().Order().ToList(),
        Time = time,
        Summary = $"{c.Title}: {MailDnsChecker.StatusName(c.Status)}: {c.Evidence}",
        Evidence = new Evidence
        {
            { "check", c.Id },
            { "status", MailDnsChecker.StatusName(c.Status) },
            { "title", c.Title },
            { "detail", c.Evidence },
            { "about", about },
        },
        Advice = c.Fix,
    };

    private static Finding ResolverFailure(MailDnsReport report, List<int> flows, Timestamp time) => new()
    {
        Kind = "dns-check-failed",
        Severity = Severity.Warning,
        Flows = flows.Distinct().Order().ToList(),
        Time = time,
        Summary = $"the DNS checks for {SafeText.Clean(report.Domain)} could not run: {SafeText.Clean(report.ResolverError)}",
        Evidence = new Evidence { { "domain", SafeText.Clean(report.Domain) }, { "error", SafeText.Clean(report.ResolverError) } },
        Advice = "name a resolver that answers with --dns-server IP[:port]",
    };
}
