using System.Net;
using System.Text;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;

namespace PathProbe.Dns;

/// <summary>
/// SPF check_host() (RFC 7208). DNS goes through an <see cref="IDnsResolver"/>, so the conformance suite and the
/// checks command can serve zone data from memory or from a real server. Limits: 10 DNS-querying terms (§4.6.4),
/// 2 void lookups, 10 MX names per mx, 10 PTR names per ptr.
/// </summary>
public sealed class SpfEvaluator(IDnsResolver resolver)
{
    public const int MaxDnsLookups = 10, MaxVoidLookups = 2, MaxMxNames = 10, MaxPtrNames = 10;
    private const int MaxDomainLength = 253;

    /// <summary>The receiving host's name for %{r} in explanations.</summary>
    public string ReceivingHost { get; init; } = "unknown";
    /// <summary>The time for %{t}; fixed in tests.</summary>
    public Func<DateTimeOffset> Clock { get; init; } = () => DateTimeOffset.UtcNow;

    /// <summary>
    /// Evaluates the SPF policy of <paramref name="domain"/> for a message from <paramref name="ip"/>.
    /// <paramref name="sender"/> is the MAIL FROM (or "postmaster@HELO" for the HELO identity).
    /// </summary>
    public async Task<SpfResult> CheckHostAsync(IpAddress ip, string domain, string sender, string helo, CancellationToken cancel = default)
    {
        var ctx = new Context(ip, sender, helo, Clock());
        var (code, reason) = await CheckHostCore(ctx, domain, "checked domain", 0, inInclude: false, cancel).ConfigureAwait(false);
        return new SpfResult
        {
            Code = code, Domain = domain, Chain = ctx.Chain, Mechanism = ctx.Mechanism, MechanismDomain = ctx.MechanismDomain,
            Explanation = code == SpfResultCode.Fail ? ctx.Explanation : null, Reason = reason,
            DnsLookups = ctx.Lookups, VoidLookups = ctx.Voids,
            FailedLookup = code == SpfResultCode.TempError ? ctx.FailedLookup : null,
        };
    }

    public Task<SpfResult> CheckHostAsync(IPAddress ip, string domain, string sender, string helo, CancellationToken cancel = default) =>
        CheckHostAsync(IpAddress.FromIPAddress(ip), domain, sender, helo, cancel);

    private sealed class Context(IpAddress ip, string sender, string helo, DateTimeOffset now)
    {
        public readonly IpAddress Ip = ip;
        public readonly string Sender = sender.Contains('@') ? (sender.StartsWith('@') ? "postmaster" + sender : sender) : "postmaster@" + sender;
        public readonly string Helo = helo;
        public readonly DateTimeOffset Now = now;
        public int Lookups, Voids;
        public readonly List<SpfStep> Chain = new();
        public string? Mechanism, MechanismDomain, Explanation;
        public List<string>? PtrNames;
        /// <summary>The first lookup that gave no definite answer (the cause of a temperror).</summary>
        public DnsResult? FailedLookup;
    }

    private sealed class SpfError(SpfResultCode code, string reason) : Exception(reason)
    {
        public SpfResultCode Code { get; } = code;
    }

    private async Task<(SpfResultCode, string?)> CheckHostCore(Context ctx, string domain, string via, int depth, bool inInclude, CancellationToken cancel)
    {
        try
        {
            return (await Evaluate(ctx, domain, via, depth, inInclude, cancel).ConfigureAwait(false), null);
        }
        catch (SpfError e) { return (e.Code, e.Message); }
    }

    // §4.3: a malformed or single-label domain gives "none".
    private static bool ValidCheckDomain(string domain)
    {
        string d = domain.TrimEnd('.');
        if (d.Length == 0 || d.Length > MaxDomainLength) return false;
        var labels = d.Split('.');
        return labels.Length >= 2 && labels.All(l => l.Length is > 0 and <= 63);
    }

