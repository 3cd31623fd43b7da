using System.Text.Json;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;

namespace PathProbe.Dns;

/// <summary>A check's outcome: ok; a problem found (info, warning, error); or <see cref="Unknown"/>: the check could
/// not be made because DNS gave no definite answer (the evidence is the resolver's reason).</summary>
public enum CheckStatus : byte { Ok, Info, Warning, Error, Unknown }

/// <summary>One check's verdict. Evidence and fix may quote DNS data: render them through SafeText. For
/// <see cref="CheckStatus.Unknown"/> the evidence is the reason the check could not be made.</summary>
public sealed record DnsCheck(string Id, string Title, CheckStatus Status, string Evidence, string? Fix = null);

public sealed class MailDnsReport
{
    /// <summary>The domain in ASCII (A-labels), without the final dot.</summary>
    public required string Domain { get; init; }
    public IpAddress? Ip { get; init; }
    public string? Helo { get; init; }
    public List<DnsCheck> Checks { get; } = new();
    /// <summary>The Public Suffix List used to find the organizational domain for DMARC, when it was needed.</summary>
    public string? PublicSuffixListSource { get; set; }

    public string DomainUnicode => HostNames.ToUnicode(Domain);
    /// <summary>No check could be made: every one is unknown (the resolver failed).</summary>
    public bool NoCheckMade => Checks.All(c => c.Status == CheckStatus.Unknown);
    /// <summary>A warning or an error was found.</summary>
    public bool HasProblems => Checks.Any(c => c.Status is CheckStatus.Warning or CheckStatus.Error);
    public bool HasErrors => Checks.Any(c => c.Status == CheckStatus.Error);
    /// <summary>The reason when no check could be made, else null.</summary>
    public string? ResolverError => NoCheckMade ? Checks.FirstOrDefault()?.Evidence ?? "no check was made" : null;
    public int Count(CheckStatus s) => Checks.Count(c => c.Status == s);
}

/// <summary>
/// The mail DNS checks behind <c>pathprobe dns</c>: the domain's existence, MX (null MX, CNAME targets, addresses,
/// host names), reverse DNS and FCrDNS, HELO, SPF for the sending address (with the ip4:/ip6: to add), SPF lookups
/// and size against UDP/MTU limits, DMARC with the organizational-domain fallback, NS and the apex address.
/// Every check reads the DNS answer for what it is: a lookup that failed (REFUSED, SERVFAIL, timeout, TCP failed,
/// malformed) makes the check <see cref="CheckStatus.Unknown"/> with the reason, never "no record".
/// </summary>
public sealed class MailDnsChecker(IDnsResolver resolver, PublicSuffixList? publicSuffixList = null)
{
    /// <summary>RFC 7208 §3.4: keep SPF under 512 bytes so the answer fits a plain UDP DNS message.</summary>
    public const int SpfRecordLimit = 512;
    /// <summary>The EDNS buffer size of DNS flag day 2020; larger answers need TCP or IP fragments.</summary>
    public const int EdnsSafeSize = 1232;
    /// <summary>Largest UDP payload in one IPv4 packet at MTU 1500 (1500 - 20 - 8): above it the answer is fragmented.</summary>
    public const int UdpPayloadAtMtu1500 = 1472;
    /// <summary>The address SPF is evaluated for to count its lookups: it matches no ip4/ip6 term of a sane record,
    /// so every DNS-querying term before "all" is looked up, as for a sender the record does not list.</summary>
    private static readonly IpAddress LookupCountProbe = IpAddress.Parse("255.255.255.255");

    private PublicSuffixList? _psl = publicSuffixList;
    private PublicSuffixList Psl => _psl ??= PublicSuffixList.LoadDefault();

