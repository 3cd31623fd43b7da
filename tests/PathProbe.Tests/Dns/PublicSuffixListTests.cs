using PathProbe.Dns;
using PathProbe.Protocols.Dns;
using Xunit.Abstractions;

namespace PathProbe.Tests.Dns;

/// <summary>The Public Suffix List from Debian's publicsuffix package and from the copy shipped in PathProbe give the
/// same organizational domains; DMARC falls back to it either way.</summary>
public class PublicSuffixListTests(ITestOutputHelper output)
{
    public static TheoryData<string> Sources => new() { "system", "shipped" };

    private static PublicSuffixList Load(string source)
    {
        if (source == "shipped") return PublicSuffixList.LoadShipped();
        if (!File.Exists(PublicSuffixList.SystemPath))
            throw new SkipException($"{PublicSuffixList.SystemPath} is not there (apt-get install publicsuffix; scripts/test.sh does it)");
        return PublicSuffixList.LoadDefault();
    }

    [SkippableTheory]
    [MemberData(nameof(Sources))]
    public void OrganizationalDomain_RulesWildcardsExceptionsIdn(string source)
    {
        var psl = Load(source);
        output.WriteLine($"{psl.Source}: {psl.RuleCount} rules");
        Assert.True(psl.RuleCount > 9000, $"{psl.RuleCount}");
        foreach (var (name, org) in new (string, string?)[]
        {
            ("example.com", "example.com"), ("mail.Example.COM", "example.com"), ("a.b.example.co.uk", "example.co.uk"),
            ("co.uk", null), ("com", null),
            ("foo.bar.ck", "foo.bar.ck"),            // *.ck: bar.ck is a public suffix
            ("www.ck", "www.ck"),                     // !www.ck: the exception
            ("x.y.kawasaki.jp", "x.y.kawasaki.jp"),   // *.kawasaki.jp
            ("a.city.kawasaki.jp", "city.kawasaki.jp"), // !city.kawasaki.jp
            ("shop.xn--55qx5d.cn", "shop.xn--55qx5d.cn"), // 公司.cn is a rule in Unicode
            ("user.github.io", "user.github.io"),     // private section
            ("sub.example.test", "example.test"),     // no rule: "*"
        })
            Assert.Equal(org, psl.OrganizationalDomain(name));
    }

    [SkippableFact]
    public void Shipped_SaysItsDate()
    {
        var psl = PublicSuffixList.LoadShipped();
        Assert.Equal("the copy shipped with PathProbe, 2023-02-09", psl.Source);
    }

    [SkippableFact]
    public void LoadDefault_SystemFileMissing_ShippedCopy()
    {
        var psl = PublicSuffixList.LoadDefault(Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "list.dat"));
        Assert.Contains("shipped with PathProbe", psl.Source);
    }

    [SkippableFact]
    public void LoadDefault_SystemFile_UsedWhenPresent()
    {
        if (!File.Exists(PublicSuffixList.SystemPath)) throw new SkipException($"{PublicSuffixList.SystemPath} is not there");
        Assert.Equal(PublicSuffixList.SystemPath, PublicSuffixList.LoadDefault().Source);
    }

    /// <summary>The DMARC fallback with each list, through a real server: the evidence names the list used.</summary>
    [SkippableTheory]
    [MemberData(nameof(Sources))]
    public async Task Dmarc_SubdomainWithoutRecord_OrganizationalPolicyNamesTheList(string source)
    {
        var psl = Load(source);
        using var nsd = NsdServer.TryStart(new Dictionary<string, string> { ["example.test"] = MailZones.Example() });
        if (nsd is null) throw new SkipException("nsd is not installed (apt-get install nsd; scripts/test.sh does it)");
        var checker = new MailDnsChecker(new DnsClientResolver(new ResolverOptions { Servers = [nsd.Endpoint] }), psl);
        var report = await checker.RunAsync("sub.example.test", null, null);
        var dmarc = report.Checks.Single(c => c.Id == "dmarc");
        output.WriteLine(dmarc.Evidence);
        Assert.Equal(CheckStatus.Ok, dmarc.Status);
        Assert.Contains($"by the Public Suffix List ({psl.Source})", dmarc.Evidence);
        Assert.Equal(psl.Source, report.PublicSuffixListSource);
    }
}
