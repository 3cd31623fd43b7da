using PathProbe.Findings;
using PathProbe.Findings.Kinds;
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

    /// <summary>Runs the checks; the verdicts name the flows with <paramref name="facts"/> (the flows' own numbers).</summary>
    public async Task<List<Verdict>> RunAsync(IEnumerable<SmtpParty> parties, Timestamp time, Func<int, FlowFacts?> facts, CancellationToken cancel = default)
    {
        var checker = new MailDnsChecker(resolver);
        var findings = new List<Verdict>();
        FlowFacts[] Flows(List<int> ids) => ids.Distinct().Order().Select(facts).OfType<FlowFacts>().ToArray();
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
                findings.Add(ResolverFailure(report, Flows(flows), time));
                continue;
            }
            foreach (var c in report.Checks)
            {
                FindingKind? kind = c.Id switch
                {
                    "spf" or "spf-helo" or "spf-size" => FindingKind.DnsSpf,
                    "ip-ptr" or "helo" => FindingKind.DnsFcrdns,
                    _ => null,
                };
                if (kind is null) continue;
                findings.Add(ToVerdict(kind.Value, c, Flows(flows), time, domain, client, ehlo));
            }
        }
        foreach (var (domain, flows) in recipients)
        {
            if (budget-- <= 0) { NotChecked++; continue; }
            var report = await checker.RunAsync(domain, null, null, cancel).ConfigureAwait(false);
            if (report.ResolverError is not null)
            {
                findings.Add(ResolverFailure(report, Flows(flows), time));
                continue;
            }
            foreach (var c in report.Checks.Where(c => c.Id is "mx" or "null-mx" or "mx-cname" or "mx-address"))
                findings.Add(ToVerdict(FindingKind.DnsMx, c, Flows(flows), time, domain, null, null));
        }
        return findings;
    }

    private static DnsCheckVerdict ToVerdict(FindingKind kind, DnsCheck c, FlowFacts[] flows, Timestamp time, string domain, IpAddress? client, string? ehlo) => new()
    {
        CheckKind = kind,
        Flows = flows,
        At = time,
        Check = c.Id,
        Status = MailDnsChecker.StatusName(c.Status),
        Title = c.Title,
        Detail = c.Evidence,
        Fix = c.Fix,
        Domain = domain,
        Client = client,
        Ehlo = ehlo,
    };

    private static DnsCheckFailedVerdict ResolverFailure(MailDnsReport report, FlowFacts[] flows, Timestamp time) => new()
    {
        Flows = flows,
        At = time,
        Domain = report.Domain,
        Error = report.ResolverError ?? "",
    };
}
