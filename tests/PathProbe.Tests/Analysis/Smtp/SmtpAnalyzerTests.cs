using System.Text;
using System.Text.Json;
using PathProbe.Analysis.Smtp;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Reports;

namespace PathProbe.Tests.Analysis.Smtp;

/// <summary>SMTP analysis on hand-built connections through the engine: detection, ends, findings, bounds,
/// hostile text.</summary>
public sealed class SmtpAnalyzerTests
{
    private static (Engine Engine, SmtpFrames Frames) New(ushort serverPort = 25, AnalysisOptions? options = null, ushort clientPort = 40000)
    {
        var e = new Engine(options);
        return (e, new SmtpFrames(e, serverPort, clientPort));
    }

    private static CaptureAnalysis Complete(Engine e) => e.Complete(new InputSummary { Path = "synthetic" });

    /// <summary>Greeting, EHLO, MAIL, one RCPT, DATA and 354, at 10 ms steps.</summary>
    private static void UpToData(SmtpFrames f, string ehloReply = "250-mx.example.test\r\n250-PIPELINING\r\n250 SIZE 10000000\r\n")
    {
        f.Handshake();
        f.Server("220 mx.example.test ESMTP\r\n", 10);
        f.Client("EHLO client.example.net\r\n", 20);
        f.Server(ehloReply, 30);
        f.Client("MAIL FROM:<a@example.net>\r\n", 40);
        f.Server("250 2.1.0 Ok\r\n", 50);
        f.Client("RCPT TO:<b@example.test>\r\n", 60);
        f.Server("250 2.1.5 Ok\r\n", 70);
        f.Client("DATA\r\n", 80);
        f.Server("354 go ahead\r\n", 90);
    }

    private static List<Finding> Smtp(CaptureAnalysis a) => a.Findings.Where(x => x.Name.StartsWith("smtp-")).ToList();

    private static object? Ev(Finding f, string key) => PathProbe.Tests.Support.FindingJson.Value(PathProbe.Tests.Support.FindingJson.Ev(f, key));

