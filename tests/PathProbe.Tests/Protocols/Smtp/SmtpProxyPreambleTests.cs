using System.Text;
using PathProbe.Protocols.Smtp;
using static PathProbe.Tests.Protocols.Smtp.SmtpScript;

namespace PathProbe.Tests.Protocols.Smtp;

/// <summary>SMTP after a proxy preamble: HTTP CONNECT (RFC 9110 9.3.6), HAProxy PROXY protocol v1/v2
/// (proxy-protocol.txt), SOCKS 4/4a and SOCKS 5 (RFC 1928, RFC 1929). Byte vectors, each fed whole and one byte at a
/// time.</summary>
public sealed class SmtpProxyPreambleTests
{
    private static byte[] Hex(string h) => Convert.FromHexString(h.Replace(" ", ""));
    private static byte[] A(string s) => Encoding.Latin1.GetBytes(s);

    private static readonly byte[] Banner = A("220 mx ESMTP\r\n");
    private static readonly byte[] Dialogue = A("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n");
    private static readonly byte[] Replies = A("250 mx\r\n250 Ok\r\n250 Ok\r\n354 go\r\n");

    /// <summary>Client preamble, server preamble answer, then the dialogue; whole, or one byte per call.</summary>
    private static SmtpSession Run(byte[] clientPreamble, byte[] serverPreamble, bool byteByByte)
    {
        var s = new SmtpSession(T0);
        void C(byte[] b, int t) { if (byteByByte) foreach (var x in b) s.OnClientData([x], T(t)); else s.OnClientData(b, T(t)); }
        void S(byte[] b, int t) { if (byteByByte) foreach (var x in b) s.OnServerData([x], T(t)); else s.OnServerData(b, T(t)); }
        C(clientPreamble, 0);
        if (serverPreamble.Length > 0) S(serverPreamble, 1);
        S(A("220 mx ESMTP\r\n"), 2);
        C(A("EHLO c\r\nMAIL FROM:<a@x>\r\n"), 3);
        S(A("250 mx\r\n250 Ok\r\n"), 4);
        return s;
    }

