using System.Text.Json;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;

namespace PathProbe.Dns;

public enum CheckStatus : byte { Ok, Info, Warning, Error }

/// <summary>One check's verdict. Evidence and fix may quote DNS data: render them through SafeText.</summary>
public sealed record DnsCheck(string Id, string Title, CheckStatus Status, string Evidence, string? Fix = null);

public sealed class MailDnsReport
{
    public required string Domain { get; init; }
    public IpAddress? Ip { get; init; }
    public string? Helo { get; init; }
    public List<DnsCheck> Checks { get; } = new();
    /// <summary>The first lookup got no answer at all (timeout, network): nothing else is meaningful.</summary>
    public string? ResolverError { get; set; }
    public bool HasErrors => Checks.Any(c => c.Status == CheckStatus.Error);
}

/// <summary>
/// The mail DNS checks behind <c>pathprobe dns</c>: MX (null MX, CNAME targets, addresses), reverse DNS and FCrDNS,
/// HELO, SPF for the sending address (with the ip4:/ip6: to add), SPF size against UDP/MTU limits, DMARC, NS.
/// </summary>
public sealed class MailDnsChecker(IDnsResolver resolver)
{
    /// <summary>RFC 7208 §3.4: keep SPF under 512 bytes so the answer fits a plain UDP DNS message.</summary>
    public const int SpfRecordLimit = 512;
    /// <summary>The EDNS buffer size of DNS flag day 2020; larger answers need TCP or IP fragments.</summary>
    public const int EdnsSafeSize = 1232;
    /// <summary>Largest UDP payload in one IPv4 packet at MTU 1500 (1500 - 20 - 8): above it the answer is fragmented.</summary>
    public const int UdpPayloadAtMtu1500 = 1472;

