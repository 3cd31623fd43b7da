using System.Text;
using System.Text.Json;
using PathProbe.Analysis.Smtp;
using PathProbe.Findings;
using PathProbe.Findings.Kinds;
using PathProbe.Flows.Tcp;
using PathProbe.Pipeline;
using PathProbe.Protocols.Smtp;
using PathProbe.Reports;

namespace PathProbe.Tests.Analysis.Smtp;

/// <summary>Issue 21 and 13 cases through the engine (decoder, flow table, TCP analysis, stream reassembly, SMTP
/// analysis, reports): SMTP behind proxies on any port, capture gaps, the server's timeout after a stall, and what
/// the Mail section and the JSON say.</summary>
public sealed class SmtpAnalyzerSessionTests
{
    private static (Engine Engine, SmtpFrames Frames) New(ushort serverPort = 25)
    {
        var e = new Engine();
        return (e, new SmtpFrames(e, serverPort));
    }

    private static CaptureAnalysis Complete(Engine e) => e.Complete(new InputSummary { Path = "synthetic" });

    private static string Text(CaptureAnalysis a)
    {
        var w = new StringWriter();
        TextReport.Write(w, new[] { a }, new TextReport.Options { Width = 1000 }); // a mail-log line per transaction, unwrapped
        return w.ToString();
    }

    private static JsonElement Json(CaptureAnalysis a)
    {
        var ms = new MemoryStream();
        JsonReport.Write(ms, new[] { a });
        return JsonDocument.Parse(ms.ToArray()).RootElement;
    }

    private static string MailLine(string report, string contains) =>
        report.Split('\n').Single(l => l.Contains(contains, StringComparison.Ordinal));

    private static void Mail(SmtpFrames f, long t, string finalReply = "250 2.0.0 Ok: queued as 1A2B\r\n")
    {
        f.Server("220 mx.example.test ESMTP\r\n", t);
        f.Client("EHLO client.example.net\r\n", t + 1);
        f.Server("250 mx.example.test\r\n", t + 2);
        f.Client("MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n", t + 3);
        f.Server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n", t + 4);
        f.Client("Subject: x\r\n\r\nhello\r\n.\r\n", t + 5);
        f.Server(finalReply, t + 6);
        f.Client("QUIT\r\n", t + 7);
        f.Server("221 Bye\r\n", t + 8);
        f.Fin();
    }

    [Fact]
    public void HttpConnectOnAnotherPort_SmtpWithTheProxyNoted()
    {
        var (e, f) = New(serverPort: 3128);
        f.Handshake();
        f.Client("CONNECT mailin.example.test:25 HTTP/1.1\r\nHost: mailin.example.test:25\r\n\r\n", 10);
        f.Server("HTTP/1.1 200 Connection established\r\n\r\n", 20);
        Mail(f, 30);
        var a = Complete(e);
        var flow = Assert.Single(a.Flows);
        var s = Assert.IsType<SmtpFlowState>(flow.App);
        Assert.Equal(SmtpDetection.Proxy, s.DetectedBy);
        Assert.Equal("smtp", flow.Application);
        Assert.Equal(SmtpOutcome.Accepted, Assert.Single(s.Session.Transactions).Outcome);
        Assert.Equal((1, 1, 0), ((int)a.Smtp!.Flows, (int)a.Smtp.FlowsBehindProxy, (int)a.Smtp.FlowsByBanner));
        Assert.Contains("via HTTP CONNECT to mailin.example.test:25", MailLine(Text(a), "from <a@example.net>"));
        var smtp = Json(a).GetProperty("flows")[0].GetProperty("smtp");
        Assert.Equal("proxy", smtp.GetProperty("detectedBy").GetString());
        Assert.Equal("http-connect", smtp.GetProperty("proxy").GetProperty("kind").GetString());
        Assert.Equal(200, smtp.GetProperty("proxy").GetProperty("status").GetInt32());
        Assert.Equal(TimeSpan.FromMilliseconds(10), s.Session.GreetingDelay); // from the tunnel's 200, not the TCP connect
    }