    public async Task<MailDnsReport> RunAsync(string domain, IpAddress? ip, string? helo, CancellationToken cancel = default)
    {
        var report = new MailDnsReport { Domain = domain.TrimEnd('.'), Ip = ip, Helo = helo?.TrimEnd('.') };
        domain = report.Domain;
        helo = report.Helo;
        var checks = report.Checks;
        string d = SafeText.Clean(domain);

        var mx = await resolver.QueryAsync(domain, DnsType.MX, cancel).ConfigureAwait(false);
        if (mx.Status is DnsResultStatus.Timeout or DnsResultStatus.NetworkError or DnsResultStatus.BadName)
        {
            // The server cannot be reached at all: every further question would wait out the same timeout.
            foreach (var (id, title) in Planned(d, ip, helo)) checks.Add(Unknown(id, title, mx));
            return report;
        }

        if (mx.Status == DnsResultStatus.NxDomain)
        {
            // One error: no SPF or DMARC advice for a name that does not exist.
            checks.Add(new("domain", $"Domain {d}", CheckStatus.Error, $"the domain does not exist: NXDOMAIN for {HostNames.Show(domain)} from {mx.Server}",
                "check the spelling; mail to or from a domain that does not exist is rejected (receivers check that the MAIL FROM domain exists)"));
            if (ip is { } a) await SenderChecks(checks, a, helo, cancel).ConfigureAwait(false);
            return report;
        }

        // ---- MX ----
        bool nullMx = false;
        var mxHosts = new List<string>();
        var mxList = mx.Mx.OrderBy(m => m.Preference).ToList();
        if (!mx.IsDefinite)
            checks.Add(Unknown("mx", "MX records", mx));
        else if (mxList.Count == 0)
            checks.Add(new("mx", "MX records", CheckStatus.Warning, $"{d} has no MX; senders fall back to its A/AAAA (RFC 5321 §5.1)",
                $"publish '{d}. MX 10 mail.{d}.' (or 'MX 0 .' if it accepts no mail, RFC 7505)"));
        else if (mxList.Any(m => m.IsNullMx))
        {
            if (mxList.Count == 1)
            {
                nullMx = true;
                checks.Add(new("mx", "MX records", CheckStatus.Info, $"null MX 'MX 0 .': this domain accepts no mail (RFC 7505)"));
            }
            else
                checks.Add(new("null-mx", "Null MX", CheckStatus.Error, $"'MX 0 .' next to {mxList.Count - 1} other MX record(s)",
                    "a null MX must be the only MX record (RFC 7505 §3): remove it or the others"));
            mxHosts.AddRange(mxList.Where(m => !m.IsNullMx).Select(m => m.Exchange));
        }
        else
        {
            checks.Add(new("mx", "MX records", CheckStatus.Ok, string.Join(", ", mxList.Select(m => $"{m.Preference} {HostNames.Show(m.Exchange)}"))));
            mxHosts.AddRange(mxList.Select(m => m.Exchange));
        }

        var mxAddresses = new List<(string Host, IpAddress Address)>();
        foreach (var host in mxHosts.Distinct(DnsName.Comparer))
        {
            string h = SafeText.Clean(host);
            if (!HostNames.IsHostName(host, out var why))
            {
                checks.Add(new("mx-name", $"MX target {h}", CheckStatus.Error, $"'{h}' is not a valid host name: {why}",
                    "point the MX at a host name (letters, digits, hyphens; A-labels for internationalized names)"));
                continue;
            }
            var (a, aaaa) = await Addresses(host, cancel).ConfigureAwait(false);
            var chain = a.CnameChain.Count > 0 ? a.CnameChain : aaaa.CnameChain;
            if (chain.Count > 0)
                checks.Add(new("mx-cname", $"MX target {h}", CheckStatus.Error, $"{h} is a CNAME for {HostNames.Show(chain[^1])}",
                    $"point the MX at the canonical name {SafeText.Clean(chain[^1])} (RFC 2181 §10.3, RFC 5321 §5.1)"));
            var addrs = a.Addresses.Concat(aaaa.Addresses).ToList();
            if (addrs.Count > 0)
            {
                checks.Add(new("mx-address", $"MX target {h}", CheckStatus.Ok, string.Join(", ", addrs)));
                mxAddresses.AddRange(addrs.Select(x => (host, x)));
            }
            else if (a.IsDefinite && aaaa.IsDefinite)
                checks.Add(new("mx-address", $"MX target {h}", CheckStatus.Error, $"{h} has no A or AAAA record ({a.Describe()})",
                    $"add an A (and AAAA) record for {h}, or point the MX elsewhere"));
            else
                checks.Add(Unknown("mx-address", $"MX target {h}", a.IsDefinite ? aaaa : a));
        }
        foreach (var (host, addr) in mxAddresses)
            checks.Add(await ReverseCheck("mx-ptr", $"PTR of {addr} (MX {SafeText.Clean(host)})", addr, CheckStatus.Warning, cancel).ConfigureAwait(false));

        // ---- the sending address ----
        if (ip is { } sender) await SenderChecks(checks, sender, helo, cancel).ConfigureAwait(false);

        // ---- SPF ----
        var spf = new SpfEvaluator(resolver);
        var txt = await resolver.QueryAsync(domain, DnsType.TXT, cancel).ConfigureAwait(false);
        var spfRecords = txt.Txt.Where(t => IsSpf(t.Joined)).ToList();
        if (ip is { } from)
        {
            var r = await spf.CheckHostAsync(from, domain, "postmaster@" + domain, helo ?? domain, cancel).ConfigureAwait(false);
            checks.Add(SpfCheck("spf", $"SPF {d} for {from}", r, from, domain, nullMx));
            if (helo is not null && !DnsName.Equal(helo, domain))
            {
                var rh = await spf.CheckHostAsync(from, helo, "postmaster@" + helo, helo, cancel).ConfigureAwait(false);
                var c = SpfCheck("spf-helo", $"SPF HELO {SafeText.Clean(helo)} for {from}", rh, from, helo, nullMx: false);
                // A HELO name without SPF is common and not a delivery problem by itself.
                checks.Add(rh.Code == SpfResultCode.None ? c with { Status = CheckStatus.Info } : c);
            }
        }
        else if (!txt.IsDefinite)
            checks.Add(Unknown("spf", $"SPF {d}", txt));
        else if (spfRecords.Count == 0)
            checks.Add(nullMx
                ? new("spf", $"SPF {d}", CheckStatus.Warning, "no SPF record, and the domain accepts no mail (null MX)",
                    $"if no host sends mail as {d} either, publish '{d}. TXT \"v=spf1 -all\"' so receivers reject forgeries (RFC 7505 §4.1)")
                : new("spf", $"SPF {d}", CheckStatus.Warning, "no SPF record",
                    $"publish '{d}. TXT \"v=spf1 mx -all\"' listing every address that sends for {d}"));
        else if (spfRecords.Count == 1)
            checks.Add(new("spf", $"SPF {d}", CheckStatus.Ok, $"\"{SafeText.Clean(spfRecords[0].Joined, 200)}\" (give --ip ADDRESS to evaluate it for a sender)"));
        else
            checks.Add(new("spf", $"SPF {d}", CheckStatus.Error, $"{spfRecords.Count} SPF records: receivers return permerror (RFC 7208 §4.5)",
                "merge them into one v=spf1 record"));

        if (txt.IsDefinite && spfRecords.Count == 1)
        {
            checks.Add(await SpfLookupCheck(spf, domain, d, cancel).ConfigureAwait(false));
            checks.Add(SpfSizeCheck(spfRecords[0], txt, d));
        }

        // ---- DMARC (RFC 7489) ----
        checks.Add(await DmarcCheck(domain, d, report, cancel).ConfigureAwait(false));

        // ---- NS and the apex ----
        var ns = await resolver.QueryAsync(domain, DnsType.NS, cancel).ConfigureAwait(false);
        if (!ns.IsDefinite) checks.Add(Unknown("ns", $"NS {d}", ns));
        var nsNames = ns.Names.Distinct(DnsName.Comparer).ToList();
        var nsAddresses = new List<IpAddress>();
        var nsShown = new List<string>();
        foreach (var name in nsNames)
        {
            string n = SafeText.Clean(name);
            if (!HostNames.IsHostName(name, out var why))
            {
                checks.Add(new("ns-name", $"NS {n}", CheckStatus.Error, $"'{n}' is not a valid host name: {why}", "list name servers by host name"));
                continue;
            }
            var (a, aaaa) = await Addresses(name, cancel).ConfigureAwait(false);
            var addrs = a.Addresses.Concat(aaaa.Addresses).ToList();
            nsAddresses.AddRange(addrs);
            if (addrs.Count > 0) nsShown.Add($"{HostNames.Show(name)} ({string.Join(", ", addrs)})");
            else if (a.IsDefinite && aaaa.IsDefinite)
                checks.Add(new("ns-address", $"NS {n}", CheckStatus.Error, $"{n} has no A or AAAA record ({a.Describe()})", $"add an address for {n} or remove the NS record"));
            else
                checks.Add(Unknown("ns-address", $"NS {n}", a.IsDefinite ? aaaa : a));
        }
        if (nsShown.Count > 0) checks.Add(new("ns", $"NS {d}", CheckStatus.Ok, string.Join(", ", nsShown)));
        var apex = await resolver.QueryAsync(domain, DnsType.A, cancel).ConfigureAwait(false);
        var apexOnNs = apex.Addresses.Where(nsAddresses.Contains).Distinct().ToList();
        if (apexOnNs.Count > 0)
            checks.Add(new("apex-a", $"A {d}", CheckStatus.Warning, $"the apex A {string.Join(", ", apexOnNs)} is one of the name servers' addresses",
                "usually a placeholder: without MX, mail would go to the name server; point the A at the web/mail host or publish MX"));
        return report;
    }