    private async Task<SpfResultCode> Evaluate(Context ctx, string domain, string via, int depth, bool inInclude, CancellationToken cancel)
    {
        if (depth > 20) throw new SpfError(SpfResultCode.PermError, "include/redirect nesting too deep");
        if (!ValidCheckDomain(domain)) throw new SpfError(SpfResultCode.None, $"'{domain}' is not a valid multi-label domain name");

        var txt = await resolver.QueryAsync(domain, DnsType.TXT, cancel).ConfigureAwait(false);
        if (txt.Status == DnsResultStatus.NxDomain) throw new SpfError(SpfResultCode.None, $"{domain} does not exist");
        ThrowIfError(ctx, txt);
        // §4.5: records that begin with exactly "v=spf1" followed by a space or the end; TXT strings joined without separator.
        var spf = txt.Txt.Select(t => t.Joined).Where(IsSpfRecord).ToList();
        if (spf.Count == 0) throw new SpfError(SpfResultCode.None, $"{domain} has no SPF record (no TXT record starting with \"v=spf1\")");
        if (spf.Count > 1) throw new SpfError(SpfResultCode.PermError, $"{domain} has {spf.Count} SPF records; there must be exactly one");
        string record = spf[0];
        ctx.Chain.Add(new SpfStep(domain, record, via));

        var terms = Parse(record, domain);
        foreach (var t in terms.Where(t => t.IsMechanism))
        {
            cancel.ThrowIfCancellationRequested();
            if (await Matches(ctx, t, domain, depth, inInclude, cancel).ConfigureAwait(false))
            {
                ctx.Mechanism = t.Text; ctx.MechanismDomain = domain;
                var code = t.Qualifier switch { '-' => SpfResultCode.Fail, '~' => SpfResultCode.SoftFail, '?' => SpfResultCode.Neutral, _ => SpfResultCode.Pass };
                // §6.2: the explanation comes from the record that gave the final fail; an include's exp is ignored.
                if (code == SpfResultCode.Fail && !inInclude && terms.FirstOrDefault(x => x.Name == "exp") is { } exp)
                    ctx.Explanation = await Explain(ctx, exp.Argument!, domain, cancel).ConfigureAwait(false);
                return code;
            }
        }
        if (terms.FirstOrDefault(x => x.Name == "redirect") is { } redirect)
        {
            CountLookup(ctx);
            string target = await ExpandDomainAsync(ctx, redirect.Argument!, domain, cancel);
            if (!ValidCheckDomain(target)) throw new SpfError(SpfResultCode.PermError, $"redirect={target} is not a valid domain");
            var (code, reason) = await CheckHostCore(ctx, target, "redirect from " + domain, depth + 1, inInclude, cancel).ConfigureAwait(false);
            // §6.1: a redirect to a domain without an SPF record is a permerror.
            if (code == SpfResultCode.None) throw new SpfError(SpfResultCode.PermError, $"redirect={target}: {reason}");
            if (reason is not null) throw new SpfError(code, reason);
            return code;
        }
        return SpfResultCode.Neutral; // §4.7: no match, no redirect
    }

    private static bool IsSpfRecord(string s) =>
        s.StartsWith("v=spf1", StringComparison.OrdinalIgnoreCase) && (s.Length == 6 || s[6] == ' ');

    private void CountLookup(Context ctx)
    {
        if (++ctx.Lookups > MaxDnsLookups) throw new SpfError(SpfResultCode.PermError, $"more than {MaxDnsLookups} DNS-querying terms (RFC 7208 §4.6.4)");
    }

    private void CountVoid(Context ctx, DnsResult r)
    {
        if ((r.Status == DnsResultStatus.NxDomain || r.IsNoData) && ++ctx.Voids > MaxVoidLookups)
            throw new SpfError(SpfResultCode.PermError, $"more than {MaxVoidLookups} lookups returned no answer (RFC 7208 §4.6.4)");
    }

    private static void ThrowIfError(Context ctx, DnsResult r)
    {
        if (r.IsDefinite) return;
        ctx.FailedLookup ??= r;
        throw new SpfError(SpfResultCode.TempError, $"{r.Type} lookup for {r.Name}: {r.Describe()}");
    }

    // ---- terms (§5, §6, §12) ----