    [Fact]
    public void Socks5OnAnotherPort_Smtp()
    {
        var (e, f) = New(serverPort: 1080);
        f.Handshake();
        f.Client(Convert.FromHexString("050100"), 10);
        f.Server(Encoding.Latin1.GetString(Convert.FromHexString("0500")), 11);
        f.Client(Convert.FromHexString("05010001cb0071190019"), 12);
        f.Server(Encoding.Latin1.GetString(Convert.FromHexString("05000001cb007119adfc")), 13);
        Mail(f, 20);
        var a = Complete(e);
        var s = Assert.IsType<SmtpFlowState>(Assert.Single(a.Flows).App);
        Assert.Equal(SmtpProxyKind.Socks5, s.Session.Proxy!.Kind);
        Assert.Equal("203.0.113.25:25", s.Session.Proxy.Target);
        Assert.Equal(SmtpOutcome.Accepted, Assert.Single(s.Session.Transactions).Outcome);
    }

    [Fact]
    public void HttpConnectCarryingTls_NotSmtp_FlowLetGo()
    {
        var (e, f) = New(serverPort: 3128);
        f.Handshake();
        f.Client("CONNECT www.example.test:443 HTTP/1.1\r\n\r\n", 10);
        f.Server("HTTP/1.1 200 Connection established\r\n\r\n", 20);
        f.Client(Convert.FromHexString("160301020001000200"), 30);
        f.Server(Encoding.Latin1.GetString(Convert.FromHexString("160303007a0200007603")), 40);
        var a = Complete(e);
        var flow = Assert.Single(a.Flows);
        Assert.Null(flow.App);
        Assert.Null(flow.Application);
        Assert.Equal(0, a.Smtp!.Flows);
        Assert.DoesNotContain("Mail (", Text(a));
    }

    [Fact]
    public void ProxyV2HeaderOnPort25_DecodedAndTheOriginalClientNoted()
    {
        var (e, f) = New();
        f.Handshake();
        f.Client(Convert.FromHexString("0D0A0D0A000D0A515549540A2111000CC0000207CB0071199E400019"), 5);
        Mail(f, 10);
        var a = Complete(e);
        var s = Assert.IsType<SmtpFlowState>(Assert.Single(a.Flows).App);
        Assert.Equal(SmtpDetection.Port, s.DetectedBy);
        Assert.Equal(("192.0.2.7:40512", "203.0.113.25:25"), (s.Session.Proxy!.Source, s.Session.Proxy.Destination));
        Assert.Equal(0, s.Session.Anomalies.UnknownCommands);
        Assert.Contains("via PROXY protocol v2 from 192.0.2.7:40512", MailLine(Text(a), "from <a@example.net>"));
    }

    [Fact]
    public void BannerWithEscOnAnotherPort_DetectedAndShownEscaped()
    {
        var (e, f) = New(serverPort: 10025);
        f.Handshake();
        f.Server("220\u001b[2J mx.example.test ESMTP\r\n", 10);
        f.Client("QUIT\r\n", 20);
        f.Server("221 Bye\r\n", 30);
        f.Fin();
        var a = Complete(e);
        var s = Assert.IsType<SmtpFlowState>(Assert.Single(a.Flows).App);
        Assert.Equal(SmtpDetection.Banner, s.DetectedBy);
        Assert.Equal("220 \\x1b[2J mx.example.test ESMTP", s.Session.Banner);
        Assert.DoesNotContain('\u001b', Text(a));
    }

