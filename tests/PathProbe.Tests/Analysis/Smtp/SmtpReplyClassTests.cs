using System.Text;
using PathProbe.Analysis.Smtp;
using PathProbe.Protocols.Smtp;
using static PathProbe.Tests.Protocols.Smtp.SmtpScript;

namespace PathProbe.Tests.Analysis.Smtp;

/// <summary>
/// Reply classification read from the whole reply (every line) and the flow: one test per row of the provider table
/// with the provider's real reply as it comes on the wire (multi-line where the provider sends it so), the server's
/// own timeout after a stall, and the words of common MTAs.
/// </summary>
public sealed class SmtpReplyClassTests
{
    /// <summary>Decodes <paramref name="wire"/> (one reply, CRLF lines) as the answer to RCPT, so the classifier
    /// sees exactly what the decoder keeps: code, enhanced code, every line's text.</summary>
    private static SmtpReply Decode(string wire)
    {
        var s = Run("S:220 mx\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:RCPT TO:<b@y>\r\n", "S:" + wire);
        return s.Transactions[0].Recipients[0].Reply!;
    }

    /// <summary>Each provider row, with a reply as the provider sends it (addresses and session ids made generic;
    /// the words are the provider's).</summary>
    public static TheoryData<string, string, SmtpReplyKind> ProviderReplies => new()
    {
        {
            "gmail-4.7.28",
            "421-4.7.28 [198.51.100.10      15] Our system has detected an unusual rate of\r\n" +
            "421-4.7.28 unsolicited mail originating from your IP address. To protect our\r\n" +
            "421-4.7.28 users from spam, mail sent from your IP address has been temporarily\r\n" +
            "421-4.7.28 rate limited. Please visit\r\n" +
            "421-4.7.28  https://support.google.com/mail/?p=UnsolicitedRateLimitError to\r\n" +
            "421 4.7.28 review our Bulk Email Senders Guidelines. d75a77b69052e-4a9a1c2d3e4si123456cf.12 - gsmtp\r\n",
            SmtpReplyKind.RateLimit
        },
        {
            "gmail-4.7.0-try-again-later",
            "421-4.7.0 Try again later, closing connection. (EHLO)\r\n" +
            "421-4.7.0  For more information, go to\r\n" +
            "421 4.7.0  https://support.google.com/a/answer/3221692 5a478bee46e88-2b2d0a1c0e4sm123456eec.12 - gsmtp\r\n",
            SmtpReplyKind.RateLimit
        },
        {
            "gmail-4.2.1-receiving-rate",
            "450-4.2.1 The user you are trying to contact is receiving mail at a rate that\r\n" +
            "450-4.2.1 prevents additional messages from being delivered. Please resend your\r\n" +
            "450-4.2.1 message at a later time. If the user is able to receive mail at that\r\n" +
            "450-4.2.1 time, your message will be delivered. For more information, please\r\n" +
            "450-4.2.1 visit\r\n" +
            "450 4.2.1  https://support.google.com/mail/?p=ReceivingRate 6a1803df08f44-6fd0c6f9e3asi12345676d6.123 - gsmtp\r\n",
            SmtpReplyKind.RecipientRateLimit
        },
        {
            "gmail-5.7.26",
            "550-5.7.26 This mail has been blocked because the sender is unauthenticated.\r\n" +
            "550-5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM.\r\n" +
            "550-5.7.26\r\n" +
            "550-5.7.26  Authentication results:\r\n" +
            "550-5.7.26  DKIM = did not pass\r\n" +
            "550-5.7.26  SPF [example.net] with ip: [198.51.100.10] = did not pass\r\n" +
            "550-5.7.26\r\n" +
            "550-5.7.26  For instructions on setting up authentication, go to\r\n" +
            "550 5.7.26  https://support.google.com/mail/answer/81126#authentication 41be03b00d2f7-b0d1e2f3a4bsi1234567a12.345 - gsmtp\r\n",
            SmtpReplyKind.SenderAuthentication
        },
        {
            "microsoft-4.7.650",
            "451 4.7.650 The mail server [198.51.100.10] has been temporarily rate limited due to IP reputation. " +
            "For e-mail delivery information, see https://postmaster.live.com (S775) [Name=Protocol Filter Agent][AGT=PFA][MxId=11BB4B85E4A3B7D0] " +
            "[BN1NAM02FT012.eop-nam02.prod.protection.outlook.com]\r\n",
            SmtpReplyKind.Reputation
        },
        {
            "microsoft-5.7.606",
            "550 5.7.606 Access denied, banned sending IP [198.51.100.10]. To request removal from this list please visit " +
            "https://sender.office.com/ and follow the directions. For more information please go to " +
            "http://go.microsoft.com/fwlink/?LinkID=526655 (AS16012609)\r\n",
            SmtpReplyKind.Reputation
        },
        {
            "microsoft-s3150",
            "550 5.7.1 Unfortunately, messages from [198.51.100.10] weren't sent. Please contact your Internet service provider " +
            "since part of their network is on our block list (S3150). You can also refer your provider to " +
            "http://mail.live.com/mail/troubleshooting.aspx#errors. [AM5EUR02FT027.eop-EUR02.prod.protection.outlook.com]\r\n",
            SmtpReplyKind.Reputation
        },
        {
            "yahoo-tss04",
            "421 4.7.0 [TSS04] Messages from 198.51.100.10 temporarily deferred due to unexpected volume or user complaints - " +
            "4.16.55.1; see https://postmaster.yahooinc.com/error-codes\r\n",
            SmtpReplyKind.Reputation
        },
    };