    /// <summary>The checks a run would make, for the case where the server cannot be reached at all.</summary>
    private static IEnumerable<(string Id, string Title)> Planned(string d, IpAddress? ip, string? helo)
    {
        yield return ("mx", "MX records");
        if (ip is { } a)
        {
            yield return ("ip-ptr", $"PTR of {a} (the sending address)");
            if (helo is not null) yield return ("helo", $"HELO {SafeText.Clean(helo)}");
            yield return ("spf", $"SPF {d} for {a}");
        }
        else yield return ("spf", $"SPF {d}");
        yield return ("dmarc", $"DMARC {d}");
        yield return ("ns", $"NS {d}");
    }

    private async Task SenderChecks(List<DnsCheck> checks, IpAddress sender, string? helo, CancellationToken cancel)
    {
        checks.Add(await ReverseCheck("ip-ptr", $"PTR of {sender} (the sending address)", sender, CheckStatus.Error, cancel).ConfigureAwait(false));
        if (helo is null) return;
        string hh = SafeText.Clean(helo);
        var (ha, haaaa) = await Addresses(helo, cancel).ConfigureAwait(false);
        var haddrs = ha.Addresses.Concat(haaaa.Addresses).ToList();
        string fix = $"send a HELO name whose A/AAAA is {sender} (ideally the PTR name), or add '{hh}. {(sender.IsV4 ? "A" : "AAAA")} {sender}'";
        if (haddrs.Contains(sender))
            checks.Add(new("helo", $"HELO {hh}", CheckStatus.Ok, $"{HostNames.Show(helo)} resolves to {sender}"));
        else if (haddrs.Count > 0)
            checks.Add(new("helo", $"HELO {hh}", CheckStatus.Warning, $"{hh} resolves to {string.Join(", ", haddrs)}, not {sender}", fix));
        else if (ha.IsDefinite && haaaa.IsDefinite)
            checks.Add(new("helo", $"HELO {hh}", CheckStatus.Warning, $"{hh} does not resolve ({ha.Describe()})", fix));
        else
            checks.Add(Unknown("helo", $"HELO {hh}", ha.IsDefinite ? haaaa : ha));
    }