    public async Task<MailDnsReport> RunAsync(string domain, IpAddress? ip, string? helo, CancellationToken cancel = default)
    {
        var report = new MailDnsReport { Domain = domain.TrimEnd('.'), Ip = ip, Helo = helo };
        domain = report.Domain;
        var checks = report.Checks;
        string d = SafeText.Clean(domain);

        var mx = await resolver.QueryAsync(domain, DnsType.MX, cancel).ConfigureAwait(false);
        if (mx.Status is DnsResultStatus.Timeout or DnsResultStatus.NetworkError or DnsResultStatus.BadName)
        {
            report.ResolverError = mx.Describe();
            return report;
        }

        // ---- MX ----
        var mxList = mx.Mx.OrderBy(m => m.Preference).ToList();
        var mxHosts = new List<string>();
        if (mx.Status == DnsResultStatus.NxDomain)
            checks.Add(new("mx", "MX records", CheckStatus.Error, $"{d} does not exist (NXDOMAIN)", "create the domain's zone or check the spelling"));
        else if (!mx.IsDefinite)
            checks.Add(new("mx", "MX records", CheckStatus.Error, $"MX lookup failed: {mx.Describe()}", "fix the authoritative servers of " + d));
        else if (mxList.Count == 0)
            checks.Add(new("mx", "MX records", CheckStatus.Warning, $"{d} has no MX; senders fall back to its A/AAAA (RFC 5321 §5.1)",
                $"publish '{d}. MX 10 mail.{d}.' (or 'MX 0 .' if it sends no mail to itself, RFC 7505)"));
        else if (mxList.Any(m => m.IsNullMx))
        {
            if (mxList.Count == 1)
                checks.Add(new("mx", "MX records", CheckStatus.Info, $"null MX 'MX 0 .': {d} accepts no mail (RFC 7505)"));
            else
                checks.Add(new("null-mx", "Null MX", CheckStatus.Error, $"'MX 0 .' next to {mxList.Count - 1} other MX record(s)",
                    "a null MX must be the only MX record (RFC 7505 §3): remove it or the others"));
            mxHosts.AddRange(mxList.Where(m => !m.IsNullMx).Select(m => m.Exchange));
        }
        else
        {
            checks.Add(new("mx", "MX records", CheckStatus.Ok, string.Join(", ", mxList.Select(m => $"{m.Preference} {SafeText.Clean(m.Exchange)}"))));
            mxHosts.AddRange(mxList.Select(m => m.Exchange));
        }

        var mxAddresses = new List<(string Host, IpAddress Address)>();
        foreach (var host in mxHosts.Distinct(DnsName.Comparer))
        {
            string h = SafeText.Clean(host);
            var (a, aaaa) = await Addresses(host, cancel).ConfigureAwait(false);
            var chain = a.CnameChain.Count > 0 ? a.CnameChain : aaaa.CnameChain;
            if (chain.Count > 0)
                checks.Add(new("mx-cname", $"MX target {h}", CheckStatus.Error, $"{h} is a CNAME for {SafeText.Clean(chain[^1])}",
                    $"point the MX at the canonical name {SafeText.Clean(chain[^1])} (RFC 2181 §10.3, RFC 5321 §5.1)"));
            var addrs = a.Addresses.Concat(aaaa.Addresses).ToList();
            if (!a.IsDefinite && !aaaa.IsDefinite)
                checks.Add(new("mx-address", $"MX target {h}", CheckStatus.Error, $"lookups failed: {a.Describe()}", "fix the DNS servers of " + h));
            else if (addrs.Count == 0)
                checks.Add(new("mx-address", $"MX target {h}", CheckStatus.Error, $"{h} has no A or AAAA record ({a.Describe()})",
                    $"add an A (and AAAA) record for {h}, or point the MX elsewhere"));
            else
            {
                checks.Add(new("mx-address", $"MX target {h}", CheckStatus.Ok, string.Join(", ", addrs)));
                mxAddresses.AddRange(addrs.Select(x => (host, x)));
            }
        }
        foreach (var (host, addr) in mxAddresses)
            checks.Add(await ReverseCheck("mx-ptr", $"PTR of {addr} (MX {SafeText.Clean(host)})", addr, CheckStatus.Warning, cancel).ConfigureAwait(false));

        // ---- the sending address ----
        if (ip is { } sender)
        {
            checks.Add(await ReverseCheck("ip-ptr", $"PTR of {sender} (the sending address)", sender, CheckStatus.Error, cancel).ConfigureAwait(false));
            if (helo is not null)
            {
                var (ha, haaaa) = await Addresses(helo, cancel).ConfigureAwait(false);
                var haddrs = ha.Addresses.Concat(haaaa.Addresses).ToList();
                string hh = SafeText.Clean(helo);
                checks.Add(haddrs.Contains(sender)
                    ? new("helo", $"HELO {hh}", CheckStatus.Ok, $"{hh} resolves to {sender}")
                    : new("helo", $"HELO {hh}", CheckStatus.Warning,
                        haddrs.Count == 0 ? $"{hh} does not resolve ({ha.Describe()})" : $"{hh} resolves to {string.Join(", ", haddrs)}, not {sender}",
                        $"send a HELO name whose A/AAAA is {sender} (ideally the PTR name), or add '{hh}. {(sender.IsV4 ? "A" : "AAAA")} {sender}'"));
            }
        }

        // ---- SPF ----
        var spf = new SpfEvaluator(resolver);
        var txt = await resolver.QueryAsync(domain, DnsType.TXT, cancel).ConfigureAwait(false);
        var spfRecords = txt.Txt.Where(t => t.Joined.StartsWith("v=spf1", StringComparison.OrdinalIgnoreCase) && (t.Joined.Length == 6 || t.Joined[6] == ' ')).ToList();
        if (ip is { } from)
        {
            var r = await spf.CheckHostAsync(from, domain, "postmaster@" + domain, helo ?? domain, cancel).ConfigureAwait(false);
            checks.Add(SpfCheck("spf", $"SPF {d} for {from}", r, from, domain));
            if (helo is not null && !DnsName.Equal(helo, domain))
            {
                var rh = await spf.CheckHostAsync(from, helo, "postmaster@" + helo, helo, cancel).ConfigureAwait(false);
                var c = SpfCheck("spf-helo", $"SPF HELO {SafeText.Clean(helo)} for {from}", rh, from, helo);
                // A HELO name without SPF is common and not a delivery problem by itself.
                checks.Add(rh.Code == SpfResultCode.None ? c with { Status = CheckStatus.Info } : c);
            }
        }
        else if (spfRecords.Count == 0 && txt.IsDefinite)
            checks.Add(new("spf", $"SPF {d}", CheckStatus.Warning, "no SPF record", $"publish '{d}. TXT \"v=spf1 mx -all\"' listing every address that sends for {d}"));
        else if (spfRecords.Count == 1)
            checks.Add(new("spf", $"SPF {d}", CheckStatus.Info, SafeText.Clean(spfRecords[0].Joined, 200), "use --ip ADDRESS to check a sending address"));

        foreach (var rec in spfRecords)
        {
            int len = rec.TextBytes;
            int answer = txt.MessageSize;
            var status = len > SpfRecordLimit || answer > EdnsSafeSize ? CheckStatus.Warning : CheckStatus.Ok;
            string ev = $"record {len} bytes; TXT answer {answer} bytes{(txt.RetriedOverTcp ? $" (truncated over UDP at {txt.TruncatedUdpSize} bytes, retried over TCP)" : "")}";
            string? fix = null;
            if (answer > UdpPayloadAtMtu1500)
                fix = $"the TXT answer ({answer} bytes) is larger than one 1500-byte-MTU packet ({UdpPayloadAtMtu1500} bytes of UDP): servers that allow large EDNS " +
                      "send it as IP fragments, which firewalls and tunnels often drop (the MTU black hole again); resolvers at 1232 need TCP. Shorten it: merge ip4: ranges, drop unused includes, move other TXT records to subdomains";
            else if (answer > EdnsSafeSize)
                fix = $"the TXT answer is over {EdnsSafeSize} bytes, so resolvers that follow DNS flag day 2020 retry over TCP; shorten the record or move other TXT records to subdomains";
            else if (len > SpfRecordLimit)
                fix = $"keep SPF under {SpfRecordLimit} bytes (RFC 7208 §3.4): merge ip4: ranges or use include:";
            checks.Add(new("spf-size", $"SPF size {d}", status, ev, fix));
        }

        // ---- DMARC (RFC 7489) ----
        var dmarc = await resolver.QueryAsync("_dmarc." + domain, DnsType.TXT, cancel).ConfigureAwait(false);
        var dm = dmarc.Txt.Select(t => t.Joined).Where(t => t.StartsWith("v=DMARC1", StringComparison.OrdinalIgnoreCase)).ToList();
        if (dm.Count == 1)
        {
            string policy = dm[0].Split(';').Select(p => p.Trim()).FirstOrDefault(p => p.StartsWith("p=", StringComparison.OrdinalIgnoreCase))?[2..] ?? "(none given)";
            checks.Add(new("dmarc", $"DMARC _dmarc.{d}", CheckStatus.Info, $"policy p={SafeText.Clean(policy)}: {SafeText.Clean(dm[0], 200)}"));
        }
        else if (dm.Count > 1)
            checks.Add(new("dmarc", $"DMARC _dmarc.{d}", CheckStatus.Warning, $"{dm.Count} DMARC records: receivers ignore them all", "keep exactly one v=DMARC1 record"));
        else
            checks.Add(new("dmarc", $"DMARC _dmarc.{d}", CheckStatus.Info, "no DMARC record", $"consider '_dmarc.{d}. TXT \"v=DMARC1; p=none; rua=mailto:...\"' to start with reports"));

        // ---- NS ----
        var ns = await resolver.QueryAsync(domain, DnsType.NS, cancel).ConfigureAwait(false);
        var nsAddresses = new List<IpAddress>();
        foreach (var name in ns.Names.Distinct(DnsName.Comparer))
        {
            var (a, aaaa) = await Addresses(name, cancel).ConfigureAwait(false);
            var addrs = a.Addresses.Concat(aaaa.Addresses).ToList();
            nsAddresses.AddRange(addrs);
            string n = SafeText.Clean(name);
            if (addrs.Count == 0 && a.IsDefinite && aaaa.IsDefinite)
                checks.Add(new("ns-address", $"NS {n}", CheckStatus.Error, $"{n} has no A or AAAA record ({a.Describe()})", $"add an address for {n} or remove the NS record"));
        }
        var apex = await resolver.QueryAsync(domain, DnsType.A, cancel).ConfigureAwait(false);
        var apexOnNs = apex.Addresses.Where(nsAddresses.Contains).ToList();
        if (apexOnNs.Count > 0)
            checks.Add(new("apex-a", $"A {d}", CheckStatus.Warning, $"the apex A {string.Join(", ", apexOnNs)} is one of the name servers' addresses",
                "usually a placeholder: without MX, mail would go to the name server; point the A at the web/mail host or publish MX"));
        return report;
    }