    public static TheoryData<string, string, string, SmtpProxyKind, string?, string?> Vectors => new()
    {
        {
            "HTTP CONNECT (curl), HTTP/1.0 200 (tinyproxy)",
            "434f4e4e454354206d61696c696e2e6578616d706c652e746573743a323520485454502f312e310d0a486f73743a206d61696c696e2e6578616d706c652e746573743a32350d0a0d0a",
            "485454502f312e302032303020436f6e6e656374696f6e2065737461626c69736865640d0a0d0a",
            SmtpProxyKind.HttpConnect, "mailin.example.test:25", null
        },
        {
            "PROXY v1 TCP4 (proxy-protocol.txt 2.1)",
            "50524f585920544350342031393" + "22e302e322e37203230332e302e3131332e3235203430353132203235" + "0d0a",
            "", SmtpProxyKind.ProxyV1, null, "192.0.2.7:40512"
        },
        {
            "PROXY v1 TCP6",
            Convert.ToHexString(Encoding.ASCII.GetBytes("PROXY TCP6 2001:db8::7 2001:db8::25 40512 25\r\n")),
            "", SmtpProxyKind.ProxyV1, null, "[2001:db8::7]:40512"
        },
        {
            "PROXY v2 PROXY, TCP over IPv4 (proxy-protocol.txt 2.2): sig, 21, 11, len 12, src, dst, ports",
            "0d0a0d0a000d0a515549540a 21 11 000c c0000208 cb007119 9e41 0019",
            "", SmtpProxyKind.ProxyV2, null, "192.0.2.8:40513"
        },
        {
            "PROXY v2 PROXY, TCP over IPv6, with a TLV after the addresses",
            "0d0a0d0a000d0a515549540a 21 21 0028 20010db8000000000000000000000008 20010db8000000000000000000000025 9e41 0019 04 0001 00",
            "", SmtpProxyKind.ProxyV2, null, "[2001:db8::8]:40513"
        },
        {
            "PROXY v2 LOCAL (a health check): no addresses",
            "0d0a0d0a000d0a515549540a 20 00 0000",
            "", SmtpProxyKind.ProxyV2, null, null
        },
        {
            "SOCKS 4 CONNECT 203.0.113.25:25, empty user id; granted (90)",
            "04 01 0019 cb007119 00",
            "00 5a 0019 cb007119",
            SmtpProxyKind.Socks4, "203.0.113.25:25", null
        },
        {
            "SOCKS 4a CONNECT mx.example.test:587, user id 'bob'",
            "04 01 024b 00000001 626f6200 6d782e6578616d706c652e7465737400",
            "00 5a 0000 00000000",
            SmtpProxyKind.Socks4, "mx.example.test:587", null
        },
        {
            "SOCKS 5 (curl): greeting 05 02 00 01, method 00, CONNECT IPv4",
            "05 02 00 01",
            "05 00",
            SmtpProxyKind.Socks5, null, null
        },
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Preamble_ReadThenSmtpDecoded(string what, string clientHex, string serverHex, SmtpProxyKind kind, string? target, string? source)
    {
        _ = what;
        foreach (bool byteByByte in new[] { false, true })
        {
            var s = Run(Hex(clientHex), Hex(serverHex), byteByByte);
            var p = Assert.IsType<SmtpProxy>(s.Proxy);
            Assert.Equal(kind, p.Kind);
            if (kind != SmtpProxyKind.Socks5) Assert.Equal(SmtpProxyState.Established, p.State); // SOCKS 5 needs its request too: below
            Assert.Equal(target, kind == SmtpProxyKind.Socks5 ? null : p.Target);
            Assert.Equal(source, p.Source);
            if (kind == SmtpProxyKind.Socks5) continue;
            Assert.Equal("220 mx ESMTP", s.Banner);
            Assert.True(s.BannerAfterProxy);
            Assert.Equal(["EHLO", "MAIL"], s.Commands.Select(c => c.Verb));
            Assert.Equal(0, s.Anomalies.UnknownCommands + s.Anomalies.UnparsableReplies + s.Anomalies.ProxyPreambleInvalid);
        }
    }

    [Theory]
    [InlineData(false, "05 01 00", "05 00", "05 01 00 01 cb007119 0019", "05 00 00 01 cb007119 adfc", "203.0.113.25:25")]
    [InlineData(false, "05 01 00", "05 00", "05 01 00 03 0f 6d782e6578616d706c652e74657374 0019", "05 00 00 01 00000000 0000", "mx.example.test:25")]
    [InlineData(false, "05 01 00", "05 00", "05 01 00 04 20010db8000000000000000000000025 0019", "05 00 00 04 20010db8000000000000000000000025 0019", "[2001:db8::25]:25")]
    [InlineData(true, "05 01 00", "05 00", "05 01 00 01 cb007119 0019", "05 00 00 01 cb007119 adfc", "203.0.113.25:25")]
    public void Socks5_RequestAndReply_TargetNoted(bool byteByByte, string greeting, string method, string request, string reply, string target)
    {
        var s = new SmtpSession(T0);
        void C(string h, int t) { var b = Hex(h); if (byteByByte) foreach (var x in b) s.OnClientData([x], T(t)); else s.OnClientData(b, T(t)); }
        void S(string h, int t) { var b = Hex(h); if (byteByByte) foreach (var x in b) s.OnServerData([x], T(t)); else s.OnServerData(b, T(t)); }
        C(greeting, 0);
        S(method, 1);
        C(request, 2);
        S(reply, 3);
        s.OnServerData(Banner, T(4));
        s.OnClientData(Dialogue, T(5));
        s.OnServerData(Replies, T(6));
        var p = s.Proxy!;
        Assert.Equal((SmtpProxyKind.Socks5, SmtpProxyState.Established, target, 0), (p.Kind, p.State, p.Target, p.Status));
        Assert.Equal(T(3), p.EstablishedTime);
        Assert.Equal(TimeSpan.FromMilliseconds(1), s.GreetingDelay); // measured from the tunnel, not the TCP connect
        Assert.Equal(["EHLO", "MAIL", "RCPT", "DATA"], s.Commands.Select(c => c.Verb));
        Assert.Equal(SmtpPhase.Data, s.CurrentPhase);
    }

    [Fact]
    public void Socks5UsernamePassword_CredentialsSkippedNeverKept()
    {
        // RFC 1929: VER=1 ULEN "bob" PLEN "secret-pass"; status 0.
        var s = new SmtpSession(T0);
        s.OnClientData(Hex("05 01 02"), T(0));
        s.OnServerData(Hex("05 02"), T(1));
        s.OnClientData([1, 3, .. A("bob"), 11, .. A("secret-pass")], T(2));
        s.OnServerData(Hex("01 00"), T(3));
        s.OnClientData(Hex("05 01 00 01 cb007119 0019"), T(4));
        s.OnServerData(Hex("05 00 00 01 cb007119 adfc"), T(5));
        s.OnServerData(Banner, T(6));
        s.OnClientData(Dialogue, T(7));
        s.OnServerData(Replies, T(8));
        Assert.True(s.Proxy!.Authenticated);
        Assert.Equal(SmtpProxyState.Established, s.Proxy.State);
        Assert.Equal(["EHLO", "MAIL", "RCPT", "DATA"], s.Commands.Select(c => c.Verb));
        string all = Describe(s) + s.Proxy.Target + s.Proxy.Source + s.Proxy.FailureReason;
        Assert.DoesNotContain("secret", all);
        Assert.DoesNotContain("bob", all);
    }

    [Theory]
    [InlineData("CONNECT mx:25 HTTP/1.1\r\n\r\n", "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n", "HTTP 407")]
    [InlineData("CONNECT mx:25 HTTP/1.1\r\n\r\n", "garbage\r\n", "malformed HTTP status line")]
    [InlineData("PROXY TCP4 not-an-address 203.0.113.25 1 25\r\n", "", "malformed PROXY v1 header")]
    [InlineData("PROXY TCP4 192.0.2.7 203.0.113.25 40512 25" + "                                                                                    \r\n", "", "PROXY v1 header over 107 bytes")]
    public void Preamble_Refused_OrMalformed_FailedWithTheReason(string client, string server, string reason)
    {
        var s = new SmtpSession(T0);
        s.OnClientData(A(client), T(0));
        if (server.Length > 0) s.OnServerData(A(server), T(1));
        Assert.Equal(SmtpProxyState.Failed, s.Proxy!.State);
        Assert.Equal(reason, s.Proxy.FailureReason);
        Assert.Equal(1, s.Anomalies.ProxyPreambleInvalid);
        Assert.NotEqual(true, s.BannerAfterProxy);
    }

    [Theory]
    [InlineData("05 01 00", "05 5b", "SOCKS 5: no acceptable authentication method")]
    [InlineData("04 01 0019 cb007119 00", "00 5b 0000 00000000", "SOCKS 4 reply 91")]
    public void Socks_Refused_Failed(string client, string server, string reason)
    {
        var s = new SmtpSession(T0);
        s.OnClientData(Hex(client), T(0));
        s.OnServerData(Hex(server), T(1));
        if (reason.StartsWith("SOCKS 5")) { s.OnClientData(Hex("05 01 00 01 cb007119 0019"), T(2)); s.OnServerData(Hex("05 05 00 01 00000000 0000"), T(3)); }
        Assert.Equal(SmtpProxyState.Failed, s.Proxy!.State);
        Assert.StartsWith(reason.StartsWith("SOCKS 5") ? "SOCKS 5" : reason, s.Proxy.FailureReason);
    }

    [Fact]
    public void TunnelCarriesTls_NotAGreeting()
    {
        var s = new SmtpSession(T0);
        s.OnClientData(A("CONNECT mx:465 HTTP/1.1\r\n\r\n"), T(0));
        s.OnServerData(A("HTTP/1.1 200 OK\r\n\r\n"), T(1));
        s.OnClientData(Hex("16 03 01 00 c8 01"), T(2));
        s.OnServerData(Hex("16 03 03 00 7a 02 00 00 76 03 03"), T(3));
        Assert.Equal(SmtpProxyState.Established, s.Proxy!.State);
        Assert.False(s.BannerAfterProxy);
    }

    [Theory]
    [InlineData("EHLO client.example.net\r\n")]   // an early-talking client: no preamble
    [InlineData("PROXY")]                        // a prefix: decided when more comes
    [InlineData("CONN")]
    public void ClientSpeaksFirstWithoutAPreamble_OrAPrefix_NoProxyYet(string first)
    {
        var s = new SmtpSession(T0);
        s.OnClientData(A(first), T(0));
        Assert.Null(s.Proxy);
    }

    [Fact]
    public void PrefixThenNoSignature_BytesDecodedAsSmtp()
    {
        var s = new SmtpSession(T0);
        s.OnServerData(A("220 mx\r\n"), T(0));
        // Server spoke first: the client's "P..." is a command, never a preamble.
        s.OnClientData(A("P"), T(1));
        s.OnClientData(A("ROXY-NOT\r\nQUIT\r\n"), T(2));
        Assert.Null(s.Proxy);
        Assert.Equal(["PROXY-NOT", "QUIT"], s.Commands.Select(c => c.Verb));
    }

    [Fact]
    public void ServerSpeaksFirst_NoPreambleCheck()
    {
        var s = new SmtpSession(T0);
        s.OnServerData(A("220 mx\r\n"), T(0));
        s.OnClientData(A("PROXY TCP4 192.0.2.7 203.0.113.25 40512 25\r\n"), T(1));
        Assert.Null(s.Proxy);
        Assert.Equal(["PROXY"], s.Commands.Select(c => c.Verb)); // an unknown command, as the server saw it
    }

    [Theory]
    [InlineData("CONNECT x:25 HTTP/1.1\r\n", SmtpProxyKind.HttpConnect)]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", SmtpProxyKind.ProxyV1)]
    public void ProxyPreambleStart_DetectsWholeSignatures(string first, SmtpProxyKind kind) =>
        Assert.Equal(kind, SmtpSession.ProxyPreambleStart(A(first)));

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("CONNEC")]
    [InlineData("EHLO x\r\n")]
    public void ProxyPreambleStart_OtherBytes_Null(string first) => Assert.Null(SmtpSession.ProxyPreambleStart(A(first)));