    private async Task<(DnsResult A, DnsResult Aaaa)> Addresses(string name, CancellationToken cancel)
    {
        var a = resolver.QueryAsync(name, DnsType.A, cancel);
        var aaaa = resolver.QueryAsync(name, DnsType.AAAA, cancel);
        return (await a.ConfigureAwait(false), await aaaa.ConfigureAwait(false));
    }

    /// <summary>A check that could not be made: the lookup's reason, and what to do about the resolver.</summary>
    internal static DnsCheck Unknown(string id, string title, DnsResult failed, string? prefix = null) =>
        new(id, title, CheckStatus.Unknown, prefix + (failed.Error ?? failed.Describe()), UnknownFix(failed));

    private static string UnknownFix(DnsResult r) => r.Status switch
    {
        DnsResultStatus.Refused => "this server does not answer for the name: ask a resolver that does, or the domain's authoritative server",
        DnsResultStatus.ServFail => "the resolver could not get an answer from the domain's servers: check them (dig +trace), or ask another resolver",
        DnsResultStatus.Timeout => $"check that {r.Server ?? "the server"} is up and reachable for DNS over UDP and TCP, or ask another server",
        DnsResultStatus.TruncatedTcpFailed => $"the answer needs TCP: let DNS over TCP through to {r.Server ?? "the server"}, or ask another server",
        DnsResultStatus.Malformed => "ask another server: this one (or a middlebox on the way) sends answers that cannot be used",
        DnsResultStatus.BadName => "check the name",
        _ => "check the server's address and port, or ask another server",
    };