    [Fact]
    public void ClientBytesMissingInBdat_AcceptedWithTheGapInTheMailSection()
    {
        var (e, f) = New();
        f.Handshake();
        f.Server("220 mail.example.com ESMTP\r\n", 10);
        f.Client("EHLO sender.example.com\r\n", 11);
        f.Server("250-mail.example.com Hello\r\n250-CHUNKING\r\n250 OK\r\n", 12);
        f.Client("MAIL FROM:<sender@example.com>\r\n", 13);
        f.Server("250 OK\r\n", 14);
        f.Client("RCPT TO:<recipient@example.com>\r\n", 15);
        f.Server("250 OK\r\n", 16);
        f.Client("BDAT 200\r\n", 17);
        f.Server("250 OK\r\n", 18);
        f.Client(new string('A', 100), 19);
        f.ClientMissed(1000);
        f.Client("DATA\r\n", 20);
        f.Server("354 End data with <CR><LF>.<CR><LF>\r\n", 21);
        f.Client("From: sender@example.com\r\nTo: recipient@example.com\r\nSubject: Test\r\n\r\nHello!\r\n.\r\n", 22);
        f.Server("250 OK: message queued\r\n", 23);
        f.Client("QUIT\r\n", 24);
        f.Server("221 Bye\r\n", 25);
        f.Fin();
        var a = Complete(e);
        var s = Assert.IsType<SmtpFlowState>(Assert.Single(a.Flows).App);
        var tx = Assert.Single(s.Session.Transactions);
        Assert.Equal(SmtpOutcome.Accepted, tx.Outcome);
        Assert.Equal(1000, tx.CaptureGapBytes);
        Assert.Equal(0, s.Session.Anomalies.UnknownCommands);
        Assert.DoesNotContain(a.Findings, x => x.Kind == FindingKind.SmtpAborted);
        string line = MailLine(Text(a), "from <sender@example.com>");
        Assert.Contains("accepted 250 OK: message queued; gap in capture: 1,000 B of the client's stream not captured", line);
        Assert.Equal(1000, Json(a).GetProperty("flows")[0].GetProperty("smtp").GetProperty("transactions")[0].GetProperty("captureGapBytes").GetInt32());
    }

    [Fact]
    public void Server421TimeoutAfterAStallInData_ServerTimeoutTiedToTheStall()
    {
        var (e, f) = New();
        f.Handshake();
        f.Server("220 mx.example.test ESMTP Postfix\r\n", 10);
        f.Client("EHLO c\r\n", 20);
        f.Server("250 mx.example.test\r\n", 30);
        f.Client("MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n", 40);
        f.Server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n", 50);
        f.Client("Subject: big\r\n\r\n", 60);
        uint seq = f.ClientSeq;
        long t = 100;
        f.ClientUnacked(1460, atMs: t);                       // never acknowledged: a black hole
        foreach (long gap in new long[] { 200, 400, 800, 1600, 3200 }) f.ClientUnacked(1460, seq, atMs: t += gap);
        f.Server("421 4.4.2 mx.example.test Error: timeout exceeded\r\n", 10_100);
        f.ClientUnacked(1460, seq, atMs: 12_000);
        var a = Complete(e);
        var finding = a.Findings.Single(x => x.Kind == FindingKind.SmtpDeferral);
        var v = finding.Verdict<SmtpFailureVerdict>();
        Assert.Equal("server-timeout", v.Classification);
        Assert.True(v.ServerTimeout);
        Assert.Contains("the server's own timeout, ", finding.Summary);
        Assert.Contains("after the flow stalled in the message data", finding.Summary);
        Assert.Contains("see stall", finding.Summary);
        Assert.DoesNotContain("send slower", finding.Advice);
        // The stall it references is the stall detector's own verdict (one number per fact).
        var stall = Assert.IsType<StallVerdict>(v.StallBefore);
        Assert.Equal(StallKind.RtoBackoff, stall.StallKind);
        Assert.Equal(SmtpPhase.Data, stall.At?.Phase);
        var own = a.Findings.Where(x => x.Kind == FindingKind.Stall).SelectMany(x => x.VerdictsOf<StallVerdict>()).Single(x => x.Start == stall.Start);
        Assert.Equal((own.Start, own.DurationNanos, own.End), (stall.Start, stall.DurationNanos, stall.End));
        var ev = Json(a).GetProperty("findings").EnumerateArray().Single(x => x.GetProperty("kind").GetString() == "smtp-deferral")
            .GetProperty("evidence").GetProperty("flows")[0];
        Assert.Equal("server-timeout", ev.GetProperty("classification").GetString());
        Assert.Equal("rto-backoff", ev.GetProperty("stall").GetProperty("stallKind").GetString());
        Assert.Equal("data", ev.GetProperty("stall").GetProperty("position").GetProperty("phase").GetString());
        Assert.True(ev.GetProperty("stall").GetProperty("beforeReply").GetDouble() > 0);
        var tx = Assert.Single(((SmtpFlowState)a.Flows[0].App!).Session.Transactions);
        Assert.Equal((SmtpOutcome.Deferred, SmtpPhase.Data), (tx.Outcome, tx.EndPhase));
        Assert.Contains("deferred 421 4.4.2 mx.example.test Error: timeout exceeded", MailLine(Text(a), "from <a@example.net>"));
    }