    [Theory]
    [MemberData(nameof(ProviderReplies))]
    public void ProviderRow_RealReplyText_ClassifiedByItsRow(string rowId, string wire, SmtpReplyKind kind)
    {
        var reply = Decode(wire);
        var meaning = SmtpReplyClass.Classify(reply);
        Assert.Equal(kind, meaning.Kind);
        Assert.Equal(rowId, meaning.Rule?.Id);
        Assert.Equal(SmtpReplyClass.Name(kind), meaning.Class);
    }

    [Fact]
    public void ProviderTable_EveryRowHasATestWithTheProvidersText()
    {
        var tested = ProviderReplies.Select(row => (string)row[0]).ToHashSet();
        Assert.Equal(SmtpReplyClass.ProviderRules.Select(r => r.Id).OrderBy(x => x), tested.OrderBy(x => x));
    }

    [Fact]
    public void GmailTryAgainLater_WasReverseDnsBecauseOfEhlo_NowRateLimit()
    {
        // Issue 13: "(EHLO)" names the stage Gmail refused at; it says nothing about the client's HELO name.
        var m = SmtpReplyClass.Classify(421, "4.7.0", "Try again later, closing connection. (EHLO) 5a478bee46e88-2b2d0a1c0e4sm123456eec.12 - gsmtp");
        Assert.Equal(SmtpReplyKind.RateLimit, m.Kind);
    }

    [Fact]
    public void GmailReceivingRate_KeyWordsOnTheFirstLine_OnlyTheWholeTextHasThemAll()
    {
        // The rate words are on line 1, "gsmtp" on the last: the whole text is read, not one line.
        var reply = Decode("450-4.2.1 The user you are trying to contact is receiving mail at a rate that\r\n450 4.2.1 prevents additional messages from being delivered. - gsmtp\r\n");
        Assert.Equal(2, reply.TextLines.Count);
        Assert.Equal("prevents additional messages from being delivered. - gsmtp", reply.TextLines[1]); // the repeated 4.2.1 is dropped
        Assert.Equal(SmtpReplyKind.RecipientRateLimit, SmtpReplyClass.Classify(reply).Kind);
    }

