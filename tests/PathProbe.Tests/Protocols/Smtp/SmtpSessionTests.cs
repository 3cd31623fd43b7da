using System.Text;
using PathProbe.Protocols.Smtp;
using static PathProbe.Tests.Protocols.Smtp.SmtpScript;

namespace PathProbe.Tests.Protocols.Smtp;

public sealed class SmtpSessionTests
{
    internal static readonly string[] Plain =
    [
        "S:220 mx.example.test ESMTP Postfix\r\n",
        "C:EHLO client.example.net\r\n",
        "S:250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN\r\n250-X-FOO bar\r\n250 CHUNKING\r\n",
        "C:MAIL FROM:<sender@example.net> SIZE=42 BODY=8BITMIME\r\n",
        "S:250 2.1.0 Ok\r\n",
        "C:RCPT TO:<rcpt@example.test> NOTIFY=NEVER\r\n",
        "S:250 2.1.5 Ok\r\n",
        "C:DATA\r\n",
        "S:354 End data with <CR><LF>.<CR><LF>\r\n",
        "C:Subject: hi\r\n\r\nline one\r\n..dotted\r\n.\r\n",
        "S:250 2.0.0 Ok: queued as ABC\r\n",
        "C:QUIT\r\n",
        "S:221 2.0.0 Bye\r\n",
    ];

    [Fact]
    public void Plain_Session_AllDecoded()
    {
        var s = Run(Plain);
        Assert.Equal("220 mx.example.test ESMTP Postfix", s.Banner);
        Assert.Equal(TimeSpan.FromMilliseconds(1), s.GreetingDelay);
        Assert.Equal("client.example.net", s.EhloName);
        Assert.Equal(["EHLO", "MAIL", "RCPT", "DATA", ".", "QUIT"], s.Commands.Select(c => c.Verb));
        Assert.Equal([250, 250, 250, 354, 250, 221], s.Commands.Select(c => c.Reply!.Code));
        Assert.Equal("FROM:<sender@example.net> SIZE=42 BODY=8BITMIME", s.Commands[1].Argument);
        Assert.Equal(TimeSpan.FromMilliseconds(1), s.Commands[1].Latency);

        var tx = Assert.Single(s.Transactions);
        Assert.Equal("sender@example.net", tx.Sender);
        Assert.Equal(42, tx.DeclaredSize);
        Assert.Equal("8BITMIME", tx.Body);
        Assert.Equal("NOTIFY=NEVER", tx.Recipients[0].Parameters);
        Assert.Equal("2.1.5", tx.Recipients[0].EnhancedCode);
        // "Subject: hi\r\n" 13 + "\r\n" 2 + "line one\r\n" 10 + ".dotted\r\n" 9 (stuffed dot removed)
        Assert.Equal(34, tx.MessageBytes);
        Assert.Equal(SmtpOutcome.Accepted, tx.Outcome);
        Assert.Equal("2.0.0", tx.FinalReply!.EnhancedCode);
        Assert.Equal("Ok: queued as ABC", tx.FinalReply.Text);
        Assert.Equal(TimeSpan.FromMilliseconds(3), tx.DataDuration); // DATA at step 7, final at step 10
        Assert.Equal(SmtpPhase.Quit, s.CurrentPhase);
        Assert.Equal(0, s.Anomalies.BareLfLines + s.Anomalies.UnparsableReplies + s.Anomalies.RepliesWithoutCommand);
    }

    [Fact]
    public void Ehlo_MultiLineReply_CapabilitiesParsed()
    {
        var c = Run(Plain).Capabilities!;
        Assert.True(c.Pipelining);
        Assert.True(c.Chunking);
        Assert.True(c.EightBitMime);
        Assert.True(c.EnhancedStatusCodes);
        Assert.False(c.StartTls);
        Assert.False(c.SmtpUtf8);
        Assert.Equal(10240000, c.SizeLimit);
        Assert.Equal(["PLAIN", "LOGIN"], c.AuthMechanisms);
        Assert.Equal(["X-FOO"], c.Other);
        Assert.Equal(9, Run(Plain).Commands[0].Reply!.Lines);
    }

