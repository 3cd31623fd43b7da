using System.Net;
using System.Net.Sockets;
using PathProbe.Dns;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;
using PathProbe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Tests.Dns;

public class ResolverTests(ITestOutputHelper output)
{
    internal static string BigTxt()
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < 12; i++) sb.Append($"big IN TXT \"{new string((char)('a' + i), 110)}\" \"{new string((char)('A' + i), 110)}\"\n");
        return sb.ToString();
    }

    internal static readonly string Zone = """
        $ORIGIN example.test.
        $TTL 300
        @      IN SOA ns1 hostmaster 1 3600 900 604800 300
        @      IN NS  ns1
        ns1    IN A   127.0.0.1
        @      IN MX  10 mx
        @      IN TXT "v=spf1 ip4:198.51.100.7 -all"
        mx     IN A   203.0.113.25
        mx     IN AAAA 2001:db8:2::25
        alias  IN CNAME mx
        chain  IN CNAME alias
        ext    IN CNAME mx.other.test.

        """ + BigTxt();

    internal static readonly string Other = """
        $ORIGIN other.test.
        $TTL 300
        @  IN SOA ns1.example.test. hostmaster.example.test. 1 3600 900 604800 300
        @  IN NS  ns1.example.test.
        mx IN A   192.0.2.99

        """;

    private NsdServer? Start()
    {
        var nsd = NsdServer.TryStart(new Dictionary<string, string> { ["example.test"] = Zone, ["other.test"] = Other });
        if (nsd is null) throw new SkipException("nsd is not installed (apt-get install nsd; scripts/test.sh does it)");
        return nsd;
    }

    [SkippableFact]
    public async Task Query_Nsd_MxAAaaaTxt()
    {
        using var nsd = Start();
        if (nsd is null) return;
        var r = new UdpTcpResolver(new ResolverOptions { Servers = [nsd.Endpoint], RecursionDesired = false });
        var mx = await r.QueryAsync("example.test", DnsType.MX);
        Assert.Equal(DnsResultStatus.NoError, mx.Status);
        Assert.Equal((10, "mx.example.test"), (mx.Mx.Single().Preference, mx.Mx.Single().Exchange));
        Assert.Equal($"127.0.0.1:{nsd.Port}", mx.Server);
        var a = await r.QueryAsync("MX.example.test.", DnsType.A);
        Assert.Equal(IpAddress.Parse("203.0.113.25"), a.Addresses.Single());
        var aaaa = await r.QueryAsync("mx.example.test", DnsType.AAAA);
        Assert.Equal(IpAddress.Parse("2001:db8:2::25"), aaaa.Addresses.Single());
        var nx = await r.QueryAsync("nope.example.test", DnsType.A);
        Assert.Equal(DnsResultStatus.NxDomain, nx.Status);
        var nodata = await r.QueryAsync("mx.example.test", DnsType.MX);
        Assert.True(nodata.IsNoData);
        var refused = await r.QueryAsync("example.org", DnsType.A);
        Assert.Equal(DnsResultStatus.Refused, refused.Status);

        // Cross-check with dig when installed.
        if (TestPaths.Tool("dig") is { } dig)
        {
            string d = TestPaths.RunTool(dig, "@127.0.0.1", "-p", nsd.Port.ToString(), "+short", "+norecurse", "example.test", "MX");
            Assert.Equal("10 mx.example.test.", d.Trim());
        }
        else output.WriteLine("dig not installed: no cross-check");
    }

    [SkippableFact]
    public async Task Query_BigTxt_TruncatedUdpRetriedOverTcp()
    {
        using var nsd = Start();
        if (nsd is null) return;
        var r = new UdpTcpResolver(new ResolverOptions { Servers = [nsd.Endpoint], RecursionDesired = false });
        var big = await r.QueryAsync("big.example.test", DnsType.TXT);
        Assert.Equal(DnsResultStatus.NoError, big.Status);
        Assert.True(big.RetriedOverTcp);
        Assert.Equal(12, big.Records.Count);
        Assert.True(big.MessageSize > 2700, $"{big.MessageSize}");
        Assert.True(big.TruncatedUdpSize is > 0 and <= 1232, $"{big.TruncatedUdpSize}");
        if (TestPaths.Tool("dig") is { } dig)
        {
            string d = TestPaths.RunTool(dig, "@127.0.0.1", "-p", nsd.Port.ToString(), "+short", "+norecurse", "big.example.test", "TXT");
            Assert.Equal(12, d.Trim().Split('\n').Length);
        }
    }

    [SkippableFact]
    public async Task Query_Cname_ChasedInsideAndAcrossZones()
    {
        using var nsd = Start();
        if (nsd is null) return;
        var r = new UdpTcpResolver(new ResolverOptions { Servers = [nsd.Endpoint], RecursionDesired = false });
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
        using var nsd = Start();
        if (nsd is null) return;
        if (!nsd.HasIpv6) throw new SkipException($"no ::1");
        Assert.True(DnsServerAddress.TryParse($"[::1]:{nsd.Port}", out var ep, out _));
        var r = new UdpTcpResolver(new ResolverOptions { Servers = [ep], RecursionDesired = false });
        var mx = await r.QueryAsync("example.test", DnsType.MX);
        Assert.Equal(DnsResultStatus.NoError, mx.Status);
        Assert.Equal($"[::1]:{nsd.Port}", mx.Server);
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

    // ---- hostile answers from an in-process fake server ----

    /// <summary>A UDP "server" on 127.0.0.1 that answers each query through <paramref name="respond"/>
    /// (which may send from other sockets, or several times).</summary>
    private sealed class FakeServer : IDisposable
    {
        public readonly UdpClient Udp = new(new IPEndPoint(IPAddress.Loopback, 0));
        private readonly CancellationTokenSource _stop = new();
        public IPEndPoint Endpoint => (IPEndPoint)Udp.Client.LocalEndPoint!;

        public FakeServer(Action<UdpClient, IPEndPoint, byte[]> respond)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    while (!_stop.IsCancellationRequested)
                    {
                        var q = await Udp.ReceiveAsync(_stop.Token);
                        respond(Udp, q.RemoteEndPoint, q.Buffer);
                    }
                }
                catch (OperationCanceledException) { }
                catch (ObjectDisposedException) { }
            });
        }

        public void Dispose() { _stop.Cancel(); Udp.Dispose(); }
    }

    /// <summary>The query turned into an answer: QR set, one A record 192.0.2.1 (compressed owner).</summary>
    private static byte[] Answer(byte[] q, ushort? id = null)
    {
        var a = new List<byte>(q[..(q.Length - 11)]); // drop the OPT record
        a[2] = 0x84; a[3] = 0x00; a[7] = 1; a[11] = 0;
        if (id is { } i) { a[0] = (byte)(i >> 8); a[1] = (byte)i; }
        a.AddRange(Convert.FromHexString("c00c000100010000003c0004c0000201"));
        return a.ToArray();
    }

    private static UdpTcpResolver For(IPEndPoint ep, int ms = 400) =>
        new(new ResolverOptions { Servers = [ep], Timeout = TimeSpan.FromMilliseconds(ms), Attempts = 1 });

    [SkippableFact]
    public async Task Hostile_WrongIdThenRight_WrongIgnored()
    {
        using var fake = new FakeServer((u, from, q) =>
        {
            ushort wrong = (ushort)(((q[0] << 8) | q[1]) ^ 0x5555);
            var bad = Answer(q, wrong); u.Send(bad, bad.Length, from);
            var good = Answer(q); u.Send(good, good.Length, from);
        });
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        Assert.Equal(DnsResultStatus.NoError, r.Status);
        Assert.Equal(IpAddress.Parse("192.0.2.1"), r.Addresses.Single());
    }

    [SkippableFact]
    public async Task Hostile_AnswerFromOtherPort_IgnoredUntilTimeout()
    {
        using var other = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        using var fake = new FakeServer((u, from, q) => { var a = Answer(q); other.Send(a, a.Length, from); });
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        Assert.Equal(DnsResultStatus.Timeout, r.Status);
        Assert.Contains("no answer from 127.0.0.1:", r.Error);
    }

    [SkippableFact]
    public async Task Hostile_OtherQuestion_Ignored()
    {
        using var fake = new FakeServer((u, from, q) =>
        {
            var a = Answer(q); a[13] ^= 0x20; // same ID, question name with one letter's case flipped is still ours...
            a[^17] = 0x1c; // ...but type AAAA instead of A is not
            u.Send(a, a.Length, from);
        });
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        Assert.Equal(DnsResultStatus.Timeout, r.Status);
    }

    [SkippableFact]
    public async Task Hostile_CompressionLoop_Malformed()
    {
        using var fake = new FakeServer((u, from, q) =>
        {
            var a = Answer(q);
            int end = a.Length - 16;
            a[end] = 0xC0; a[end + 1] = (byte)end; // the answer's owner points at itself
            u.Send(a, a.Length, from);
        });
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        Assert.Equal(DnsResultStatus.Malformed, r.Status);
        Assert.Contains("PointerLoop", r.Error);
    }

    [SkippableFact]
    public async Task Hostile_TruncatedMessage_Malformed()
    {
        using var fake = new FakeServer((u, from, q) => { var a = Answer(q)[..^6]; u.Send(a, a.Length, from); });
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        Assert.Equal(DnsResultStatus.Malformed, r.Status);
        Assert.Contains("TruncatedRecord", r.Error);
    }

    [SkippableFact]
    public async Task Hostile_Silence_TimeoutAndNoException()
    {
        using var fake = new FakeServer((_, _, _) => { });
        var r = await For(fake.Endpoint, 200).QueryAsync("x.example", DnsType.A);
        Assert.Equal(DnsResultStatus.Timeout, r.Status);
    }

    [SkippableFact]
    public async Task Hostile_TcOverTcpRefused_NetworkError()
    {
        // TC=1 over UDP, and nothing listens on TCP at that port.
        using var fake = new FakeServer((u, from, q) => { var a = Answer(q); a[2] |= 0x02; u.Send(a, a.Length, from); });
        var r = await For(fake.Endpoint).QueryAsync("x.example", DnsType.A);
        Assert.True(r.Status is DnsResultStatus.NetworkError or DnsResultStatus.Timeout, r.Status.ToString());
        Assert.True(r.RetriedOverTcp);
    }

    [SkippableFact]
    public async Task Query_BadName_StatusNotException()
    {
        var r = await For(new IPEndPoint(IPAddress.Loopback, 9)).QueryAsync("a..b", DnsType.A);
        Assert.Equal(DnsResultStatus.BadName, r.Status);
    }
}