    /// <summary>PTR and forward-confirmed reverse DNS: a PTR name whose A/AAAA contains the address.</summary>
    private async Task<DnsCheck> ReverseCheck(string id, string title, IpAddress addr, CheckStatus missing, CancellationToken cancel)
    {
        var ptr = await resolver.QueryAsync(SpfEvaluator.ReverseName(addr), DnsType.PTR, cancel).ConfigureAwait(false);
        if (!ptr.IsDefinite) return Unknown(id, title, ptr);
        var names = ptr.Names.ToList();
        if (names.Count == 0)
            return new(id, title, missing, $"no PTR record ({ptr.Describe()})",
                $"ask the owner of {addr} (your provider) for a PTR to the mail host's name; many receivers reject mail from addresses without one");
        foreach (var n in names)
            if (!HostNames.IsHostName(n, out var why))
                return new(id, title, CheckStatus.Error, $"PTR '{SafeText.Clean(n)}' is not a valid host name: {why}",
                    $"have the owner of {addr} set the PTR to the mail host's name (letters, digits, hyphens); receivers treat this like a missing PTR");
        DnsResult? failed = null;
        foreach (var n in names)
        {
            var (a, aaaa) = await Addresses(n, cancel).ConfigureAwait(false);
            if (a.Addresses.Concat(aaaa.Addresses).Contains(addr))
                return new(id, title, CheckStatus.Ok, $"{HostNames.Show(n)}, which resolves back to {addr} (FCrDNS)");
            failed ??= !a.IsDefinite ? a : !aaaa.IsDefinite ? aaaa : null;
        }
        string shown = string.Join(", ", names.Select(HostNames.Show));
        if (failed is not null) return Unknown(id, title, failed, $"PTR {shown}; its forward lookup failed: ");
        return new(id, title, missing, $"PTR {shown} does not resolve back to {addr}",
            $"add '{SafeText.Clean(names[0])}. {(addr.IsV4 ? "A" : "AAAA")} {addr}' or change the PTR to a name that has this address (forward-confirmed reverse DNS)");
    }

    private static bool IsSpf(string s) => s.StartsWith("v=spf1", StringComparison.OrdinalIgnoreCase) && (s.Length == 6 || s[6] == ' ');

    private static DnsCheck SpfCheck(string id, string title, SpfResult r, IpAddress ip, string domain, bool nullMx)
    {
        if (r.Code == SpfResultCode.TempError && r.FailedLookup is { } failed)
            return Unknown(id, title, failed, $"{failed.Type} lookup for {SafeText.Clean(failed.Name)}: ");
        string d = SafeText.Clean(domain);
        string mech = ip.IsV4 ? $"ip4:{ip}" : $"ip6:{ip}";
        string ev = $"{SpfResult.Name(r.Code)}" + (r.Mechanism is null ? "" : $" (matched '{SafeText.Clean(r.Mechanism)}' in {SafeText.Clean(r.MechanismDomain)})")
                    + (r.Reason is null ? "" : $": {SafeText.Clean(r.Reason)}") + (r.Record is null ? "" : $"; record \"{SafeText.Clean(r.Record, 200)}\"")
                    + (r.Explanation is null ? "" : $"; explanation \"{SafeText.Clean(r.Explanation, 200)}\"");
        return r.Code switch
        {
            SpfResultCode.Pass => new(id, title, CheckStatus.Ok, ev),
            SpfResultCode.Fail or SpfResultCode.SoftFail => new(id, title, CheckStatus.Error, ev,
                $"add {mech} to the SPF record of {d} before its '{SafeText.Clean(r.Mechanism)}'" + (r.Record is null ? "" : $": \"{SafeText.Clean(InsertMechanism(r.Record, mech), 300)}\"")),
            SpfResultCode.Neutral => new(id, title, CheckStatus.Warning, ev, $"add {mech} to the SPF record of {d} so receivers see pass"),
            SpfResultCode.None => new(id, title, CheckStatus.Warning, ev,
                $"publish '{d}. TXT \"v=spf1 {mech} -all\"' (add every address that sends for {d})" + (nullMx ? "; a domain that neither receives (null MX) nor sends mail publishes \"v=spf1 -all\"" : "")),
            SpfResultCode.TempError => new(id, title, CheckStatus.Error, ev, "receivers defer mail on temperror: fix the DNS lookup named above"),
            _ => new(id, title, CheckStatus.Error, ev, "receivers treat permerror like fail: fix the syntax or lookup count named above"),
        };
    }

