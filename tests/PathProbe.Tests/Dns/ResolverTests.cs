using System.Diagnostics;
using System.Net;
using PathProbe.Dns;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;
using PathProbe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Tests.Dns;

/// <summary>
/// <see cref="DnsClientResolver"/> against real servers (nsd, and unbound in front of it) and against a tiny
/// misbehaving server for the failures: every outcome is a status with the resolver's reason, never an exception.
/// </summary>
public class ResolverTests(MailZonesFixture zones, ITestOutputHelper output) : IClassFixture<MailZonesFixture>
{
    private DnsClientResolver For(DnsPath path, bool recursion = true) =>
        new(new ResolverOptions { Servers = [zones.Servers.Endpoint(path)], RecursionDesired = recursion || path == DnsPath.Recursive });

    // Fake servers that answer get 5 s: on a loaded CI machine 0.4 s ran out before the answer was read.
    private static DnsClientResolver For(IPEndPoint ep, double seconds = 5, int retries = 0) =>
        new(new ResolverOptions { Servers = [ep], Timeout = TimeSpan.FromSeconds(seconds), Retries = retries });

    [SkippableTheory]
    [InlineData(DnsPath.Authoritative)]
    [InlineData(DnsPath.Recursive)]
    public async Task Query_MxAAaaaTxtNxdomainNodata(DnsPath path)
    {
        var r = For(path);
        var mx = await r.QueryAsync("example.test", DnsType.MX);
        Assert.Equal(DnsResultStatus.NoError, mx.Status);
        Assert.Equal((10, "mx.example.test"), (mx.Mx.Single().Preference, mx.Mx.Single().Exchange));
        Assert.Equal(zones.Servers.Server(path), mx.Server);
        // Names compare case-insensitively, with or without the final dot.
        var a = await r.QueryAsync("MX.Example.TEST.", DnsType.A);
        Assert.Equal(IpAddress.Parse("203.0.113.25"), a.Addresses.Single());
        var aaaa = await r.QueryAsync("mx.example.test", DnsType.AAAA);
        Assert.Equal(IpAddress.Parse("2001:db8:2::25"), aaaa.Addresses.Single());
        var txt = await r.QueryAsync("example.test", DnsType.TXT);
        Assert.Equal("v=spf1 ip4:203.0.113.25 -all", txt.Txt.Single().Joined);
        var nx = await r.QueryAsync("nope.example.test", DnsType.A);
        Assert.Equal(DnsResultStatus.NxDomain, nx.Status);
        Assert.True(nx.IsDefinite);
        var nodata = await r.QueryAsync("mx.example.test", DnsType.MX);
        Assert.True(nodata.IsNoData);
        var idn = await r.QueryAsync("xn--bcher-kva.example", DnsType.MX);
        Assert.Equal("mx.xn--bcher-kva.example", idn.Mx.Single().Exchange);

        if (TestPaths.Tool("dig") is { } dig)
        {
            var ep = zones.Servers.Endpoint(path);
            string d = TestPaths.RunTool(dig, "@127.0.0.1", "-p", ep.Port.ToString(), "+short", "example.test", "MX");
            Assert.Equal("10 mx.example.test.", d.Trim());
        }
        else output.WriteLine("dig not installed: no cross-check");
    }

    [SkippableTheory]
    [InlineData(DnsPath.Authoritative, "example.org", DnsResultStatus.Refused, "REFUSED by 127.0.0.1:")]
    [InlineData(DnsPath.Recursive, MailZones.Refused, DnsResultStatus.Refused, "REFUSED by 127.0.0.1:")]
    [InlineData(DnsPath.Recursive, MailZones.Unserved, DnsResultStatus.ServFail, "SERVFAIL from 127.0.0.1:")]
    public async Task Query_ServerDoesNotAnswerForTheZone_StatusWithReasonNotNoRecord(DnsPath path, string name, DnsResultStatus status, string reason)
    {
        var r = await For(path).QueryAsync(name, DnsType.MX);
        output.WriteLine($"{name}: {r.Status}: {r.Error}");
        Assert.Equal(status, r.Status);
        Assert.False(r.IsDefinite);
        Assert.Equal(reason + zones.Servers.Endpoint(path).Port, r.Error);
    }