    private sealed record Term(string Text, char Qualifier, string Name, string? Argument, int Cidr4, int Cidr6, bool IsMechanism);

    private static readonly HashSet<string> Mechanisms = new(StringComparer.OrdinalIgnoreCase) { "all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists" };

    private static List<Term> Parse(string record, string domain)
    {
        var list = new List<Term>();
        foreach (var raw in record[6..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (char c in raw)
                if (c < 0x21 || c > 0x7E) throw new SpfError(SpfResultCode.PermError, $"invalid character 0x{(int)c:x2} in term '{raw}'");
            int sep = raw.IndexOfAny([':', '/', '=']);
            if (sep > 0 && raw[sep] == '=')
            {
                string name = raw[..sep];
                if (!char.IsAsciiLetter(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                    throw new SpfError(SpfResultCode.PermError, $"bad modifier name in '{raw}'");
                string value = raw[(sep + 1)..];
                string lname = name.ToLowerInvariant();
                if (lname is "redirect" or "exp")
                {
                    if (list.Any(t => t.Name == lname)) throw new SpfError(SpfResultCode.PermError, $"more than one {lname}= modifier");
                    ValidateDomainSpec(value, raw, exp: false); // c, r, t are for the explanation text, not exp='s domain (§7.1)
                }
                else ValidateMacroString(value, raw, exp: false);
                list.Add(new Term(raw, '+', lname, value, 32, 128, false));
                continue;
            }
            char q = raw[0] is '+' or '-' or '~' or '?' ? raw[0] : '+';
            string body = q == raw[0] && raw[0] is '+' or '-' or '~' or '?' ? raw[1..] : raw;
            int s2 = body.IndexOfAny([':', '/']);
            string mech = (s2 < 0 ? body : body[..s2]).ToLowerInvariant();
            if (!Mechanisms.Contains(mech)) throw new SpfError(SpfResultCode.PermError, $"unknown mechanism '{raw}'");
            string? arg = null;
            string rest = s2 < 0 ? "" : body[s2..];
            if (rest.StartsWith(':'))
            {
                rest = rest[1..];
                if (mech is "ip4" or "ip6") { int slash = rest.IndexOf('/'); arg = slash < 0 ? rest : rest[..slash]; rest = slash < 0 ? "" : rest[slash..]; }
                else
                {
                    // The domain-spec ends where a CIDR suffix starts: the last "/" that begins "/N" or "//N".
                    int cut = CidrStart(rest);
                    arg = rest[..cut]; rest = rest[cut..];
                }
                if (arg.Length == 0) throw new SpfError(SpfResultCode.PermError, $"'{raw}': empty argument");
            }
            int c4 = 32, c6 = 128;
            switch (mech)
            {
                case "all":
                    if (s2 >= 0) throw new SpfError(SpfResultCode.PermError, $"'{raw}': all takes no argument");
                    break;
                case "include" or "exists":
                    if (arg is null || rest.Length > 0) throw new SpfError(SpfResultCode.PermError, $"'{raw}': needs :domain and no CIDR");
                    ValidateDomainSpec(arg, raw, exp: false);
                    break;
                case "a" or "mx":
                    if (arg is not null) ValidateDomainSpec(arg, raw, exp: false);
                    ParseDualCidr(rest, raw, out c4, out c6);
                    break;
                case "ptr":
                    if (rest.Length > 0) throw new SpfError(SpfResultCode.PermError, $"'{raw}': ptr takes no CIDR");
                    if (arg is not null) ValidateDomainSpec(arg, raw, exp: false);
                    break;
                case "ip4":
                    if (arg is null || !IsDottedQuad(arg)) throw new SpfError(SpfResultCode.PermError, $"'{raw}': not an IPv4 network");
                    c4 = rest.Length == 0 ? 32 : ParseCidr(rest[1..], 32, raw);
                    break;
                case "ip6":
                    if (arg is null || !arg.Contains(':') || !IPAddress.TryParse(arg, out var a6) || a6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
                        throw new SpfError(SpfResultCode.PermError, $"'{raw}': not an IPv6 network");
                    c6 = rest.Length == 0 ? 128 : ParseCidr(rest[1..], 128, raw);
                    break;
            }
            list.Add(new Term(raw, q, mech, arg, c4, c6, true));
        }
        return list;
    }

    private static int CidrStart(string s)
    {
        int i = s.Length;
        // trailing "//N" or "/N//N" or "/N"
        int dbl = s.LastIndexOf("//", StringComparison.Ordinal);
        int cand = dbl >= 0 && s[(dbl + 2)..].All(char.IsAsciiDigit) && dbl + 2 < s.Length ? dbl : s.Length;
        int single = s.LastIndexOf('/', cand == s.Length ? s.Length - 1 : Math.Max(cand - 1, 0));
        if (cand != s.Length && single >= 0 && single < cand && s[(single + 1)..cand].All(char.IsAsciiDigit) && single + 1 < cand) return single;
        if (cand != s.Length) return cand;
        int last = s.LastIndexOf('/');
        if (last >= 0 && last + 1 < s.Length && s[(last + 1)..].All(char.IsAsciiDigit)) return last;
        return i;
    }

    private static void ParseDualCidr(string rest, string raw, out int c4, out int c6)
    {
        c4 = 32; c6 = 128;
        if (rest.Length == 0) return;
        if (!rest.StartsWith('/')) throw new SpfError(SpfResultCode.PermError, $"'{raw}': bad CIDR");
        if (rest.StartsWith("//")) { c6 = ParseCidr(rest[2..], 128, raw); return; }
        int dbl = rest.IndexOf("//", StringComparison.Ordinal);
        if (dbl < 0) { c4 = ParseCidr(rest[1..], 32, raw); return; }
        c4 = ParseCidr(rest[1..dbl], 32, raw);
        c6 = ParseCidr(rest[(dbl + 2)..], 128, raw);
    }

    // ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT); no leading zeros.
    private static int ParseCidr(string s, int max, string raw)
    {
        if (s.Length is 0 or > 3 || !s.All(char.IsAsciiDigit) || (s.Length > 1 && s[0] == '0') || !int.TryParse(s, out int n) || n > max)
            throw new SpfError(SpfResultCode.PermError, $"'{raw}': bad CIDR length '{s}'");
        return n;
    }

    private static bool IsDottedQuad(string s)
    {
        var p = s.Split('.');
        return p.Length == 4 && p.All(x => x.Length is > 0 and <= 3 && x.All(char.IsAsciiDigit) && int.Parse(x) <= 255);
    }

    private static void ValidateMacroString(string s, string raw, bool exp)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] != '%') continue;
            if (i + 1 >= s.Length) throw new SpfError(SpfResultCode.PermError, $"'{raw}': lone %");
            char n = s[i + 1];
            if (n is '%' or '_' or '-') { i++; continue; }
            if (n != '{') throw new SpfError(SpfResultCode.PermError, $"'{raw}': bad macro '%{n}'");
            int close = s.IndexOf('}', i);
            if (close < 0) throw new SpfError(SpfResultCode.PermError, $"'{raw}': unterminated macro");
            string body = s[(i + 2)..close];
            if (body.Length == 0) throw new SpfError(SpfResultCode.PermError, $"'{raw}': empty macro");
            char letter = char.ToLowerInvariant(body[0]);
            if ("slodiphv".IndexOf(letter) < 0 && !(exp && "crt".IndexOf(letter) >= 0))
                throw new SpfError(SpfResultCode.PermError, $"'{raw}': bad macro letter '{body[0]}'");
            int j = 1;
            while (j < body.Length && char.IsAsciiDigit(body[j])) j++;
            if (j > 1 && int.Parse(body[1..j]) == 0) throw new SpfError(SpfResultCode.PermError, $"'{raw}': zero digits transformer");
            if (j < body.Length && (body[j] == 'r' || body[j] == 'R')) j++;
            for (; j < body.Length; j++)
                if (".-+,/_=".IndexOf(body[j]) < 0) throw new SpfError(SpfResultCode.PermError, $"'{raw}': bad delimiter '{body[j]}'");
            i = close;
        }
    }

    // domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand
    private static void ValidateDomainSpec(string s, string raw, bool exp)
    {
        ValidateMacroString(s, raw, exp);
        string t = s.EndsWith('.') ? s[..^1] : s;
        if (t.EndsWith('}')) return;
        int dot = t.LastIndexOf('.');
        string top = dot < 0 ? t : t[(dot + 1)..];
        if (dot < 0 && !exp) throw new SpfError(SpfResultCode.PermError, $"'{raw}': '{s}' is not a domain");
        if (!IsTopLabel(top)) throw new SpfError(SpfResultCode.PermError, $"'{raw}': '{top}' is not a valid top label");
    }

    private static bool IsTopLabel(string l) =>
        l.Length > 0 && l.All(c => char.IsAsciiLetterOrDigit(c) || c == '-') && l[0] != '-' && l[^1] != '-' && l.Any(char.IsAsciiLetter);

    // ---- mechanisms (§5) ----

    private async Task<bool> Matches(Context ctx, Term t, string domain, int depth, bool inInclude, CancellationToken cancel)
    {
        switch (t.Name)
        {
            case "all": return true;
            case "ip4": return ctx.Ip.IsV4 && InNetwork(ctx.Ip, IpAddress.Parse(t.Argument!), t.Cidr4 + 96);
            case "ip6": return !ctx.Ip.IsV4 && InNetwork(ctx.Ip, IpAddress.Parse(t.Argument!), t.Cidr6);
            case "include":
            {
                CountLookup(ctx);
                string target = await ExpandDomainAsync(ctx, t.Argument!, domain, cancel);
                var (saved, savedDomain) = (ctx.Mechanism, ctx.MechanismDomain);
                var (code, reason) = await CheckHostCore(ctx, target, "include from " + domain, depth + 1, inInclude: true, cancel).ConfigureAwait(false);
                (ctx.Mechanism, ctx.MechanismDomain) = (saved, savedDomain); // the include term itself decides, not the term inside
                return code switch
                {
                    SpfResultCode.Pass => true,
                    SpfResultCode.Fail or SpfResultCode.SoftFail or SpfResultCode.Neutral => false,
                    SpfResultCode.TempError => throw new SpfError(SpfResultCode.TempError, reason ?? "temperror in include"),
                    _ => throw new SpfError(SpfResultCode.PermError, $"include:{target} gave {SpfResult.Name(code)}{(reason is null ? "" : $" ({reason})")}"),
                };
            }
            case "a":
            {
                CountLookup(ctx);
                string target = t.Argument is null ? domain : await ExpandDomainAsync(ctx, t.Argument, domain, cancel);
                return await MatchAddresses(ctx, target, t, countVoid: true, cancel).ConfigureAwait(false);
            }
            case "mx":
            {
                CountLookup(ctx);
                string target = t.Argument is null ? domain : await ExpandDomainAsync(ctx, t.Argument, domain, cancel);
                var mx = await Lookup(target, DnsType.MX, cancel).ConfigureAwait(false);
                ThrowIfError(ctx, mx);
                CountVoid(ctx, mx);
                var names = mx.Mx.Where(m => !m.IsNullMx).Select(m => m.Exchange).ToList();
                if (names.Count > MaxMxNames) throw new SpfError(SpfResultCode.PermError, $"mx:{target} has {names.Count} MX names; at most {MaxMxNames} (RFC 7208 §4.6.4)");
                foreach (var n in names)
                    if (await MatchAddresses(ctx, n, t, countVoid: false, cancel).ConfigureAwait(false)) return true;
                return false;
            }
            case "ptr":
            {
                CountLookup(ctx);
                string target = t.Argument is null ? domain : await ExpandDomainAsync(ctx, t.Argument, domain, cancel);
                var names = await ValidatedNames(ctx, cancel, countVoid: true).ConfigureAwait(false);
                return names.Any(n => DnsName.IsSubdomainOf(n, target));
            }
            case "exists":
            {
                CountLookup(ctx);
                string target = await ExpandDomainAsync(ctx, t.Argument!, domain, cancel);
                var r = await Lookup(target, DnsType.A, cancel).ConfigureAwait(false);
                ThrowIfError(ctx, r);
                CountVoid(ctx, r);
                return r.Records.Count > 0;
            }
        }
        return false;
    }