    [Theory]
    [InlineData("250 SIZE\r\n", 0)]
    [InlineData("250 SIZE 0\r\n", 0)]
    [InlineData("250 size 52428800\r\n", 52428800)]
    [InlineData("250 SIZE junk\r\n", 0)]
    [InlineData("250 8BITMIME\r\n", -1)]
    public void Ehlo_SizeKeyword_LimitParsed(string lastLine, long limit)
    {
        var s = Run("S:220 x\r\n", "C:EHLO a\r\n", "S:250-x\r\n" + lastLine);
        Assert.Equal(limit, s.Capabilities!.SizeLimit);
    }

    [Fact]
    public void Pipelining_ThreeRecipientsInOneSegment_PairedInOrder()
    {
        var s = Run(
            "S:220 x ESMTP\r\n", "C:EHLO a\r\n", "S:250-x\r\n250 PIPELINING\r\n",
            "C:MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\nRCPT TO:<d@y>\r\nDATA\r\n",
            "S:250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <c@y>: Recipient address rejected\r\n250 2.1.5 Ok\r\n354 go ahead\r\n",
            "C:hello\r\n.\r\n", "S:250 2.0.0 queued\r\n");
        var tx = Assert.Single(s.Transactions);
        Assert.Equal(["b@y", "c@y", "d@y"], tx.Recipients.Select(r => r.Address));
        Assert.Equal([250, 550, 250], tx.Recipients.Select(r => r.ReplyCode));
        Assert.Equal("5.1.1", tx.Recipients[1].EnhancedCode);
        Assert.Equal(2, tx.RecipientsAccepted);
        Assert.Equal(1, tx.RecipientsRejected);
        Assert.Equal(354, s.Commands.Single(c => c.Verb == "DATA").Reply!.Code);
        Assert.Equal(SmtpOutcome.Accepted, tx.Outcome);
        Assert.Equal(7, tx.MessageBytes);
    }

    [Fact]
    public void Data_552MessageTooBig_Rejected()
    {
        var s = Run("S:220 x\r\n", "C:MAIL FROM:<a@x> SIZE=99999999\r\n", "S:250 2.1.0 Ok\r\n", "C:RCPT TO:<b@y>\r\n",
            "S:250 2.1.5 Ok\r\n", "C:DATA\r\n", "S:354 go\r\n", "C:big\r\n.\r\n",
            "S:552 5.3.4 Message size exceeds fixed limit\r\n");
        var tx = Assert.Single(s.Transactions);
        Assert.Equal(SmtpOutcome.Rejected, tx.Outcome);
        Assert.Equal(552, tx.FinalReply!.Code);
        Assert.Equal("5.3.4", tx.FinalReply.EnhancedCode);
        Assert.Equal("Message size exceeds fixed limit", tx.FinalReply.Text);
        Assert.Equal(99999999, tx.DeclaredSize);
        Assert.Equal(SmtpPhase.Ready, s.CurrentPhase);
    }

    [Fact]
    public void Reply421MidSession_OpenTransactionDeferred()
    {
        var s = Run("S:220 x\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 2.1.0 Ok\r\n", "C:RCPT TO:<b@y>\r\n",
            "S:421 4.7.28 x: Service not available, too many messages from your IP\r\n");
        var tx = Assert.Single(s.Transactions);
        Assert.Equal(SmtpOutcome.Deferred, tx.Outcome);
        Assert.Equal(421, tx.Recipients[0].ReplyCode);
        Assert.Equal("4.7.28", tx.Recipients[0].EnhancedCode);
        Assert.Equal(SmtpPhase.Rcpt, tx.EndPhase);
    }

    [Fact]
    public void Unsolicited421_CountedAndDefers()
    {
        var s = Run("S:220 x\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 2.1.0 Ok\r\n", "S:421 4.4.2 x Error: timeout exceeded\r\n");
        Assert.Equal(1, s.Anomalies.RepliesWithoutCommand);
        Assert.Equal(SmtpOutcome.Deferred, s.Transactions[0].Outcome);
        Assert.Equal("", s.Commands[^1].Verb);
        Assert.Equal(421, s.Commands[^1].Reply!.Code);
    }