    /// <summary>The record with <paramref name="mech"/> inserted right after "v=spf1".</summary>
    private static string InsertMechanism(string record, string mech) => record.Length <= 6 ? $"v=spf1 {mech}" : $"v=spf1 {mech}{record[6..]}";

    /// <summary>RFC 7208 §4.6.4: at most 10 DNS-querying terms and 2 void lookups in one evaluation, counted by
    /// evaluating the record for an address it does not list.</summary>
    private static async Task<DnsCheck> SpfLookupCheck(SpfEvaluator spf, string domain, string d, CancellationToken cancel)
    {
        var r = await spf.CheckHostAsync(LookupCountProbe, domain, "postmaster@" + domain, domain, cancel).ConfigureAwait(false);
        string title = $"SPF lookups {d}";
        if (r.Code == SpfResultCode.TempError && r.FailedLookup is { } failed)
            return Unknown("spf-lookups", title, failed, $"{failed.Type} lookup for {SafeText.Clean(failed.Name)}: ");
        if (r.DnsLookups > SpfEvaluator.MaxDnsLookups)
            return new("spf-lookups", title, CheckStatus.Error,
                $"more than {SpfEvaluator.MaxDnsLookups} DNS-querying terms (include, a, mx, ptr, exists, redirect) in one evaluation: receivers return permerror (RFC 7208 §4.6.4)",
                "replace includes with the ip4:/ip6: ranges they stand for, drop unused ones, or split senders onto subdomains");
        if (r.VoidLookups > SpfEvaluator.MaxVoidLookups)
            return new("spf-lookups", title, CheckStatus.Error, $"more than {SpfEvaluator.MaxVoidLookups} lookups return nothing: receivers return permerror (RFC 7208 §4.6.4)",
                "remove the terms that point at names without records");
        if (r.Code == SpfResultCode.PermError)
            return new("spf-lookups", title, CheckStatus.Error, $"permerror: {SafeText.Clean(r.Reason)}", "receivers treat permerror like fail: fix the record");
        return new("spf-lookups", title, CheckStatus.Ok, $"{r.DnsLookups} of {SpfEvaluator.MaxDnsLookups} DNS-querying terms, {r.VoidLookups} void lookup(s)");
    }

    private static DnsCheck SpfSizeCheck(TxtRdata rec, DnsResult txt, string d)
    {
        int len = rec.TextBytes;
        int answer = txt.MessageSize;
        var status = len > SpfRecordLimit || answer > EdnsSafeSize ? CheckStatus.Warning : CheckStatus.Ok;
        string ev = $"record {len} bytes; TXT answer {answer} bytes{(txt.RetriedOverTcp ? " (truncated over UDP, answered over TCP)" : "")}";
        string? fix = null;
        if (answer > UdpPayloadAtMtu1500)
            fix = $"the TXT answer ({answer} bytes) is larger than one 1500-byte-MTU packet ({UdpPayloadAtMtu1500} bytes of UDP): servers that allow large EDNS " +
                  "send it as IP fragments, which firewalls and tunnels often drop (the MTU black hole again); resolvers at 1232 need TCP. Shorten it: merge ip4: ranges, drop unused includes, move other TXT records to subdomains. " +
                  "In a capture of the receivers' lookups (`pathprobe analyze`), this answer shows as ip-fragmentation naming the record's size, or, when fragments are dropped, as fragment-loss with dns-timeout; " +
                  "lowering the DNS server's EDNS buffer to 1232 turns fragments into truncation and a retry over TCP";
        else if (answer > EdnsSafeSize)
            fix = $"the TXT answer is over {EdnsSafeSize} bytes, so resolvers that follow DNS flag day 2020 retry over TCP (and servers with a larger EDNS buffer may fragment it: " +
                  "a capture then shows ip-fragmentation or fragment-loss for it); shorten the record or move other TXT records to subdomains";
        else if (len > SpfRecordLimit)
            fix = $"keep SPF under {SpfRecordLimit} bytes (RFC 7208 §3.4): merge ip4: ranges or use include:";
        return new("spf-size", $"SPF size {d}", status, ev, fix);
    }

    // ---- DMARC (RFC 7489 §6.6.3) ----