    private async Task<DnsResult> Lookup(string name, DnsType type, CancellationToken cancel)
    {
        // A name that cannot be asked (label over 63 after macro expansion, a space, ...) exists nowhere.
        if (!DnsName.IsValid(name)) return new DnsResult { Name = name, Type = type, Status = DnsResultStatus.NxDomain };
        var r = await resolver.QueryAsync(name, type, cancel).ConfigureAwait(false);
        return r.Status == DnsResultStatus.BadName ? new DnsResult { Name = name, Type = type, Status = DnsResultStatus.NxDomain } : r;
    }

    private async Task<bool> MatchAddresses(Context ctx, string name, Term t, bool countVoid, CancellationToken cancel)
    {
        var r = await Lookup(name, ctx.Ip.IsV4 ? DnsType.A : DnsType.AAAA, cancel).ConfigureAwait(false);
        ThrowIfError(ctx, r);
        if (countVoid) CountVoid(ctx, r);
        int prefix = ctx.Ip.IsV4 ? t.Cidr4 + 96 : t.Cidr6;
        return r.Addresses.Any(a => a.IsV4 == ctx.Ip.IsV4 && InNetwork(ctx.Ip, a, prefix));
    }

    /// <summary>§5.5: PTR names of the client whose A/AAAA include the client (at most 10 names looked at).</summary>
    private async Task<List<string>> ValidatedNames(Context ctx, CancellationToken cancel, bool countVoid)
    {
        var result = new List<string>();
        var ptr = await Lookup(ReverseName(ctx.Ip), DnsType.PTR, cancel).ConfigureAwait(false);
        if (!ptr.IsDefinite) return result; // a DNS error in the PTR lookup: the mechanism does not match
        if (countVoid) CountVoid(ctx, ptr);
        foreach (var name in ptr.Names.Take(MaxPtrNames))
        {
            var a = await Lookup(name, ctx.Ip.IsV4 ? DnsType.A : DnsType.AAAA, cancel).ConfigureAwait(false);
            if (a.Status == DnsResultStatus.NoError && a.Addresses.Contains(ctx.Ip)) result.Add(name);
        }
        return result;
    }

