namespace PathProbe.Tests.Dns;

/// <summary>
/// Zone files for the DNS tests, each with the mistake it is named after. Served by a real nsd; through unbound too.
/// </summary>
public static class MailZones
{
    private const string Soa = "@ IN SOA ns1.example.test. hostmaster.example.test. 1 3600 900 604800 300\n@ IN NS ns1.example.test.\n";

    /// <summary>The sender's domain: MX mx (203.0.113.25), the SPF given, DMARC p=quarantine; sub.example.test has
    /// no DMARC of its own (it inherits the organizational domain's).</summary>
    public static string Example(string spf = "v=spf1 ip4:203.0.113.25 -all") => $$"""
        $ORIGIN example.test.
        $TTL 300
        @      IN SOA ns1 hostmaster 1 3600 900 604800 300
        @      IN NS  ns1
        ns1    IN A   127.0.0.1
        @      IN MX  10 mx
        @      IN TXT "{{spf}}"
        mx     IN A   203.0.113.25
        mx     IN AAAA 2001:db8:2::25
        alias  IN CNAME mx
        chain  IN CNAME alias
        ext    IN CNAME mx.other.test.
        _dmarc IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.test"
        sub    IN MX  10 mx
        sub    IN TXT "v=spf1 ip4:203.0.113.25 -all"

        """ + BigTxt();