    private async Task<DnsCheck> DmarcCheck(string domain, string d, MailDnsReport report, CancellationToken cancel)
    {
        string title = $"DMARC {d}";
        var own = await resolver.QueryAsync("_dmarc." + domain, DnsType.TXT, cancel).ConfigureAwait(false);
        if (!own.IsDefinite) return Unknown("dmarc", title, own, $"_dmarc.{d}: ");
        var recs = DmarcRecords(own);
        if (recs.Count > 1)
            return new("dmarc", title, CheckStatus.Warning, $"{recs.Count} DMARC records at _dmarc.{d}: receivers apply none (RFC 7489 §6.6.3)", "keep exactly one v=DMARC1 record");
        if (recs.Count == 1) return Policy(title, recs[0], $"_dmarc.{d}", inheritedBy: null, d);

        // No record: the organizational domain's applies (§6.6.3 step 3), its sp= (or p=) for a subdomain.
        var psl = Psl;
        report.PublicSuffixListSource = psl.Source;
        string? org = psl.OrganizationalDomain(domain);
        string none = $"no DMARC record at _dmarc.{d}";
        if (org is null || DnsName.Equal(org, domain))
            return new("dmarc", title, CheckStatus.Info, $"{none} ({d} is its own organizational domain by the Public Suffix List, {SafeText.Clean(psl.Source)})",
                $"consider '_dmarc.{d}. TXT \"v=DMARC1; p=none; rua=mailto:...\"' to start with reports");
        string o = SafeText.Clean(org);
        var orgResult = await resolver.QueryAsync("_dmarc." + org, DnsType.TXT, cancel).ConfigureAwait(false);
        if (!orgResult.IsDefinite) return Unknown("dmarc", title, orgResult, $"{none}; the organizational domain's _dmarc.{o}: ");
        var orgRecs = DmarcRecords(orgResult);
        if (orgRecs.Count > 1)
            return new("dmarc", title, CheckStatus.Warning, $"{none}; {orgRecs.Count} records at the organizational domain's _dmarc.{o}: receivers apply none",
                $"keep exactly one v=DMARC1 record at _dmarc.{o}");
        if (orgRecs.Count == 1)
            return Policy(title, orgRecs[0], $"_dmarc.{o}", inheritedBy: $"the organizational domain of {d} by the Public Suffix List ({SafeText.Clean(psl.Source)}); {none}", d);
        return new("dmarc", title, CheckStatus.Info, $"{none}, nor at the organizational domain's _dmarc.{o} (Public Suffix List, {SafeText.Clean(psl.Source)})",
            $"consider '_dmarc.{o}. TXT \"v=DMARC1; p=none; rua=mailto:...\"' to start with reports");
    }

    private static List<string> DmarcRecords(DnsResult r) =>
        r.Txt.Select(t => t.Joined).Where(t => t.StartsWith("v=DMARC1", StringComparison.OrdinalIgnoreCase)).ToList();

    /// <summary>The policy that applies: p=, or for a subdomain covered by its organizational domain's record sp= when
    /// present (RFC 7489 §6.3).</summary>
    private static DnsCheck Policy(string title, string record, string at, string? inheritedBy, string d)
    {
        var tags = record.Split(';').Select(p => p.Trim()).Where(p => p.Contains('='))
            .Select(p => (Key: p[..p.IndexOf('=')].Trim().ToLowerInvariant(), Value: p[(p.IndexOf('=') + 1)..].Trim()))
            .GroupBy(t => t.Key).ToDictionary(g => g.Key, g => g.First().Value);
        string rec = SafeText.Clean(record, 200);
        tags.TryGetValue("p", out var p);
        if (p is null || !IsPolicy(p))
            return new("dmarc", title, CheckStatus.Warning, $"{at} has no valid p= tag (none, quarantine or reject), so receivers ignore it (RFC 7489 §6.3): \"{rec}\"",
                $"write '{at}. TXT \"v=DMARC1; p=none; rua=mailto:...\"' (then quarantine or reject)");
        string applies;
        if (inheritedBy is null) applies = $"p={p.ToLowerInvariant()} (from {at})";
        else if (tags.TryGetValue("sp", out var sp) && IsPolicy(sp)) applies = $"sp={sp.ToLowerInvariant()} applies to {d} (from {at}, {inheritedBy})";
        else applies = $"p={p.ToLowerInvariant()} applies to {d} (from {at}, which has no sp=; {inheritedBy})";
        return new("dmarc", title, CheckStatus.Ok, $"policy {applies}: \"{rec}\"");
    }