    [Fact]
    public void Rcpt450_ThenDataRefused_TransactionDeferred()
    {
        var s = Run("S:220 x\r\n", "C:MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n",
            "S:250 2.1.0 Ok\r\n450 4.7.1 <b@y>: Recipient address rejected: greylisted\r\n554 5.5.1 Error: no valid recipients\r\n",
            "C:QUIT\r\n", "S:221 Bye\r\n");
        var tx = Assert.Single(s.Transactions);
        Assert.Equal(450, tx.Recipients[0].ReplyCode);
        Assert.Equal("4.7.1", tx.Recipients[0].EnhancedCode);
        Assert.Equal(SmtpOutcome.Deferred, tx.Outcome);
        Assert.Equal(["MAIL", "RCPT", "DATA", "QUIT"], s.Commands.Select(c => c.Verb)); // QUIT not swallowed as body
        Assert.Equal(221, s.Commands[^1].Reply!.Code);
    }

    [Fact]
    public void Rcpt450_ThenQuitWithoutData_TransactionDeferred()
    {
        var s = Run("S:220 x\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:RCPT TO:<b@y>\r\n",
            "S:450 4.7.1 greylisted\r\n", "C:QUIT\r\n", "S:221 Bye\r\n");
        Assert.Equal(SmtpOutcome.Deferred, s.Transactions[0].Outcome);
    }

    [Fact]
    public void MailRejected_TransactionRejected()
    {
        var s = Run("S:220 x\r\n", "C:MAIL FROM:<a@x>\r\n", "S:553 5.7.1 Sender address rejected\r\n", "C:QUIT\r\n");
        Assert.Equal(SmtpOutcome.Rejected, s.Transactions[0].Outcome);
        Assert.Equal(553, s.Transactions[0].MailReplyCode);
    }

    [Fact]
    public void Rset_AfterAcceptedRecipient_Aborted()
    {
        var s = Run("S:220 x\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:RCPT TO:<b@y>\r\n", "S:250 Ok\r\n",
            "C:RSET\r\n", "S:250 Ok\r\n", "C:MAIL FROM:<c@x>\r\n", "S:250 Ok\r\n");
        Assert.Equal(SmtpOutcome.Aborted, s.Transactions[0].Outcome);
        Assert.Equal("client sent RSET", s.Transactions[0].OutcomeReason);
        Assert.Equal(SmtpOutcome.InProgress, s.Transactions[1].Outcome);
        Assert.Equal(1, s.TransactionIndex);
    }

    [Fact]
    public void StartTls_After220_RestIsOpaque()
    {
        var s = Run("S:220 x ESMTP\r\n", "C:EHLO a\r\n", "S:250-x\r\n250 STARTTLS\r\n", "C:STARTTLS\r\n",
            "S:220 2.0.0 Ready to start TLS\r\n", "C:\x16\x03\x01\x02\x00\x01\x00\x01\xfcMAIL FROM:<x@y>\r\n",
            "S:\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03\r\n250 fake\r\n");
        Assert.True(s.Capabilities!.StartTls);
        Assert.True(s.TlsStarted);
        Assert.Equal(SmtpPhase.Tls, s.CurrentPhase);
        Assert.Equal(["EHLO", "STARTTLS"], s.Commands.Select(c => c.Verb));
        Assert.Empty(s.Transactions);
        Assert.Equal(26, s.ClientTlsBytes);
        Assert.Equal(23, s.ServerTlsBytes);
    }

    [Fact]
    public void StartTls_PlaintextPipelinedBeforeReply_CountedNotDecoded()
    {
        var s = Run("S:220 x\r\n", "C:STARTTLS\r\nRSET\r\n", "S:220 go\r\n", "C:\x16\x03\x01");
        Assert.Equal(6, s.Anomalies.BytesAfterStartTls);
        Assert.Equal(["STARTTLS"], s.Commands.Select(c => c.Verb));
    }

    [Fact]
    public void StartTls_Refused_BackToCommands()
    {
        var s = Run("S:220 x\r\n", "C:EHLO a\r\n", "S:250 x\r\n", "C:STARTTLS\r\n", "S:454 4.7.0 TLS not available\r\n", "C:MAIL FROM:<a@b>\r\n");
        Assert.False(s.TlsStarted);
        Assert.Equal(SmtpPhase.Mail, s.CurrentPhase);
        Assert.Single(s.Transactions);
    }

    [Fact]
    public void ImplicitTls_NothingDecoded()
    {
        var s = Run(Steps("S:\x16\x03\x03", "C:\u0016\u0003\u0001EHLO x\r\n"), implicitTls: true);
        Assert.Equal(SmtpPhase.Tls, s.CurrentPhase);
        Assert.Empty(s.Commands);
        Assert.Equal(3, s.ServerTlsBytes);
        Assert.Equal(11, s.ClientTlsBytes);
    }