    [Fact]
    public void KeyWordOnlyOnALaterLine_ClassifiedFromTheWholeReply()
    {
        var reply = Decode("550-5.7.1 Service unavailable, Client host [198.51.100.10] blocked\r\n550 5.7.1 using zen.spamhaus.org; https://www.spamhaus.org/query/ip/198.51.100.10\r\n");
        Assert.Equal("Service unavailable, Client host [198.51.100.10] blocked", reply.Text);
        Assert.Equal(SmtpReplyKind.Reputation, SmtpReplyClass.Classify(reply).Kind);
    }

    [Theory]
    [InlineData(421, "4.4.2", "mx.example.test Error: timeout exceeded", false, false)]   // Postfix smtpd_timeout
    [InlineData(421, null, "mx.example.test SMTP incoming data timeout - closing connection.", false, false)] // Exim
    [InlineData(451, "4.4.1", "timeout waiting for input during message collect", false, false)]             // Sendmail
    [InlineData(421, "4.4.2", "mx.example.test Error: connection lost", true, false)]     // 4.4.x while the data came
    [InlineData(421, "4.4.2", "mx.example.test Error: connection lost", false, true)]     // 4.4.x after the flow stalled
    public void ServerTimeout_ItsOwnClass_NotRateLimit(int code, string? enhanced, string text, bool duringData, bool afterStall)
    {
        var m = SmtpReplyClass.Classify(code, enhanced, text, new SmtpReplyContext { DuringData = duringData, AfterStall = afterStall });
        Assert.Equal(SmtpReplyKind.ServerTimeout, m.Kind);
        Assert.Equal("server-timeout", m.Class);
        Assert.DoesNotContain("send slower", m.Explanation);
    }

    [Fact]
    public void FourFourTwo_WithoutTimeoutWordsOrFlowContext_NotServerTimeout() =>
        Assert.NotEqual(SmtpReplyKind.ServerTimeout, SmtpReplyClass.Classify(421, "4.4.2", "mx.example.test Error: connection lost").Kind);

    [Theory]
    [InlineData("220\u001b[31m mx.example.test ESMTP\r\n", "220 \\x1b[31m mx.example.test ESMTP")]
    [InlineData("220\u0007bell\r\n", "220 \\x07bell")]
    public void BannerWithAControlCharacterAfterTheCode_StillTheGreeting_Escaped(string banner, string shown)
    {
        var s = Run("S:" + banner, "C:EHLO c\r\n", "S:250 mx\r\n");
        Assert.Equal(220, s.Greeting!.Code);
        Assert.Equal(shown, s.Banner);
        Assert.Equal(1, s.Anomalies.OddReplySeparators);
        Assert.Equal(250, s.Commands[0].Reply!.Code);
        Assert.True(SmtpAnalyzer.IsBanner(Encoding.Latin1.GetBytes(banner)));
    }

    [Fact]
    public void MultiLineReply_LinesBounded()
    {
        var wire = new StringBuilder();
        for (int i = 0; i < 100; i++) wire.Append("550-5.7.1 line ").Append(i).Append("\r\n");
        wire.Append("550 5.7.1 last\r\n");
        var reply = Decode(wire.ToString());
        Assert.Equal(101, reply.Lines);
        Assert.Equal(PathProbe.Protocols.Smtp.SmtpLimits.Default.MaxReplyLines, reply.TextLines.Count);
        Assert.Equal(101 - reply.TextLines.Count, reply.LinesNotKept);
    }

    [Fact]
    public void OutcomeText_TwoXxShowsTheLastLine_RefusalsTheWholeText()
    {
        // Exim after BDAT LAST: the queue id is on the last line.
        var ok = Decode("250- 4404 byte chunk, total 4404\r\n250 OK id=1lHkUh-008hPw-NY\r\n");
        Assert.Equal("OK id=1lHkUh-008hPw-NY", ok.OutcomeText);
        var refused = Decode("550-5.7.1 first part\r\n550 5.7.1 second part\r\n");
        Assert.Equal("first part second part", refused.OutcomeText);
    }
}