    [SkippableTheory]
    [InlineData(DnsPath.Authoritative)]
    [InlineData(DnsPath.Recursive)]
    public async Task Query_BigTxt_TruncatedUdpRetriedOverTcp(DnsPath path)
    {
        var big = await For(path).QueryAsync("big.example.test", DnsType.TXT);
        Assert.Equal(DnsResultStatus.NoError, big.Status);
        Assert.True(big.RetriedOverTcp);
        Assert.Equal(12, big.Records.Count);
        Assert.True(big.MessageSize > 2700, $"{big.MessageSize}");
    }

    [SkippableTheory]
    [InlineData(DnsPath.Authoritative)]
    [InlineData(DnsPath.Recursive)]
    public async Task Query_Cname_ChasedInsideAndAcrossZones(DnsPath path)
    {
        var r = For(path);
        var chain = await r.QueryAsync("chain.example.test", DnsType.A);
        Assert.Equal(["alias.example.test", "mx.example.test"], chain.CnameChain);
        Assert.Equal(IpAddress.Parse("203.0.113.25"), chain.Addresses.Single());
        var ext = await r.QueryAsync("ext.example.test", DnsType.A);
        Assert.Equal(IpAddress.Parse("192.0.2.99"), ext.Addresses.Single());
        Assert.Equal("mx.other.test", ext.CanonicalName);
    }

    [SkippableFact]
    public async Task Query_Ipv6Server_Answers()
    {
        using var nsd = NsdServer.TryStart(new Dictionary<string, string> { ["example.test"] = MailZones.Example() });
        if (nsd is null) throw new SkipException("nsd is not installed (apt-get install nsd; scripts/test.sh does it)");
        if (!nsd.HasIpv6) throw new SkipException("no ::1 on this machine");
        Assert.True(DnsServerAddress.TryParse($"[::1]:{nsd.Port}", out var ep, out _));
        var mx = await new DnsClientResolver(new ResolverOptions { Servers = [ep] }).QueryAsync("example.test", DnsType.MX);
        Assert.Equal(DnsResultStatus.NoError, mx.Status);
        Assert.Equal($"[::1]:{nsd.Port}", mx.Server);
    }

    [SkippableFact]
    public async Task Query_FirstServerRefusesSecondAnswers_SecondsAnswer()
    {
        using var refusing = new FakeDnsServer(q => { var a = FakeDnsServer.Answer(q); a[3] = 0x05; a[7] = 0; return a[..^16]; });
        var r = new DnsClientResolver(new ResolverOptions { Servers = [refusing.Endpoint, zones.Servers.Nsd.Endpoint] });
        var mx = await r.QueryAsync("example.test", DnsType.MX);
        Assert.Equal(DnsResultStatus.NoError, mx.Status);
        Assert.Equal(zones.Servers.Nsd.ServerArgument, mx.Server);
        Assert.Equal(1, refusing.UdpQueries);
    }

    [SkippableFact]
    public async Task Query_FirstServerSilent_AskedOnceThenLast()
    {
        using var silent = new FakeDnsServer(_ => null);
        var r = new DnsClientResolver(new ResolverOptions { Servers = [silent.Endpoint, zones.Servers.Nsd.Endpoint], Timeout = TimeSpan.FromSeconds(2), Retries = 0 });
        var mx = await r.QueryAsync("example.test", DnsType.MX);
        Assert.Equal(DnsResultStatus.NoError, mx.Status);
        Assert.Equal(zones.Servers.Nsd.ServerArgument, mx.Server);
        foreach (var t in new[] { DnsType.TXT, DnsType.NS, DnsType.A })
            Assert.Equal(DnsResultStatus.NoError, (await r.QueryAsync("example.test", t)).Status);
        Assert.Equal(1, silent.UdpQueries);
    }

    [SkippableFact]
    public async Task Query_EveryServerFails_AllReasonsGiven()
    {
        using var silent = new FakeDnsServer(_ => null);
        using var refusing = new FakeDnsServer(q => { var a = FakeDnsServer.Answer(q); a[3] = 0x05; a[7] = 0; return a[..^16]; });
        var r = new DnsClientResolver(new ResolverOptions { Servers = [silent.Endpoint, refusing.Endpoint], Timeout = TimeSpan.FromSeconds(0.2), Retries = 0 });
        var mx = await r.QueryAsync("example.test", DnsType.MX);
        Assert.Equal(DnsResultStatus.Timeout, mx.Status);
        Assert.Equal($"timeout after 0.2 s from {silent.ServerArgument} (1 try); REFUSED by {refusing.ServerArgument}", mx.Error);
    }