    [Fact]
    public void AuthPlain_CredentialsNeverKept()
    {
        // "\0user\0secret" in base64; sent as initial response, then again after a 334.
        const string cred = "AHVzZXIAc2VjcmV0";
        var s = Run("S:220 x\r\n", "C:EHLO a\r\n", "S:250-x\r\n250 AUTH PLAIN LOGIN\r\n",
            $"C:AUTH PLAIN {cred}\r\n", "S:535 5.7.8 Error: authentication failed\r\n",
            "C:AUTH PLAIN\r\n", "S:334 \r\n", $"C:{cred}\r\n", "S:235 2.7.0 Authentication successful\r\n",
            "C:AUTH LOGIN\r\n", "S:334 VXNlcm5hbWU6\r\n", "C:dXNlcg==\r\n", "S:334 UGFzc3dvcmQ6\r\n", "C:c2VjcmV0\r\n", "S:235 ok\r\n",
            "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n");
        string all = Describe(s);
        Assert.DoesNotContain(cred, all);
        Assert.DoesNotContain("c2VjcmV0", all);
        Assert.DoesNotContain("dXNlcg==", all);
        Assert.DoesNotContain("secret", all);
        Assert.Equal(["EHLO", "AUTH", "AUTH", "AUTH", "MAIL"], s.Commands.Select(c => c.Verb));
        Assert.Equal(["PLAIN", "PLAIN", "LOGIN"], s.Commands.Where(c => c.Verb == "AUTH").Select(c => c.Argument));
        Assert.Equal([535, 235, 235], s.Commands.Where(c => c.Verb == "AUTH").Select(c => c.Reply!.Code));
        Assert.Equal("LOGIN", s.AuthMechanism);
        Assert.Equal(235, s.AuthResult);
        Assert.Equal(3, s.Anomalies.AuthLinesSkipped);
        Assert.Single(s.Transactions);
    }

    [Fact]
    public void Bdat_ChunksSplitAcrossSegments_SkippedExactly()
    {
        var s = Run("S:220 x\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:RCPT TO:<b@y>\r\n", "S:250 Ok\r\n",
            "C:BDAT 10\r\n0123", "C:456789BDAT 6 LAST\r\nQU", "C:IT\r\n",
            "S:250 2.0.0 10 octets received\r\n", "S:250 2.0.0 queued\r\n", "C:QUIT\r\n", "S:221 Bye\r\n");
        var tx = Assert.Single(s.Transactions);
        Assert.True(tx.UsedBdat);
        Assert.Equal(16, tx.MessageBytes);
        Assert.Equal(SmtpOutcome.Accepted, tx.Outcome);
        Assert.Equal("queued", tx.FinalReply!.Text);
        Assert.Equal(["MAIL", "RCPT", "BDAT", "BDAT", "QUIT"], s.Commands.Select(c => c.Verb));
        Assert.Equal("6 LAST", s.Commands[3].Argument);
        Assert.Equal(221, s.Commands[^1].Reply!.Code);
    }

    [Fact]
    public void Bdat_BinaryChunkWithCrLfDot_NotMistakenForEnd()
    {
        var s = Run("S:220 x\r\n", "C:MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 8 LAST\r\n\r\n.\r\nQUIQUIT\r\n",
            "S:250 Ok\r\n250 Ok\r\n250 queued\r\n221 Bye\r\n");
        Assert.Equal(8, s.Transactions[0].MessageBytes);
        Assert.Equal(SmtpOutcome.Accepted, s.Transactions[0].Outcome);
        Assert.Equal("QUIT", s.Commands[^1].Verb);
    }

    [Theory]
    [InlineData("..\r\n.\r\n", 3)]                 // a line of one dot, stuffed
    [InlineData("...x\r\n.\r\n", 5)]
    [InlineData(".\r\n", 0)]                        // empty message
    [InlineData("a\r\n.x\r\n.\r\n", 3 + 3)]         // unstuffed leading dot (sloppy client): removed as the server does
    [InlineData("a\r.\r\n.\r\n", 5)]                // CR without LF is not a line end
    [InlineData("a\n.\n", 2)]                       // bare LF end (counted as anomaly)
    public void Data_DotStuffing_SizeCountsUnstuffedBytes(string body, long size)
    {
        var s = Run("S:220 x\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:DATA\r\n", "S:354 go\r\n", "C:" + body, "S:250 queued\r\n");
        Assert.Equal(size, s.Transactions[0].MessageBytes);
        Assert.Equal(SmtpOutcome.Accepted, s.Transactions[0].Outcome);
    }

