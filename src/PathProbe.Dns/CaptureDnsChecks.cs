using PathProbe.Findings;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;

namespace PathProbe.Dns;

/// <summary>What one SMTP flow in a capture says about its sender: the client's address, its EHLO name, the envelope
/// sender domains and the recipient domains. Names are in ASCII (<see cref="HostNames.TryToAscii"/>).</summary>
public sealed record SmtpParty(int FlowId, IpAddress Client, string? Ehlo, IReadOnlyList<string> MailFromDomains, IReadOnlyList<string> RecipientDomains);

/// <summary>
/// <c>analyze --dns-checks</c>: for the SMTP flows of a capture, the DNS a receiving server looks at, as findings
/// linked to the flows: <c>dns-fcrdns</c> (the client's PTR, its forward confirmation, the EHLO name),
/// <c>dns-spf</c> (SPF of the MAIL FROM domain and of the EHLO name for the client's address) and <c>dns-mx</c> (the
/// recipients' domains' MX), and <c>dns-check-failed</c> for each check the resolver could not answer (REFUSED,
/// timeout, ...). Each distinct question is asked once; the checks themselves are <see cref="MailDnsChecker"/>'s.
/// </summary>
public sealed class CaptureDnsChecks(IDnsResolver resolver, PublicSuffixList? publicSuffixList = null)
{
    /// <summary>Distinct (domain, client, EHLO) and recipient domains checked at most, so a capture with thousands of
    /// senders does not turn into thousands of lookups; the rest is counted.</summary>
    public int MaxChecks { get; init; } = 64;
    public int NotChecked { get; private set; }

    public async Task<List<Finding>> RunAsync(IEnumerable<SmtpParty> parties, Timestamp time, CancellationToken cancel = default)
    {
        var checker = new MailDnsChecker(resolver, publicSuffixList);
        var findings = new List<Finding>();
        var senders = new Dictionary<(string Domain, IpAddress Client, string? Ehlo), List<int>>();
        var recipients = new Dictionary<string, List<int>>(DnsName.Comparer);
        foreach (var p in parties)
        {
            var domains = p.MailFromDomains.Count > 0 ? p.MailFromDomains : p.Ehlo is { } e ? new[] { e } : Array.Empty<string>();
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
            string about = $"sender {client}, MAIL FROM domain {HostNames.Show(domain)}" + (ehlo is null ? "" : $", EHLO {SafeText.Clean(ehlo, 100)}");
            foreach (var c in report.Checks)
            {
                string? kind = c.Id switch
                {
                    "domain" or "spf" or "spf-helo" or "spf-lookups" or "spf-size" => "dns-spf",
                    "ip-ptr" or "helo" => "dns-fcrdns",
                    _ => null,
                };
                if (kind is not null) findings.Add(ToFinding(kind, c, flows, time, about, domain));
            }
        }
        foreach (var (domain, flows) in recipients)
        {
            if (budget-- <= 0) { NotChecked++; continue; }
            var report = await checker.RunAsync(domain, null, null, cancel).ConfigureAwait(false);
            foreach (var c in report.Checks.Where(c => c.Id is "domain" or "mx" or "null-mx" or "mx-name" or "mx-cname" or "mx-address"))
                findings.Add(ToFinding("dns-mx", c, flows, time, $"recipient domain {HostNames.Show(domain)}", domain));
        }
        return findings;
    }

    /// <summary>
    /// The one place a check becomes a finding. A check that could not be made (status unknown: the resolver got
    /// no definite answer) is never a dns-spf/dns-fcrdns/dns-mx verdict: it is <c>dns-check-failed</c>, naming the
    /// check it stands for and the resolver's reason.
    /// </summary>
    private static Finding ToFinding(string kind, DnsCheck c, List<int> flows, Timestamp time, string about, string domain)
    {
        var ids = flows.Distinct().Order().ToList();
        if (c.Status == CheckStatus.Unknown)
            return new Finding
            {
                Kind = "dns-check-failed",
                Severity = Severity.Warning,
                Flows = ids,
                Time = time,
                Summary = $"could not check {c.Title} ({kind}): {c.Evidence}",
                Evidence = new Evidence
                {
                    { "check", c.Id },
                    { "status", MailDnsChecker.StatusName(c.Status) },
                    { "title", c.Title },
                    { "reason", c.Evidence },
                    { "for", kind },
                    { "about", about },
                    // The fields dns-check-failed had before checks could be unknown one by one (JSON fields are only added).
                    { "domain", SafeText.Clean(domain) },
                    { "error", c.Evidence },
                },
                Advice = (c.Fix ?? "name a resolver that answers") + " (--dns-server IP[:port])",
            };
        return new Finding
        {
            Kind = kind,
            Severity = c.Status switch { CheckStatus.Error => Severity.Critical, CheckStatus.Warning => Severity.Warning, _ => Severity.Info },
            Flows = ids,
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
    }
}
