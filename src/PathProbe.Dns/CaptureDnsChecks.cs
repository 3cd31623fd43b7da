using PathProbe.Findings;
using PathProbe.Findings.Kinds;
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

    /// <summary>Runs the checks; the verdicts name the flows with <paramref name="facts"/> (the flows' own numbers).</summary>
    public async Task<List<Verdict>> RunAsync(IEnumerable<SmtpParty> parties, Timestamp time, Func<int, FlowFacts?> facts, CancellationToken cancel = default)
    {
        var checker = new MailDnsChecker(resolver, publicSuffixList);
        var findings = new List<Verdict>();
        FlowFacts[] Flows(List<int> ids) => ids.Distinct().Order().Select(facts).OfType<FlowFacts>().ToArray();
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
                FindingKind? kind = c.Id switch
                {
                    "domain" or "spf" or "spf-helo" or "spf-lookups" or "spf-size" => FindingKind.DnsSpf,
                    "ip-ptr" or "helo" => FindingKind.DnsFcrdns,
                    _ => null,
                };
                if (kind is not null) findings.Add(ToVerdict(kind.Value, c, Flows(flows), time, domain, client, ehlo));
            }
        }
        foreach (var (domain, flows) in recipients)
        {
            if (budget-- <= 0) { NotChecked++; continue; }
            var report = await checker.RunAsync(domain, null, null, cancel).ConfigureAwait(false);
            foreach (var c in report.Checks.Where(c => c.Id is "domain" or "mx" or "null-mx" or "mx-name" or "mx-cname" or "mx-address"))
                findings.Add(ToVerdict(FindingKind.DnsMx, c, Flows(flows), time, domain, null, null));
        }
        return findings;
    }

    /// <summary>
    /// The one place a check becomes a verdict. A check that could not be made (status unknown: the resolver got
    /// no definite answer) is never a dns-spf/dns-fcrdns/dns-mx verdict: it is <c>dns-check-failed</c>, naming the
    /// check it stands for and the resolver's reason.
    /// </summary>
    private static Verdict ToVerdict(FindingKind kind, DnsCheck c, FlowFacts[] flows, Timestamp time, string domain, IpAddress? client, string? ehlo)
    {
        if (c.Status == CheckStatus.Unknown)
            return new DnsCheckFailedVerdict
            {
                Flows = flows,
                At = time,
                Domain = HostNames.Show(domain),
                Error = c.Evidence,
                Check = c.Id,
                Title = c.Title,
                For = kind,
                Fix = c.Fix,
            };
        return new DnsCheckVerdict
        {
            CheckKind = kind,
            Flows = flows,
            At = time,
            Check = c.Id,
            Status = MailDnsChecker.StatusName(c.Status),
            Title = c.Title,
            Detail = c.Evidence,
            Fix = c.Fix,
            Domain = HostNames.Show(domain),
            Client = client,
            Ehlo = ehlo,
        };
    }
}