    public static string ReverseName(IpAddress ip)
    {
        if (ip.IsV4)
        {
            uint v = ip.V4Value;
            return $"{v & 0xFF}.{(v >> 8) & 0xFF}.{(v >> 16) & 0xFF}.{v >> 24}.in-addr.arpa";
        }
        return string.Join('.', Nibbles(ip).Reverse()) + ".ip6.arpa";
    }

    private static IEnumerable<char> Nibbles(IpAddress ip)
    {
        var b = ip.ToIPAddress().GetAddressBytes();
        foreach (byte x in b) { yield return "0123456789abcdef"[x >> 4]; yield return "0123456789abcdef"[x & 0xF]; }
    }

    private static bool InNetwork(IpAddress ip, IpAddress net, int prefix)
    {
        if (prefix <= 0) return true;
        ulong hiMask = prefix >= 64 ? ulong.MaxValue : ~(ulong.MaxValue >> prefix);
        ulong loMask = prefix <= 64 ? 0 : prefix >= 128 ? ulong.MaxValue : ~(ulong.MaxValue >> (prefix - 64));
        return (ip.High & hiMask) == (net.High & hiMask) && (ip.Low & loMask) == (net.Low & loMask);
    }

    // ---- exp (§6.2) ----

    private async Task<string?> Explain(Context ctx, string spec, string domain, CancellationToken cancel)
    {
        try
        {
            string target = await ExpandDomainAsync(ctx, spec, domain, cancel);
            if (!DnsName.IsValid(target)) return null;
            var r = await resolver.QueryAsync(target, DnsType.TXT, cancel).ConfigureAwait(false);
            var txt = r.Txt.ToList();
            if (r.Status != DnsResultStatus.NoError || txt.Count != 1) return null;
            string text = txt[0].Joined;
            if (text.Any(c => c < 0x20 || c > 0x7E)) return null; // explain-string is printable US-ASCII (§6.2)
            ValidateMacroString(text, text, exp: true);
            await PrepareMacros(ctx, text, cancel).ConfigureAwait(false);
            return Expand(ctx, text, domain, exp: true);
        }
        catch (SpfError) { return null; }
    }