    [Theory]
    [InlineData("05 01 00", true)]
    [InlineData("05 02 00 01", true)]
    [InlineData("05 01 00 05 01 00 01", true)]   // a request pipelined after a no-auth greeting
    [InlineData("05 00", false)]                  // no methods
    [InlineData("05 01 40", false)]               // method 0x40 is unassigned
    [InlineData("05 01 00 41 42", false)]         // something else follows
    [InlineData("04 01 00 19 cb 00 71 19 00", true)]
    [InlineData("04 02 00 19", false)]            // BIND, not CONNECT
    public void ProxyPreambleStart_Socks(string hex, bool socks) =>
        Assert.Equal(socks, SmtpSession.ProxyPreambleStart(Hex(hex)) is SmtpProxyKind.Socks4 or SmtpProxyKind.Socks5);

    [Fact]
    public void RandomFirstBytes_NeverThrow()
    {
        var rng = new Random(21);
        for (int i = 0; i < 2000; i++)
        {
            var s = new SmtpSession(T0);
            var b = new byte[rng.Next(1, 64)];
            rng.NextBytes(b);
            b[0] = (byte)"CP\r\u0004\u0005"[rng.Next(5)];
            s.OnClientData(b, T(0));
            var r = new byte[rng.Next(0, 64)];
            rng.NextBytes(r);
            s.OnServerData(r, T(1));
            s.OnClientData(b, T(2));
            s.Finish(T(3));
        }
    }
}
