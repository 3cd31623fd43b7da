using System.Text;
using PathProbe.Dns;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;

namespace PathProbe.Tests.Dns;

/// <summary>One test of the openspf YAML suite.</summary>
public sealed record SpfSuiteCase(string Section, string Name, string Helo, string Host, string MailFrom, string[] Results, string? Explanation, Dictionary<string, List<(string Type, object? Value)>> Zone);

/// <summary>
/// Reads the openspf RFC 7208 test suite YAML: just the subset that file uses (documents, two-level mappings,
/// "- TYPE: value" lists, plain/quoted scalars with \x escapes, flow sequences, folded block scalars skipped).
/// </summary>
public static class SpfSuiteReader
{
    public static List<SpfSuiteCase> Read(string path)
    {
        var cases = new List<SpfSuiteCase>();
        var docs = new List<List<string>>();
        foreach (var line in File.ReadAllLines(path))
        {
            if (line.StartsWith("---")) { docs.Add(new List<string>()); continue; }
            if (docs.Count > 0) docs[^1].Add(line);
        }
        foreach (var doc in docs)
        {
            string section = "";
            var tests = new List<Dictionary<string, object?>>();
            var testNames = new List<string>();
            var zone = new Dictionary<string, List<(string, object?)>>(StringComparer.OrdinalIgnoreCase);
            string top = "";
            string? zoneKey = null;
            int blockIndent = -1;
            foreach (var raw in doc)
            {
                string line = raw.TrimEnd();
                if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#')) continue;
                int indent = line.Length - line.TrimStart().Length;
                if (blockIndent >= 0) { if (indent > blockIndent) continue; blockIndent = -1; }
                string t = line.Trim();
                if (indent == 0)
                {
                    int c = t.IndexOf(':');
                    if (c < 0) continue; // continuation of a plain multi-line scalar
                    top = t[..c];
                    if (top == "description") section = Unquote(t[(c + 1)..].Trim());
                    if (t[(c + 1)..].Trim() is ">-" or ">" or "|" or "|-") blockIndent = 0;
                    continue;
                }
                if (top == "tests")
                {
                    if (indent == 2) { testNames.Add(Unquote(t[..^1])); tests.Add(new()); continue; }
                    int c = t.IndexOf(':');
                    if (c < 0) continue;
                    string key = t[..c], value = t[(c + 1)..].Trim();
                    if (value is ">-" or ">" or "|" or "|-") { blockIndent = indent; continue; }
                    tests[^1][key] = ParseValue(value);
                }
                else if (top == "zonedata")
                {
                    if (indent == 2) { zoneKey = Unquote(t[..^1]); zone[zoneKey] = new(); continue; }
                    if (!t.StartsWith("- ")) continue;
                    string item = t[2..].Trim();
                    int c = item.IndexOf(':');
                    if (c < 0) zone[zoneKey!].Add((item, null));
                    else zone[zoneKey!].Add((item[..c].Trim(), ParseValue(item[(c + 1)..].Trim())));
                }
            }
            for (int i = 0; i < tests.Count; i++)
            {
                var d = tests[i];
                string S(string k) => d.TryGetValue(k, out var v) ? v as string ?? "" : "";
                var results = d["result"] is List<object?> l ? l.Select(x => (string)x!).ToArray() : new[] { (string)d["result"]! };
                cases.Add(new SpfSuiteCase(section, testNames[i], S("helo"), S("host"), S("mailfrom"), results,
                    d.TryGetValue("explanation", out var e) ? e as string : null, zone));
            }
        }
        return cases;
    }

    private static object? ParseValue(string v)
    {
        if (v.StartsWith('['))
        {
            var list = new List<object?>();
            string inner = v[1..v.LastIndexOf(']')];
            int i = 0;
            while (i < inner.Length)
            {
                while (i < inner.Length && (inner[i] == ' ' || inner[i] == ',')) i++;
                if (i >= inner.Length) break;
                int start = i;
                if (inner[i] is '"' or '\'')
                {
                    char q = inner[i++];
                    while (i < inner.Length && !(inner[i] == q && inner[i - 1] != '\\')) i++;
                    i++;
                }
                else while (i < inner.Length && inner[i] != ',') i++;
                list.Add(Unquote(inner[start..i].Trim()));
            }
            return list;
        }
        return Unquote(v);
    }