    // ---- macros (§7) ----

    /// <summary>%{p} needs DNS: resolve it (once per check) before the synchronous expansion.</summary>
    private async Task PrepareMacros(Context ctx, string spec, CancellationToken cancel)
    {
        if (ctx.PtrNames is not null || spec.IndexOf("%{p", StringComparison.OrdinalIgnoreCase) < 0) return;
        ctx.PtrNames = await ValidatedNames(ctx, cancel, countVoid: false).ConfigureAwait(false);
    }

    /// <summary>%{p}: a validated name of the client, preferring the domain itself, then a subdomain (§7.3); "unknown" when none.</summary>
    private static string PtrMacro(Context ctx, string domain)
    {
        var names = ctx.PtrNames ?? new List<string>();
        return names.FirstOrDefault(n => DnsName.Equal(n, domain)) ?? names.FirstOrDefault(n => DnsName.IsSubdomainOf(n, domain))
               ?? names.FirstOrDefault() ?? "unknown";
    }

    private async Task<string> ExpandDomainAsync(Context ctx, string spec, string domain, CancellationToken cancel)
    {
        await PrepareMacros(ctx, spec, cancel).ConfigureAwait(false);
        string s = Expand(ctx, spec, domain, exp: false);
        if (s.EndsWith('.')) s = s[..^1];
        // §7.3: a result over 253 characters loses labels from the left until it fits.
        while (s.Length > MaxDomainLength)
        {
            int dot = s.IndexOf('.');
            if (dot < 0) break;
            s = s[(dot + 1)..];
        }
        return s;
    }

    private string Expand(Context ctx, string s, string domain, bool exp)
    {
        if (!s.Contains('%')) return s;
        var sb = new StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c != '%') { sb.Append(c); continue; }
            char n = s[++i];
            if (n == '%') { sb.Append('%'); continue; }
            if (n == '_') { sb.Append(' '); continue; }
            if (n == '-') { sb.Append("%20"); continue; }
            int close = s.IndexOf('}', i);
            string body = s[(i + 1)..close];
            i = close;
            char letter = body[0];
            int j = 1;
            while (j < body.Length && char.IsAsciiDigit(body[j])) j++;
            int keep = j > 1 ? int.Parse(body[1..j]) : int.MaxValue;
            bool reverse = j < body.Length && (body[j] is 'r' or 'R');
            if (reverse) j++;
            string delims = j < body.Length ? body[j..] : ".";
            string value = MacroValue(ctx, char.ToLowerInvariant(letter), domain);
            var parts = value.Split(delims.ToCharArray());
            IEnumerable<string> seq = reverse ? parts.Reverse() : parts;
            var arr = seq.ToArray();
            if (keep < arr.Length) arr = arr[^keep..];
            string joined = string.Join('.', arr);
            sb.Append(char.IsUpper(letter) ? Uri.EscapeDataString(joined) : joined);
        }
        return sb.ToString();
    }

    private string MacroValue(Context ctx, char letter, string domain)
    {
        int at = ctx.Sender.LastIndexOf('@');
        return letter switch
        {
            's' => ctx.Sender,
            'l' => at > 0 ? ctx.Sender[..at] : "postmaster",
            'o' => ctx.Sender[(at + 1)..],
            'd' => domain,
            'i' => ctx.Ip.IsV4 ? ctx.Ip.ToString() : string.Join('.', Nibbles(ctx.Ip)),
            'p' => PtrMacro(ctx, domain),
            'v' => ctx.Ip.IsV4 ? "in-addr" : "ip6",
            'h' => ctx.Helo,
            'c' => ctx.Ip.ToString(),
            'r' => ReceivingHost,
            't' => ctx.Now.ToUnixTimeSeconds().ToString(),
            _ => "",
        };
    }

}