    [Fact]
    public void Data_PhaseTracksProgress()
    {
        var s = new SmtpSession(T0);
        s.OnServerData("220 x\r\n"u8, T(0));
        Assert.Equal(SmtpPhase.Greeting, s.CurrentPhase);
        s.OnClientData("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"u8, T(1));
        Assert.Equal(SmtpPhase.DataCommand, s.CurrentPhase);
        s.OnServerData("250 ok\r\n250 ok\r\n354 go\r\n"u8, T(2));
        Assert.Equal(SmtpPhase.Data, s.CurrentPhase);
        s.OnClientData(new byte[1000], T(3));
        s.OnClientData("\r\nmore"u8, T(4));
        Assert.Equal(SmtpPhase.Data, s.CurrentPhase);
        Assert.Equal(1006, s.CurrentMessageBytes);
        Assert.Equal(0, s.TransactionIndex);
        s.OnClientData("\r\n.\r\n"u8, T(5));
        Assert.Equal(SmtpPhase.DataSent, s.CurrentPhase);
        s.Abort("stalled after the end of data", T(6));
        Assert.Equal(SmtpPhase.Closed, s.CurrentPhase);
        Assert.Equal(SmtpOutcome.Aborted, s.Transactions[0].Outcome);
        Assert.Equal(SmtpPhase.DataSent, s.Transactions[0].EndPhase);
        Assert.Equal(1008, s.Transactions[0].MessageBytes);
    }

    [Fact]
    public void Finish_MidData_IncompleteAndPhaseKept()
    {
        var s = Run("S:220 x\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:RCPT TO:<b@y>\r\n", "S:250 Ok\r\n",
            "C:DATA\r\n", "S:354 go\r\n", "C:partial line");
        s.Finish(T(20));
        Assert.Equal(SmtpOutcome.Incomplete, s.Transactions[0].Outcome);
        Assert.Equal(SmtpPhase.Data, s.CurrentPhase);
        Assert.Equal(12, s.CurrentMessageBytes);
    }

    [Fact]
    public void SplitFeeding_EveryBoundaryAndRandomChunks_IdenticalResult()
    {
        string[][] sessions =
        [
            Plain,
            ["S:220 x\r\n", "C:MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 10\r\n0123456789BDAT 3 LAST\r\nabcQUIT\r\n", "S:250 Ok\r\n250 Ok\r\n250 Ok\r\n250 queued\r\n221 Bye\r\n"],
            ["S:220-x\r\n220 y\r\n", "C:EHLO a\r\n", "S:250-x\r\n250 STARTTLS\r\n", "C:STARTTLS\r\n", "S:220 go\r\n\x16\x03", "C:\x16\x03\x01..."],
            ["S:220 x\r\n", "C:AUTH PLAIN\r\n", "S:334 \r\n", "C:AHVzZXIAc2VjcmV0\r\n", "S:235 ok\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n",
             "C:RCPT TO:<b@y>\r\n", "S:250 Ok\r\n", "C:DATA\r\n", "S:354 go\r\n", "C:.\r\n..\r\n.a\r\nb\n.\r\n", "S:250 Ok\r\n"],
            ["S:220 x\0y\r\n", "C:" + new string('A', 9000) + "\r\nNOOP\r\n", "S:" + new string('2', 600) + "\r\n250 \xff\r\n99x\r\n"],
        ];
        foreach (var steps in sessions)
        {
            var parsed = Steps(steps);
            string whole = Describe(Run(parsed));
            Assert.Equal(whole, Describe(Run(parsed, _ => 1)));
            var rnd = new Random(42);
            for (int k = 0; k < 20; k++) Assert.Equal(whole, Describe(Run(parsed, _ => rnd.Next(1, 12))));
            // Every single split point of every step.
            for (int i = 0; i < parsed.Length; i++)
                for (int cut = 1; cut < parsed[i].data.Length; cut++)
                {
                    var split = parsed.Take(i)
                        .Concat([(parsed[i].client, parsed[i].data[..cut]), (parsed[i].client, parsed[i].data[cut..])])
                        .Concat(parsed.Skip(i + 1)).ToArray();
                    var s = new SmtpSession(T0);
                    int step = 0;
                    foreach (var (client, data) in split)
                    {
                        // Both halves carry the original step's time, so results compare equal.
                        int t = step <= i ? step : step - 1;
                        if (client) s.OnClientData(data, T(t)); else s.OnServerData(data, T(t));
                        step++;
                    }
                    Assert.Equal(whole, Describe(s));
                }
        }
    }