    [Fact]
    public void MultiLineFinalReply_MailSectionShowsTheLineWithTheQueueId_JsonKeepsAllLines()
    {
        var (e, f) = New();
        f.Handshake();
        Mail(f, 10, "250- 4404 byte chunk, total 4404\r\n250 OK id=1lHkUh-008hPw-NY\r\n");
        var a = Complete(e);
        Assert.Contains("accepted 250 OK id=1lHkUh-008hPw-NY", MailLine(Text(a), "from <a@example.net>"));
        var fr = Json(a).GetProperty("flows")[0].GetProperty("smtp").GetProperty("transactions")[0].GetProperty("finalReply");
        Assert.Equal(2, fr.GetProperty("lines").GetInt32());
        Assert.Equal(new[] { " 4404 byte chunk, total 4404", "OK id=1lHkUh-008hPw-NY" }, // Exim's own leading space, kept
            fr.GetProperty("textLines").EnumerateArray().Select(x => x.GetString()));
    }

    [Fact]
    public void Rcpt550Then451_MailSectionSaysOneRejectedOneDeferred()
    {
        var (e, f) = New();
        f.Handshake();
        f.Server("220 mx ESMTP\r\n", 10);
        f.Client("EHLO c\r\n", 11);
        f.Server("250-mx\r\n250 PIPELINING\r\n", 12);
        f.Client("MAIL FROM:<a@example.net>\r\nRCPT TO:<u@example.test>\r\nRCPT TO:<v@example.test>\r\nDATA\r\n", 13);
        f.Server("250 2.1.0 Ok\r\n550 5.1.1 <u@example.test>: Recipient address rejected: User unknown\r\n451 4.3.0 <v@example.test>: Temporary lookup failure\r\n554 5.5.1 Error: no valid recipients\r\n", 14);
        f.Client("QUIT\r\n", 15);
        f.Server("221 Bye\r\n", 16);
        f.Fin();
        var a = Complete(e);
        string line = MailLine(Text(a), "from <a@example.net>");
        Assert.Contains("deferred: 1 recipient rejected 550 5.1.1 <u@example.test>: Recipient address rejected: User unknown; 1 deferred 451 4.3.0 <v@example.test>: Temporary lookup failure", line);
        Assert.DoesNotContain("deferred 550", line);
        var rcpts = Json(a).GetProperty("flows")[0].GetProperty("smtp").GetProperty("transactions")[0].GetProperty("recipients");
        Assert.Equal(new[] { "rejected", "deferred" }, rcpts.EnumerateArray().Select(r => r.GetProperty("outcome").GetString()));
    }

    [Fact]
    public void IssueSequence_ThroughTheEngine_OneAcceptedTransaction()
    {
        var (e, f) = New();
        f.Handshake();
        var steps = PathProbe.Tests.Protocols.Smtp.SmtpStateMachineTests.IssueSequence;
        long t = 10;
        foreach (var st in steps)
        {
            if (st.StartsWith("C:")) f.Client(st[2..], t); else f.Server(st[2..], t);
            t += 10;
        }
        f.Fin();
        var a = Complete(e);
        string line = MailLine(Text(a), "from <bob@example.org>");
        Assert.Contains("to <alice@example.org> (1 recipient)", line);
        Assert.Contains("accepted 250 OK id=1pgobM-001mwq-Vc", line);
        var s = (SmtpFlowState)a.Flows[0].App!;
        Assert.Single(s.Session.Transactions);
    }
}