    private async Task<(DnsResult A, DnsResult Aaaa)> Addresses(string name, CancellationToken cancel)
    {
        var a = resolver.QueryAsync(name, DnsType.A, cancel);
        var aaaa = resolver.QueryAsync(name, DnsType.AAAA, cancel);
        return (await a.ConfigureAwait(false), await aaaa.ConfigureAwait(false));
    }

    /// <summary>PTR and forward-confirmed reverse DNS: a PTR name whose A/AAAA contains the address.</summary>
    private async Task<DnsCheck> ReverseCheck(string id, string title, IpAddress addr, CheckStatus missing, CancellationToken cancel)
    {
        var ptr = await resolver.QueryAsync(SpfEvaluator.ReverseName(addr), DnsType.PTR, cancel).ConfigureAwait(false);
        var names = ptr.Names.ToList();
        if (names.Count == 0)
            return new(id, title, missing, $"no PTR record ({ptr.Describe()})",
                $"ask the owner of {addr} (your provider) for a PTR to the mail host's name; many receivers reject mail from addresses without one");
        foreach (var n in names)
        {
            var (a, aaaa) = await Addresses(n, cancel).ConfigureAwait(false);
            if (a.Addresses.Concat(aaaa.Addresses).Contains(addr))
                return new(id, title, CheckStatus.Ok, $"{SafeText.Clean(n)}, which resolves back to {addr} (FCrDNS)");
        }
        string first = SafeText.Clean(names[0]);
        return new(id, title, missing, $"PTR {string.Join(", ", names.Select(x => SafeText.Clean(x)))} does not resolve back to {addr}",
            $"add '{first}. {(addr.IsV4 ? "A" : "AAAA")} {addr}' or change the PTR to a name that has this address (forward-confirmed reverse DNS)");
    }