    [Fact]
    public void Engine_CompleteMail_AcceptedAndNoFindings()
    {
        var (e, f) = New();
        UpToData(f);
        f.Client("Subject: x\r\n\r\nhello\r\n..dot\r\n.\r\n", 100);
        f.Server("250 2.0.0 Ok: queued as ABC\r\n", 110);
        f.Client("QUIT\r\n", 120);
        f.Server("221 2.0.0 Bye\r\n", 130);
        f.Fin();
        var a = Complete(e);
        var s = Assert.IsType<SmtpFlowState>(Assert.Single(a.Flows).App);
        var tx = Assert.Single(s.Session.Transactions);
        Assert.Equal(PathProbe.Protocols.Smtp.SmtpOutcome.Accepted, tx.Outcome);
        Assert.Equal("Subject: x\r\n\r\nhello\r\n.dot\r\n".Length, tx.MessageBytes);
        Assert.Equal(SmtpConnectionEnd.Closed, s.End);
        Assert.Empty(Smtp(a));
        Assert.Equal(1, a.Smtp!.Flows);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void Engine_SmtpOrTcpAnalysisOff_NoSmtpStateStatsOrJson(bool tcpAnalysis, bool smtpEnabled)
    {
        var (e, f) = New(options: new AnalysisOptions { TcpAnalysis = tcpAnalysis, Smtp = new SmtpOptions { Enabled = smtpEnabled } });
        UpToData(f);
        f.Reset(fromClient: false, 200);
        var a = Complete(e);
        Assert.Null(a.Smtp);
        Assert.Null(Assert.Single(a.Flows).App);
        Assert.Empty(Smtp(a));
        var json = new MemoryStream();
        JsonReport.Write(json, new[] { a });
        var root = JsonDocument.Parse(json.ToArray()).RootElement;
        Assert.False(root.GetProperty("stats").TryGetProperty("smtp", out _));
        Assert.False(root.GetProperty("flows")[0].TryGetProperty("smtp", out _));
    }

    [Fact]
    public void Engine_ResetByServerMidData_AbortedCriticalWithThePhase()
    {
        var (e, f) = New();
        UpToData(f);
        f.Client(new string('x', 1000) + "\r\n", 100);
        f.Reset(fromClient: false, 200);
        var a = Complete(e);
        var finding = Assert.Single(Smtp(a));
        Assert.Equal("smtp-aborted", finding.Name);
        Assert.Equal(Severity.Critical, finding.Severity);
        var v = finding.Verdict<PathProbe.Findings.Kinds.SmtpAbortedVerdict>();
        Assert.Equal(PathProbe.Protocols.Smtp.SmtpPhase.Data, v.Position.Phase);
        Assert.Equal("reset", Ev(finding, "tcpEnd"));
        Assert.Equal(1002L, v.Flows[0].Message(v.Position.Transaction)!.Value.Bytes);
        Assert.Contains("DATA after 354 (transaction 1, 1,002 B of the message sent)", finding.Summary);
        Assert.Contains("reset by the server", finding.Summary);
    }

    [Fact]
    public void Engine_CaptureEndsWhileSending_IncompleteIsInfoOnly()
    {
        var (e, f) = New();
        UpToData(f);
        f.Client("partial body\r\n", 100);
        var a = Complete(e);
        var finding = Assert.Single(Smtp(a));
        Assert.Equal("smtp-aborted", finding.Name);
        Assert.Equal(Severity.Info, finding.Severity);
        Assert.Equal("capture-ended", Ev(finding, "tcpEnd"));
        Assert.Contains("still in progress when the capture ended", finding.Summary);
    }

    [Fact]
    public void Engine_StallInDataAtTheEnd_AbortedCarriesTheRetransmissionSeries()
    {
        var (e, f) = New();
        UpToData(f);
        uint seq = f.ClientSeq;
        // A full-size segment that is never acknowledged, resent with RTO back-off until the capture ends.
        long t = 100;
        f.ClientUnacked(1460, atMs: t);
        foreach (long gap in new long[] { 200, 400, 800, 1600, 3200 }) f.ClientUnacked(1460, seq, atMs: t += gap);
        var a = Complete(e);
        var finding = a.Findings.Single(x => x.Name == "smtp-aborted");
        Assert.Equal(Severity.Critical, finding.Severity);
        Assert.Equal("stalled", Ev(finding, "tcpEnd"));
        var stall = finding.Verdict<PathProbe.Findings.Kinds.SmtpAbortedVerdict>().Stall!;
        Assert.Equal(PathProbe.Flows.Tcp.StallKind.RtoBackoff, stall.StallKind);
        Assert.Equal(5, stall.Series!.Resends);
        Assert.Equal(1500, stall.Series.IpPacketSize);
        Assert.Contains("MTU/MRU black hole", finding.Advice);
        // One number per fact: smtp-aborted holds the stall detector's own verdict.
        var tcpStall = a.Findings.Single(x => x.Name == "stall").Verdict<PathProbe.Findings.Kinds.StallVerdict>();
        Assert.Equal(tcpStall with { Flows = stall.Flows }, stall); // the flow's numbers were refreshed when it closed
    }

    [Fact]
    public void Engine_SlowGreeting_SlowReplyFindingAboveThresholdOnly()
    {
        foreach (var (greetMs, expected) in new[] { (12_000L, true), (5_000L, false) })
        {
            var (e, f) = New();
            f.Handshake();
            f.Server("220 mx.example.test ESMTP\r\n", greetMs);
            f.Client("QUIT\r\n", greetMs + 10);
            f.Server("221 Bye\r\n", greetMs + 20);
            f.Fin();
            var a = Complete(e);
            var slow = a.Findings.Where(x => x.Name == "smtp-slow-reply").ToList();
            if (!expected) { Assert.Empty(slow); continue; }
            var finding = Assert.Single(slow);
            Assert.Equal(Severity.Warning, finding.Severity);
            Assert.Equal("greeting", Ev(finding, "slowest"));
            Assert.Equal(12.0, Convert.ToDouble(Ev(finding, "duration")), 3);
            Assert.Contains("took 12 s to send its greeting (threshold 10 s)", finding.Summary);
            Assert.Contains("reverse-DNS", finding.Advice);
        }
    }

    [Fact]
    public void Engine_SlowRcptReply_ReportedWithTheCommand()
    {
        var (e, f) = New();
        f.Handshake();
        f.Server("220 mx ESMTP\r\n", 10);
        f.Client("EHLO c\r\n", 20);
        f.Server("250 mx\r\n", 30);
        f.Client("MAIL FROM:<a@x>\r\n", 40);
        f.Server("250 ok\r\n", 50);
        f.Client("RCPT TO:<b@y>\r\n", 60);
        f.Server("250 ok\r\n", 45_060);
        f.Client("QUIT\r\n", 45_070);
        f.Server("221 bye\r\n", 45_080);
        f.Fin();
        var finding = Complete(e).Findings.Single(x => x.Name == "smtp-slow-reply");
        Assert.Equal("RCPT", Ev(finding, "slowest"));
        Assert.Contains("took 45 s to answer RCPT (threshold 30 s)", finding.Summary);
    }

    [Fact]
    public void Engine_GreylistedRecipient_DeferralClassifiedAsGreylisting()
    {
        var (e, f) = New();
        f.Handshake();
        f.Server("220 mx ESMTP\r\n", 10);
        f.Client("EHLO c\r\n", 20);
        f.Server("250 mx\r\n", 30);
        f.Client("MAIL FROM:<a@x>\r\n", 40);
        f.Server("250 2.1.0 Ok\r\n", 50);
        f.Client("RCPT TO:<b@y>\r\n", 60);
        f.Server("450 4.7.1 <b@y>: Recipient address rejected: Greylisted, see http://postgrey.example/\r\n", 70);
        f.Client("QUIT\r\n", 80);
        f.Server("221 Bye\r\n", 90);
        f.Fin();
        var a = Complete(e);
        var finding = Assert.Single(Smtp(a));
        Assert.Equal("smtp-deferral", finding.Name);
        Assert.Equal("greylisting", Ev(finding, "classification"));
        Assert.Contains("deferred a recipient (TO:<b@y>): 450 4.7.1 <b@y>: Recipient address rejected: Greylisted", finding.Summary);
        var tx = Assert.Single(((SmtpFlowState)a.Flows[0].App!).Session.Transactions);
        Assert.Equal(PathProbe.Protocols.Smtp.SmtpOutcome.Deferred, tx.Outcome);
    }

    [Fact]
    public void Engine_552ToMailFromSize_ComparesDeclaredSizeWithAdvertisedLimit()
    {
        var (e, f) = New();
        f.Handshake();
        f.Server("220 mx ESMTP\r\n", 10);
        f.Client("EHLO c\r\n", 20);
        f.Server("250-mx\r\n250 SIZE 10000000\r\n", 30);
        f.Client("MAIL FROM:<a@x> SIZE=712000000\r\n", 40);
        f.Server("552 5.3.4 Message size exceeds fixed limit\r\n", 50);
        f.Client("QUIT\r\n", 60);
        f.Server("221 Bye\r\n", 70);
        f.Fin();
        var finding = Assert.Single(Smtp(Complete(e)));
        Assert.Equal("smtp-reject", finding.Name);
        Assert.Equal("size", Ev(finding, "classification"));
        Assert.Equal(712_000_000, Ev(finding, "declaredSize"));
        Assert.Equal(10_000_000, Ev(finding, "advertisedSizeLimit"));
        Assert.Contains("552 5.3.4 Message size exceeds fixed limit; the message 712 MB (SIZE= in MAIL FROM) exceeds the advertised SIZE 10 MB", finding.Summary);
    }

    [Fact]
    public void Engine_BannerOnAnotherPort_DecodedAsSmtp()
    {
        var (e, f) = New(serverPort: 10025);
        f.Handshake();
        f.Server("220 filter.example ESMTP\r\n", 10);
        f.Client("EHLO c\r\n", 20);
        f.Server("250 filter.example\r\n", 30);
        var a = Complete(e);
        var flow = Assert.Single(a.Flows);
        var s = Assert.IsType<SmtpFlowState>(flow.App);
        Assert.True(s.ByBanner);
        Assert.Equal("smtp", flow.Application);
        Assert.Equal("c", s.Session.EhloName);
        Assert.Equal(1, a.Smtp!.FlowsByBanner);
    }

    [Theory]
    [InlineData(true, "220 looks like a banner but the client said it\r\n")]
    [InlineData(false, "HTTP/1.1 200 OK\r\n")]
    [InlineData(false, "2200 not a reply code\r\n")]
    public void Engine_OtherPortWithoutServerBanner_NotSmtp(bool clientSpeaks, string text)
    {
        var (e, f) = New(serverPort: 8080);
        f.Handshake();
        if (clientSpeaks) { f.Client(text, 10); f.Server("220 late\r\n", 20); }
        else f.Server(text, 10);
        var a = Complete(e);
        Assert.Null(Assert.Single(a.Flows).App);
        Assert.Equal(0, a.Smtp!.Flows);
    }

    [Fact]
    public void Engine_MoreConcurrentSessionsThanTheCap_CountedNotDecoded()
    {
        var options = new AnalysisOptions { Smtp = new SmtpOptions { MaxConcurrentFlows = 1 } };
        var e = new Engine(options);
        var first = new SmtpFrames(e, 25, 40000);
        var second = new SmtpFrames(e, 25, 40001);
        var third = new SmtpFrames(e, 25, 40002);
        first.Handshake();
        second.Handshake(); // while the first is open: not decoded
        first.Server("220 a\r\n", 10);
        first.Client("QUIT\r\n", 20);
        first.Server("221 bye\r\n", 30);
        first.Fin();        // the first session closed: its slot is free again
        third.Handshake();
        third.Server("220 c\r\n", 40);
        var a = Complete(e);
        Assert.Equal(2, a.Smtp!.Flows);
        Assert.Equal(1, a.Smtp.FlowsNotDecoded);
        Assert.Null(a.Flows.Single(x => x.ClientPort == 40001).App);
        Assert.NotNull(a.Flows.Single(x => x.ClientPort == 40002).App);
    }

    [Fact]
    public void Engine_OutOfOrderBytesOverTheStreamBudget_DirectionAbandonedAndCounted()
    {
        var options = new AnalysisOptions { Smtp = new SmtpOptions { StreamBudgetBytes = 1000 } };
        var (e, f) = New(options: options);
        UpToData(f);
        f.ClientUnacked(1400, seq: f.ClientSeq + 2000, atMs: 100); // beyond a hole: must be buffered, over the budget
        var a = Complete(e);
        Assert.True(a.Smtp!.BudgetRefusals >= 1);
        Assert.Equal(1, a.Smtp.StreamsAbandoned);
        var s = Assert.IsType<SmtpFlowState>(Assert.Single(a.Flows).App);
        Assert.NotNull(s.Session.ClientAbandoned);
        var text = new StringWriter();
        TextReport.Write(text, new[] { a }, new TextReport.Options { Width = 1000 });
        Assert.Contains("1 stream directions given up at a reassembly bound", text.ToString());
    }

    [Fact]
    public void Engine_HostileEhloAndReplyText_NoControlCharacterReachesTheReports()
    {
        var (e, f) = New();
        f.Handshake();
        f.Server("220 mx\u001b]0;owned\u0007.example ESMTP\r\n", 10);
        f.Client("EHLO \u001b[31mevil\u001b[0m.example\r\n", 20);
        f.Server("250 mx\r\n", 30);
        f.Client("MAIL FROM:<\u001b[2Ja@x>\r\n", 40);
        f.Server("550 5.7.1 \u001b[5mblocked\u009b31m\r\n", 50);
        f.Client("QUIT\r\n", 60);
        f.Server("221 bye\r\n", 70);
        f.Fin();
        var a = Complete(e);

        var text = new StringWriter();
        TextReport.Write(text, new[] { a });
        var json = new MemoryStream();
        JsonReport.Write(json, new[] { a });
        string report = text.ToString();
        Assert.Contains("Mail: 1 SMTP session, 1 transaction", report);
        Assert.Contains("\\x1b[2Ja@x", report); // shown escaped
        Assert.Contains(a.Findings, x => x.Name == "smtp-reject");
        foreach (char c in report)
            Assert.False(c < 0x20 && c is not '\n' || c is >= '\u007f' and < '\u00a0', $"control character U+{(int)c:X4} in the text report");

        var smtp = JsonDocument.Parse(json.ToArray()).RootElement.GetProperty("flows")[0].GetProperty("smtp");
        string all = smtp.GetRawText() + JsonDocument.Parse(json.ToArray()).RootElement.GetProperty("findings").GetRawText();
        Assert.DoesNotContain("\\u001B", all, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("\\u0007", all);
        Assert.DoesNotContain("\\u009B", all, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("\\x1b[31mevil\\x1b[0m.example", smtp.GetProperty("ehloName").GetString());
    }

    [Fact]
    public void Engine_RandomBytesOnSmtpPort_NeverThrows()
    {
        var rng = new Random(5);
        for (int round = 0; round < 50; round++)
        {
            var (e, f) = New();
            f.Handshake();
            for (int i = 0; i < 20; i++)
            {
                var b = new byte[rng.Next(0, 300)];
                rng.NextBytes(b);
                if (rng.Next(3) == 0) f.Server(Encoding.Latin1.GetString(b), i * 10);
                else f.Client(b, i * 10);
            }
            if (rng.Next(2) == 0) f.Reset(rng.Next(2) == 0);
            var a = Complete(e);
            var sw = new StringWriter();
            TextReport.Write(sw, new[] { a });
            JsonReport.Write(new MemoryStream(), new[] { a });
        }
    }

    [Theory]
    [InlineData(421, "4.7.0", "mx.example Error: too many connections from 192.0.2.1", "rate-limit")]
    [InlineData(421, "4.7.28", "Our system has detected an unusual rate of unsolicited mail", "rate-limit")]
    [InlineData(450, "4.7.1", "Client host rejected: cannot find your hostname, [192.0.2.1]", "reverse-dns")]
    [InlineData(450, "4.7.1", "Recipient address rejected: Greylisted for 300 seconds", "greylisting")]
    [InlineData(451, "4.7.1", "Service unavailable: sender IP has a poor reputation", "reputation")]
    [InlineData(421, "4.7.0", "Message deferred: sender not seen before", "reputation")]
    [InlineData(554, "5.7.1", "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", "reputation")]
    [InlineData(552, "5.3.4", "Error: message file too big", "size")]
    [InlineData(552, null, "Requested mail action aborted: exceeded storage allocation", "size")]
    [InlineData(552, "5.2.2", "<x@example.test>: mailbox full", "mailbox")]
    [InlineData(550, "5.4.5", "Daily user sending quota exceeded", "rate-limit")]
    [InlineData(550, "5.1.1", "<x@example.test>: Recipient address rejected: User unknown", "address")]
    [InlineData(554, "5.7.1", "<x@example.test>: Relay access denied", "relay-denied")]
    [InlineData(535, "5.7.8", "Error: authentication failed", "authentication")]
    [InlineData(503, "5.5.1", "Error: send HELO/EHLO first", "protocol")]
    [InlineData(452, "4.3.1", "Insufficient system storage", "server-resources")]
    [InlineData(550, "5.7.26", "This mail has been blocked because the sender is unauthenticated (DMARC)", "sender-authentication")]
    [InlineData(451, null, "Temporary local problem", "other")]
    public void Classify_ReplyTexts_MeaningForTheAdmin(int code, string? enhanced, string text, string expected) =>
        Assert.Equal(expected, SmtpReplyClass.Classify(code, enhanced, text).Class);
}