    /// <summary>12 TXT strings of 220 bytes at big.example.test: about 2.9 kB, truncated over UDP at 1232.</summary>
    public static string BigTxt()
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < 12; i++) sb.Append($"big IN TXT \"{new string((char)('a' + i), 110)}\" \"{new string((char)('A' + i), 110)}\"\n");
        return sb.ToString();
    }

    public const string Other = """
        $ORIGIN other.test.
        $TTL 300
        @  IN SOA ns1.example.test. hostmaster.example.test. 1 3600 900 604800 300
        @  IN NS  ns1.example.test.
        mx IN A   192.0.2.99

        """;

    /// <summary>Reverse zone of 203.0.113.0/24: .25 confirmed, .26 a name without that address, .27 a PTR with an
    /// ESC byte, .28 a PTR with a space.</summary>
    public const string Reverse = """
        $ORIGIN 113.0.203.in-addr.arpa.
        $TTL 300
        @  IN SOA ns1.example.test. hostmaster.example.test. 1 3600 900 604800 300
        @  IN NS  ns1.example.test.
        25 IN PTR mx.example.test.
        26 IN PTR nowhere.example.test.
        27 IN PTR bad\027name.example.test.
        28 IN PTR sp\032ace.example.test.

        """;

    /// <summary>Reverse zone of 2001:db8:2::/48: ::25 is mx.example.test.</summary>
    public const string Reverse6 = """
        $ORIGIN 2.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.
        $TTL 300
        @  IN SOA ns1.example.test. hostmaster.example.test. 1 3600 900 604800 300
        @  IN NS  ns1.example.test.
        5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 IN PTR mx.example.test.

        """;

    /// <summary>A domain that accepts no mail: null MX (RFC 7505), no SPF.</summary>
    public static readonly string NoMail = "$ORIGIN nomail.test.\n$TTL 300\n" + Soa + "@ IN MX 0 .\n";

    /// <summary>org.test publishes p=reject; sp=quarantine for its subdomains; mail.org.test has none of its own.</summary>
    public static readonly string Org = "$ORIGIN org.test.\n$TTL 300\n" + Soa +
        "@ IN MX 10 mx.example.test.\n_dmarc IN TXT \"v=DMARC1; p=reject; sp=quarantine\"\nmail IN MX 10 mx.example.test.\n";

    /// <summary>bücher.example as xn--bcher-kva.example: MX mx.xn--bcher-kva.example, SPF pass for 203.0.113.25, DMARC reject.</summary>
    public static readonly string Idn = "$ORIGIN xn--bcher-kva.example.\n$TTL 300\n" + Soa +
        "@ IN MX 10 mx\nmx IN A 203.0.113.25\n@ IN TXT \"v=spf1 ip4:203.0.113.25 -all\"\n_dmarc IN TXT \"v=DMARC1; p=reject\"\n";

    /// <summary>SPF with 11 includes: one DNS-querying term over RFC 7208's limit of 10.</summary>
    public static string Lookups()
    {
        var sb = new System.Text.StringBuilder("$ORIGIN lookups.test.\n$TTL 300\n" + Soa + "@ IN MX 10 mx.example.test.\n");
        // Over 255 bytes: two TXT strings (SPF joins them without separator, RFC 7208 §3.3).
        sb.Append("@ IN TXT \"v=spf1 " + string.Join(" ", Enumerable.Range(1, 6).Select(i => $"include:i{i}.lookups.test")) + " \" \"" +
                  string.Join(" ", Enumerable.Range(7, 5).Select(i => $"include:i{i}.lookups.test")) + " -all\"\n");
        for (int i = 1; i <= 11; i++) sb.Append($"i{i} IN TXT \"v=spf1 -all\"\n");
        return sb.ToString();
    }

    /// <summary>Everything wrong at once: null MX beside other MX, an MX that is a CNAME, an MX without address, an NS
    /// without address, the apex A on the name server's address, an SPF record too big for 1232 bytes.</summary>
    public static string Bad()
    {
        var big = "v=spf1 " + string.Join(" ", Enumerable.Range(1, 40).Select(i => $"ip4:192.0.2.{i}")) + " -all";
        // TXT strings hold at most 255 bytes: split the record (SPF joins the strings without separator, RFC 7208 §3.3).
        var strings = string.Join(" ", big.Chunk(200).Select(c => "\"" + new string(c) + "\""));
        var sb = new System.Text.StringBuilder($$"""
            $ORIGIN bad.test.
            $TTL 300
            @      IN SOA ns1 hostmaster 1 3600 900 604800 300
            @      IN NS  ns1
            @      IN NS  ghost
            ns1    IN A   127.0.0.1
            @      IN A   127.0.0.1
            @      IN MX  0 .
            @      IN MX  10 alias
            @      IN MX  20 noaddr
            alias  IN CNAME real
            real   IN A   203.0.113.26
            noaddr IN TXT "no address here"
            @      IN TXT {{strings}}

            """);
        for (int i = 0; i < 8; i++) sb.Append($"@ IN TXT \"filler-{i} {new string('x', 150)}\"\n");
        return sb.ToString();
    }

    /// <summary>All of the above, by zone name.</summary>
    public static Dictionary<string, string> All(string? exampleSpf = null) => new()
    {
        ["example.test"] = exampleSpf is null ? Example() : Example(exampleSpf),
        ["other.test"] = Other,
        ["113.0.203.in-addr.arpa"] = Reverse,
        ["2.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"] = Reverse6,
        ["nomail.test"] = NoMail,
        ["org.test"] = Org,
        ["xn--bcher-kva.example"] = Idn,
        ["lookups.test"] = Lookups(),
        ["bad.test"] = Bad(),
    };

    /// <summary>Stub zone unbound forwards to nsd although nsd does not serve it: nsd says REFUSED, unbound SERVFAIL.</summary>
    public const string Unserved = "unserved.test";
    /// <summary>Zone unbound itself refuses (local-zone refuse).</summary>
    public const string Refused = "refused.test";
}

/// <summary>One nsd + unbound with <see cref="MailZones.All"/> for a whole test class; tests skip, saying why, when
/// nsd or unbound is missing.</summary>
public sealed class MailZonesFixture : IDisposable
{
    private readonly DnsServers? _servers;
    private readonly string? _skip;

    public MailZonesFixture()
    {
        try { _servers = DnsServers.Start(MailZones.All(), [MailZones.Unserved], [MailZones.Refused]); }
        catch (SkipException e) { _skip = e.Message; }
    }

    public DnsServers Servers => _servers ?? throw new SkipException(_skip!);

    public void Dispose() => _servers?.Dispose();
}