    private static DnsCheck SpfCheck(string id, string title, SpfResult r, IpAddress ip, string domain)
    {
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
            SpfResultCode.None => new(id, title, CheckStatus.Warning, ev, $"publish '{d}. TXT \"v=spf1 {mech} -all\"' (add every address that sends for {d})"),
            SpfResultCode.TempError => new(id, title, CheckStatus.Error, ev, "receivers defer mail on temperror: fix the DNS lookup named above"),
            _ => new(id, title, CheckStatus.Error, ev, "receivers treat permerror like fail: fix the syntax or lookup count named above"),
        };
    }

    /// <summary>The record with <paramref name="mech"/> inserted right after "v=spf1".</summary>
    private static string InsertMechanism(string record, string mech) => record.Length <= 6 ? $"v=spf1 {mech}" : $"v=spf1 {mech}{record[6..]}";

    // ---- output ----

    public static void WriteText(TextWriter w, MailDnsReport report)
    {
        w.WriteLine($"pathprobe dns {SafeText.Clean(report.Domain)}" + (report.Ip is { } ip ? $" --ip {ip}" : "") + (report.Helo is null ? "" : $" --helo {SafeText.Clean(report.Helo)}"));
        w.WriteLine();
        int cw = Math.Min(44, report.Checks.Select(c => c.Title.Length).DefaultIfEmpty(5).Max());
        w.WriteLine($"{"CHECK".PadRight(cw)}  {"STATUS",-7}  EVIDENCE / FIX");
        foreach (var c in report.Checks)
        {
            string title = c.Title.Length > cw ? c.Title[..(cw - 1)] + "…" : c.Title;
            w.WriteLine($"{SafeText.Clean(title).PadRight(cw)}  {StatusName(c.Status),-7}  {SafeText.Clean(c.Evidence)}");
            if (c.Fix is not null && c.Status is CheckStatus.Warning or CheckStatus.Error or CheckStatus.Info)
                w.WriteLine($"{"".PadRight(cw)}  {"",-7}  fix: {SafeText.Clean(c.Fix)}");
        }
        w.WriteLine();
        w.WriteLine($"{report.Checks.Count(c => c.Status == CheckStatus.Ok)} ok, {report.Checks.Count(c => c.Status == CheckStatus.Warning)} warning(s), " +
                    $"{report.Checks.Count(c => c.Status == CheckStatus.Error)} error(s)");
    }

    public static string StatusName(CheckStatus s) => s switch { CheckStatus.Ok => "ok", CheckStatus.Info => "info", CheckStatus.Warning => "warning", _ => "error" };

    public const string JsonSchema = "pathprobe.dns/1";

    public static void WriteJson(Stream s, MailDnsReport report, IEnumerable<string> servers)
    {
        using var j = new Utf8JsonWriter(s, new JsonWriterOptions { Indented = true });
        j.WriteStartObject();
        j.WriteString("schema", JsonSchema);
        j.WriteString("domain", report.Domain);
        if (report.Ip is { } ip) j.WriteString("ip", ip.ToString()); else j.WriteNull("ip");
        if (report.Helo is null) j.WriteNull("helo"); else j.WriteString("helo", report.Helo);
        j.WriteStartArray("servers");
        foreach (var sv in servers) j.WriteStringValue(sv);
        j.WriteEndArray();
        if (report.ResolverError is null) j.WriteNull("resolverError"); else j.WriteString("resolverError", report.ResolverError);
        j.WriteStartArray("checks");
        foreach (var c in report.Checks)
        {
            j.WriteStartObject();
            j.WriteString("id", c.Id);
            j.WriteString("title", c.Title);
            j.WriteString("status", StatusName(c.Status));
            j.WriteString("evidence", c.Evidence);
            if (c.Fix is null) j.WriteNull("fix"); else j.WriteString("fix", c.Fix);
            j.WriteEndObject();
        }
        j.WriteEndArray();
        j.WriteStartObject("summary");
        foreach (var st in new[] { CheckStatus.Ok, CheckStatus.Info, CheckStatus.Warning, CheckStatus.Error })
            j.WriteNumber(StatusName(st), report.Checks.Count(c => c.Status == st));
        j.WriteEndObject();
        j.WriteEndObject();
    }
}