    private static bool IsPolicy(string v) => v.Equals("none", StringComparison.OrdinalIgnoreCase) || v.Equals("quarantine", StringComparison.OrdinalIgnoreCase)
                                               || v.Equals("reject", StringComparison.OrdinalIgnoreCase);

    // ---- output ----

    public static void WriteText(TextWriter w, MailDnsReport report, IEnumerable<string>? servers = null)
    {
        w.WriteLine($"pathprobe dns {HostNames.Show(report.Domain)}" + (report.Ip is { } ip ? $" --ip {ip}" : "") +
                    (report.Helo is null ? "" : $" --helo {HostNames.Show(report.Helo)}") +
                    (servers is null ? "" : $"  (asking {string.Join(", ", servers)})"));
        w.WriteLine();
        int cw = Math.Min(44, report.Checks.Select(c => c.Title.Length).DefaultIfEmpty(5).Max());
        w.WriteLine($"{"CHECK".PadRight(cw)}  {"STATUS",-7}  EVIDENCE / FIX");
        foreach (var c in report.Checks)
        {
            string title = c.Title.Length > cw ? c.Title[..(cw - 1)] + "…" : c.Title;
            w.WriteLine($"{SafeText.Clean(title).PadRight(cw)}  {StatusName(c.Status),-7}  {SafeText.Clean(c.Evidence)}");
            if (c.Fix is not null && c.Status != CheckStatus.Ok)
                w.WriteLine($"{"".PadRight(cw)}  {"",-7}  fix: {SafeText.Clean(c.Fix)}");
        }
        w.WriteLine();
        w.WriteLine(Summary(report));
    }

    /// <summary>"3 ok, 1 info, 2 warning(s), 1 error(s), 0 unknown".</summary>
    public static string Summary(MailDnsReport r) =>
        $"{r.Count(CheckStatus.Ok)} ok, {r.Count(CheckStatus.Info)} info, {r.Count(CheckStatus.Warning)} warning(s), " +
        $"{r.Count(CheckStatus.Error)} error(s), {r.Count(CheckStatus.Unknown)} unknown (could not check)";

    public static string StatusName(CheckStatus s) => s switch
    {
        CheckStatus.Ok => "ok", CheckStatus.Info => "info", CheckStatus.Warning => "warning", CheckStatus.Error => "error", _ => "unknown",
    };

    public const string JsonSchema = "pathprobe.dns/1";

    public static void WriteJson(Stream s, MailDnsReport report, IEnumerable<string> servers)
    {
        using var j = new Utf8JsonWriter(s, new JsonWriterOptions { Indented = true });
        j.WriteStartObject();
        j.WriteString("schema", JsonSchema);
        j.WriteString("domain", report.Domain);
        j.WriteString("domainUnicode", report.DomainUnicode);
        if (report.Ip is { } ip) j.WriteString("ip", ip.ToString()); else j.WriteNull("ip");
        if (report.Helo is null) j.WriteNull("helo"); else j.WriteString("helo", report.Helo);
        j.WriteStartArray("servers");
        foreach (var sv in servers) j.WriteStringValue(sv);
        j.WriteEndArray();
        if (report.ResolverError is null) j.WriteNull("resolverError"); else j.WriteString("resolverError", report.ResolverError);
        if (report.PublicSuffixListSource is null) j.WriteNull("publicSuffixList"); else j.WriteString("publicSuffixList", report.PublicSuffixListSource);
        j.WriteStartArray("checks");
        foreach (var c in report.Checks)
        {
            j.WriteStartObject();
            j.WriteString("id", c.Id);
            j.WriteString("title", c.Title);
            j.WriteString("status", StatusName(c.Status));
            j.WriteString("evidence", c.Evidence);
            if (c.Status == CheckStatus.Unknown) j.WriteString("reason", c.Evidence);
            if (c.Fix is null) j.WriteNull("fix"); else j.WriteString("fix", c.Fix);
            j.WriteEndObject();
        }
        j.WriteEndArray();
        j.WriteStartObject("summary");
        foreach (var st in new[] { CheckStatus.Ok, CheckStatus.Info, CheckStatus.Warning, CheckStatus.Error, CheckStatus.Unknown })
            j.WriteNumber(StatusName(st), report.Count(st));
        j.WriteEndObject();
        j.WriteEndObject();
    }
}