    private static string Unquote(string v)
    {
        if (v.Length >= 2 && v[0] == '\'' && v[^1] == '\'') return v[1..^1].Replace("''", "'");
        if (v.Length >= 2 && v[0] == '"' && v[^1] == '"')
        {
            var sb = new StringBuilder();
            for (int i = 1; i < v.Length - 1; i++)
            {
                if (v[i] != '\\') { sb.Append(v[i]); continue; }
                char n = v[++i];
                switch (n)
                {
                    case 'x': sb.Append((char)Convert.ToInt32(v.Substring(i + 1, 2), 16)); i += 2; break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case '0': sb.Append('\0'); break;
                    default: sb.Append(n); break;
                }
            }
            return sb.ToString();
        }
        return v;
    }
}

/// <summary>Serves zone data from memory: TIMEOUT makes queries for types the name has no records of time out, unknown names are NXDOMAIN; CNAMEs are followed;
/// a name with SPF (type 99) records and no TXT gets them as TXT (the suite's convention for the RFC 4408 tests).</summary>
public sealed class ZoneResolver(Dictionary<string, List<(string Type, object? Value)>> zone) : IDnsResolver
{
    public int Queries;

    public Task<DnsResult> QueryAsync(string name, DnsType type, CancellationToken cancel = default)
    {
        Queries++;
        var chain = new List<string>();
        string current = DnsName.Normalize(name);
        for (int hop = 0; hop < 10; hop++)
        {
            if (!zone.TryGetValue(current, out var rrs))
                return Task.FromResult(new DnsResult { Name = name, Type = type, Status = DnsResultStatus.NxDomain, CnameChain = chain.ToArray() });
            // The suite's TIMEOUT: a query times out unless the name has real records of the asked type.
            if (rrs.Any(r => r.Type == "TIMEOUT") && !rrs.Any(r => r.Type == type.ToString() && r.Value is not "NONE"))
                return Task.FromResult(DnsResult.Failure(name, type, DnsResultStatus.Timeout, "timeout (zone data)"));
            var cname = rrs.FirstOrDefault(r => r.Type == "CNAME");
            if (cname.Type is not null && type != DnsType.CNAME)
            {
                current = DnsName.Normalize((string)cname.Value!);
                chain.Add(current);
                continue;
            }
            var records = new List<DnsRecord>();
            string want = type.ToString();
            var src = rrs.Where(r => r.Type == want).ToList();
            if (type == DnsType.TXT && src.Count == 0 && !rrs.Any(r => r.Type == "TXT")) src = rrs.Where(r => r.Type == "SPF").ToList();
            foreach (var (_, v) in src)
            {
                if (v is "NONE") continue;
                DnsRdata? data = type switch
                {
                    DnsType.A or DnsType.AAAA => System.Net.IPAddress.TryParse((string)v!, out var ip) ? new AddressRdata(IpAddress.FromIPAddress(ip)) : null,
                    DnsType.TXT => new TxtRdata((v is List<object?> l ? l.Cast<string>() : new[] { (string)v! }).Select(s => Encoding.Latin1.GetBytes(s)).ToList()),
                    DnsType.MX => v is List<object?> mx ? new MxRdata(ushort.Parse((string)mx[0]!), DnsName.Normalize((string)mx[1]!)) : null,
                    DnsType.PTR or DnsType.CNAME or DnsType.NS => new NameRdata(DnsName.Normalize((string)v!)),
                    _ => null,
                };
                if (data is not null) records.Add(new DnsRecord(DnsSection.Answer, current, type, 1, 300, 0, data));
            }
            return Task.FromResult(new DnsResult { Name = name, Type = type, Status = DnsResultStatus.NoError, Records = records, CnameChain = chain.ToArray() });
        }
        return Task.FromResult(DnsResult.Failure(name, type, DnsResultStatus.ServFail, "CNAME loop"));
    }
}