    // ---- failures a real server does not produce on demand ----

    [SkippableFact]
    public async Task Silent_TimeoutAfterEveryTry_ReasonSaysHowLong()
    {
        using var silent = new FakeDnsServer(_ => null);
        var sw = Stopwatch.StartNew();
        var r = await For(silent.Endpoint, 0.2, retries: 2).QueryAsync("x.example", DnsType.A);
        sw.Stop();
        Assert.Equal(DnsResultStatus.Timeout, r.Status);
        Assert.Equal($"timeout after 0.2 s from {silent.ServerArgument} (3 tries)", r.Error);
        Assert.Equal(3, silent.UdpQueries);
        Assert.InRange(sw.Elapsed.TotalSeconds, 0.55, 5);
    }

    [SkippableFact]
    public async Task Truncated_TcpRefused_TruncatedAndTcpFailed()
    {
        using var fake = new FakeDnsServer(q => FakeDnsServer.Answer(q, truncated: true));
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        output.WriteLine(r.Error);
        Assert.Equal(DnsResultStatus.TruncatedTcpFailed, r.Status);
        Assert.Equal($"answer truncated and TCP failed (cannot reach {fake.ServerArgument} over TCP: connection refused)", r.Error);
    }

    [SkippableFact]
    public async Task Truncated_TcpAnswers_RecordsFromTcp()
    {
        using var fake = new FakeDnsServer(q => FakeDnsServer.Answer(q, truncated: true), tcp: q => FakeDnsServer.Answer(q));
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        Assert.Equal(DnsResultStatus.NoError, r.Status);
        Assert.True(r.RetriedOverTcp);
        Assert.Equal(IpAddress.Parse("192.0.2.1"), r.Addresses.Single());
        Assert.Equal(1, fake.TcpConnections);
    }

    [SkippableFact]
    public async Task Truncated_TcpClosesWithoutAnswer_TruncatedAndTcpFailed()
    {
        using var fake = new FakeDnsServer(q => FakeDnsServer.Answer(q, truncated: true), tcp: _ => null);
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        output.WriteLine(r.Error);
        Assert.Equal(DnsResultStatus.TruncatedTcpFailed, r.Status);
        Assert.StartsWith("answer truncated and TCP failed (", r.Error);
    }

    [SkippableFact]
    public async Task Garbage_OverUdpAndTcp_Malformed()
    {
        var garbage = Convert.FromHexString("deadbeef00");
        using var fake = new FakeDnsServer(_ => garbage, tcp: _ => garbage);
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        output.WriteLine(r.Error);
        Assert.Equal(DnsResultStatus.Malformed, r.Status);
        Assert.StartsWith($"malformed answer from {fake.ServerArgument} over TCP (", r.Error);
    }

    [SkippableFact]
    public async Task Garbage_OverUdpNoTcp_MalformedNotTruncated()
    {
        // DnsClient reads an unreadable UDP answer as a truncated one and goes to TCP; it was not truncated.
        using var fake = new FakeDnsServer(_ => Convert.FromHexString("deadbeef00"));
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        output.WriteLine(r.Error);
        Assert.Equal(DnsResultStatus.Malformed, r.Status);
        Assert.Equal($"malformed answer from {fake.ServerArgument} over UDP, and TCP failed (cannot reach {fake.ServerArgument} over TCP: connection refused)", r.Error);
    }

    [SkippableFact]
    public async Task CompressionLoop_Malformed()
    {
        var bad = (byte[] q) =>
        {
            var a = FakeDnsServer.Answer(q);
            int end = a.Length - 16;
            a[end] = 0xC0; a[end + 1] = (byte)end; // the answer's owner points at itself
            return a;
        };
        using var fake = new FakeDnsServer(bad, tcp: bad);
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        output.WriteLine(r.Error);
        Assert.Equal(DnsResultStatus.Malformed, r.Status);
        Assert.StartsWith($"malformed answer from {fake.ServerArgument}", r.Error);
    }