    [Fact]
    public void ClientGapInCommands_ResumesAtTheCommandTheServerAnswers()
    {
        var s = new SmtpSession(T0);
        s.OnServerData("220 x\r\n"u8, T(0));
        s.OnClientData("MAIL FR"u8, T(1));
        s.OnClientGap(20, T(2));
        s.OnClientData("e.test>\r\nRCPT TO:<b@y>\r\n"u8, T(3));
        Assert.Empty(s.Commands); // held until a reply confirms it
        s.OnServerData("250 2.1.0 Ok\r\n"u8, T(4)); // the lost MAIL's reply? RCPT fits 250 too: resumes at RCPT
        Assert.Equal(["RCPT"], s.Commands.Select(c => c.Verb));
        Assert.Equal(250, s.Commands[0].Reply!.Code);
        Assert.Equal(1, s.Anomalies.ClientGaps);
        Assert.Equal(20, s.Anomalies.GapBytes);
        Assert.Equal(1, s.Anomalies.Resyncs);
        Assert.Equal(2, s.Anomalies.ResyncSkippedLines); // "MAIL FR" cut by the gap, "e.test>"
    }

    [Fact]
    public void ClientGapInData_SizeApproximateAndEndStillFound()
    {
        var s = Run("S:220 x\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:DATA\r\n", "S:354 go\r\n", "C:line\r\nabc");
        s.OnClientGap(100, T(10));
        s.OnClientData("xyz\r\n.\r\n"u8, T(11));
        s.OnServerData("250 Ok\r\n"u8, T(12));
        var tx = s.Transactions[0];
        Assert.True(tx.SizeApproximate);
        Assert.Equal(6 + 3 + 100 + 5, tx.MessageBytes);
        Assert.Equal(SmtpOutcome.Accepted, tx.Outcome);
    }

    [Fact]
    public void ClientGapSwallowsEndOfData_ServerReplyResyncs()
    {
        var s = Run("S:220 x\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:DATA\r\n", "S:354 go\r\n", "C:body\r\n");
        s.OnClientGap(5, T(10)); // ".\r\n" and more lost
        s.OnServerData("250 2.0.0 queued\r\n"u8, T(11));
        s.OnClientData("QUIT\r\n"u8, T(12));
        s.OnServerData("221 Bye\r\n"u8, T(13));
        Assert.Equal(SmtpOutcome.Accepted, s.Transactions[0].Outcome);
        Assert.Equal(1, s.Anomalies.RepliesDuringData);
        Assert.Equal("QUIT", s.Commands[^1].Verb);
        Assert.Equal(221, s.Commands[^1].Reply!.Code);
    }

    [Fact]
    public void BdatGap_RemainingReducedAndCommandsResume()
    {
        var s = Run("S:220 x\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:BDAT 100 LAST\r\n0123456789");
        s.OnClientGap(90, T(10));
        s.OnClientData("QUIT\r\n"u8, T(11));
        Assert.Equal(100, s.Transactions[0].MessageBytes);
        Assert.Equal("QUIT", s.Commands[^1].Verb);
    }

    [Fact]
    public void ServerGap_MidReply_NextReplyDecoded()
    {
        var s = new SmtpSession(T0);
        s.OnServerData("220 x\r\n"u8, T(0));
        s.OnClientData("NOOP\r\nNOOP\r\n"u8, T(1));
        s.OnServerData("25"u8, T(2));
        s.OnServerGap(10, T(3));
        s.OnServerData("0 ok\r\n250 2.0.0 Ok\r\n"u8, T(4));
        Assert.Equal(250, s.Commands[0].Reply!.Code);
        Assert.Null(s.Commands[1].Reply);
        Assert.Equal(1, s.Anomalies.ServerGaps);
    }
}