    [SkippableFact]
    public async Task MismatchedId_Malformed()
    {
        using var fake = new FakeDnsServer(q => FakeDnsServer.Answer(q, id: (ushort)(((q[0] << 8) | q[1]) ^ 0x5555)));
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        output.WriteLine(r.Error);
        Assert.Equal(DnsResultStatus.Malformed, r.Status);
        Assert.Matches($@"^malformed answer from {fake.ServerArgument} \(its ID \d+ is not the query's \d+\)$", r.Error);
    }

    [SkippableFact]
    public async Task AnswerToAnotherQuestion_Malformed()
    {
        using var fake = new FakeDnsServer(q => { var a = FakeDnsServer.Answer(q); a[^19] = 0x1c; return a; }); // question type AAAA, not A
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        Assert.Equal(DnsResultStatus.Malformed, r.Status);
        Assert.Equal($"malformed answer from {fake.ServerArgument}: it answers another question (x.example. AAAA)", r.Error);
    }

    [SkippableFact]
    public async Task QuestionInOtherCase_Accepted()
    {
        using var fake = new FakeDnsServer(q => { var a = FakeDnsServer.Answer(q); a[13] ^= 0x20; return a; }); // "X.example"
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        Assert.Equal(DnsResultStatus.NoError, r.Status);
        Assert.Equal(IpAddress.Parse("192.0.2.1"), r.Addresses.Single());
    }

    [SkippableFact]
    public async Task NotAResponse_Malformed()
    {
        using var fake = new FakeDnsServer(q => { var a = FakeDnsServer.Answer(q); a[2] &= 0x7F; return a; });
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        Assert.Equal(DnsResultStatus.Malformed, r.Status);
        Assert.Contains("not a response", r.Error);
    }

    [SkippableFact]
    public async Task FormErrWithoutQuestion_OtherRcode()
    {
        using var fake = new FakeDnsServer(q => { var a = q[..12]; a[2] = 0x80; a[3] = 0x01; a[5] = 0; a[11] = 0; return a; });
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        Assert.Equal(DnsResultStatus.OtherRcode, r.Status);
        Assert.Equal($"FORMERR from {fake.ServerArgument}", r.Error);
    }

    [SkippableTheory]
    [InlineData("a b.example")]
    [InlineData("a\\027b.example")]
    [InlineData("a..b")]
    public async Task Query_NameThatCannotBeSent_BadNameNoQuery(string name)
    {
        using var fake = new FakeDnsServer(q => FakeDnsServer.Answer(q));
        var r = await For(fake.Endpoint).QueryAsync(name, DnsType.A);
        Assert.Equal(DnsResultStatus.BadName, r.Status);
        Assert.Equal(0, fake.UdpQueries);
    }

    [SkippableTheory]
    [InlineData("192.0.2.53", "192.0.2.53:53")]
    [InlineData("192.0.2.53:5353", "192.0.2.53:5353")]
    [InlineData("2001:db8::53", "[2001:db8::53]:53")]
    [InlineData("[2001:db8::53]:5353", "[2001:db8::53]:5353")]
    public void ServerAddress_Forms_Parse(string text, string expected)
    {
        Assert.True(DnsServerAddress.TryParse(text, out var ep, out var err), err);
        Assert.Equal(expected, DnsServerAddress.Format(ep));
    }

    [SkippableTheory]
    [InlineData("mail.example.com")]
    [InlineData("192.0.2.53:99999")]
    [InlineData("[2001:db8::53")]
    public void ServerAddress_Bad_Error(string text) => Assert.False(DnsServerAddress.TryParse(text, out _, out _));

    [SkippableFact]
    public void ResolvConf_Ipv4AndIpv6Lines_Read()
    {
        string f = Path.GetTempFileName();
        try
        {
            File.WriteAllText(f, "# comment\nsearch example.com\nnameserver 192.0.2.53\nnameserver 2001:db8::53 # v6\nnameserver bogus\noptions edns0\n");
            var list = DnsServerAddress.ReadResolvConf(f);
            Assert.Equal(["192.0.2.53:53", "[2001:db8::53]:53"], list.Select(DnsServerAddress.Format));
        }
        finally { File.Delete(f); }
    }
}
