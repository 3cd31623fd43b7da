using System.Text;
using PathProbe.Protocols.Smtp;
using static PathProbe.Tests.Protocols.Smtp.SmtpScript;

namespace PathProbe.Tests.Protocols.Smtp;

/// <summary>
/// Bytes the capture missed (<see cref="SmtpSession.OnClientGap"/>): inside BDAT the chunk's declared remainder is
/// skipped; past it, and anywhere the position is unknown, the decoder holds lines until a valid command is confirmed
/// by a matching reply; inside DATA the server's end-of-data reply ends the data. Message content is never read as
/// commands, and a transaction the server completed is accepted with its gap counted, not aborted.
/// </summary>
public sealed class SmtpGapTests
{
    private static void Feed(SmtpSession s, ref int step, params string[] steps)
    {
        foreach (var st in steps)
        {
            var b = Encoding.Latin1.GetBytes(st[2..]);
            if (st.StartsWith("C:")) s.OnClientData(b, T(step++)); else s.OnServerData(b, T(step++));
        }
    }

    /// <summary>Issue 21's BDAT gap (Zeek's smtp-bdat-gap trace): BDAT 200, 100 bytes of the chunk, then 1000 bytes
    /// the capture missed, then DATA, 354, a message whose lines look like "From: ..." and "To: ...", ".", 250.</summary>
    [Fact]
    public void BdatGapPastTheChunk_ResumesAtDataConfirmedBy354_MessageNeverReadAsCommands()
    {
        var s = new SmtpSession(T0);
        int step = 0;
        Feed(s, ref step, "S:220 mail.example.com ESMTP\r\n", "C:EHLO sender.example.com\r\n",
            "S:250-mail.example.com Hello\r\n250-CHUNKING\r\n250 OK\r\n",
            "C:MAIL FROM:<sender@example.com>\r\n", "S:250 OK\r\n", "C:RCPT TO:<recipient@example.com>\r\n", "S:250 OK\r\n",
            "C:BDAT 200\r\n", "S:250 OK\r\n", "C:" + new string('A', 100), "S:250 OK\r\n");
        s.OnClientGap(1000, T(step++));
        Feed(s, ref step, "C:DATA\r\n", "S:354 End data with <CR><LF>.<CR><LF>\r\n",
            "C:From: sender@example.com\r\nTo: recipient@example.com\r\nSubject: Test\r\n\r\nHello!\r\n.\r\n",
            "S:250 OK: message queued\r\n", "C:QUIT\r\n", "S:221 Bye\r\n");

        var tx = Assert.Single(s.Transactions);
        Assert.Equal(SmtpOutcome.Accepted, tx.Outcome); // not "aborted": the server's 250 says it completed
        Assert.Equal("OK: message queued", tx.FinalReply!.Text);
        Assert.Equal(1000, tx.CaptureGapBytes);
        Assert.True(tx.SizeApproximate);
        Assert.Equal(["EHLO", "MAIL", "RCPT", "BDAT", "DATA", ".", "QUIT"], s.Commands.Where(c => c.Kind != SmtpCommandKind.None).Select(c => c.Verb));
        Assert.Equal(0, s.Anomalies.UnknownCommands);
        Assert.Equal(1, s.Anomalies.Resyncs);
        Assert.Equal(221, s.Commands[^1].Reply!.Code);
    }

    [Fact]
    public void BdatGapWithinTheChunk_RemainderSkippedExactly_NoResync()
    {
        var s = new SmtpSession(T0);
        int step = 0;
        Feed(s, ref step, "S:220 x\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:RCPT TO:<b@y>\r\n", "S:250 Ok\r\n",
            "C:BDAT 100 LAST\r\n0123456789");
        s.OnClientGap(60, T(step++));
        // 30 bytes of the chunk are left; a line in them that looks like a command is still chunk data.
        Feed(s, ref step, "C:QUIT\r\nRSET\r\n" + new string('z', 18) + "QUIT\r\n", "S:250 2.0.0 Ok: queued as Q1\r\n221 Bye\r\n");
        var tx = Assert.Single(s.Transactions);
        Assert.Equal(100, tx.MessageBytes);
        Assert.False(tx.SizeApproximate);
        Assert.Equal(SmtpOutcome.Accepted, tx.Outcome);
        Assert.Equal(["MAIL", "RCPT", "BDAT", "QUIT"], s.Commands.Select(c => c.Verb));
        Assert.Equal(0, s.Anomalies.Resyncs);
    }

    [Fact]
    public void DataGapSwallowingTheDot_EndOfDataReplyEndsIt_AcceptedWithTheGap()
    {
        var s = new SmtpSession(T0);
        int step = 0;
        Feed(s, ref step, "S:220 x\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:RCPT TO:<b@y>\r\n", "S:250 Ok\r\n",
            "C:DATA\r\n", "S:354 go\r\n", "C:Subject: x\r\n\r\nMAIL FROM:<not@a.command>\r\n");
        s.OnClientGap(4096, T(step++)); // the rest of the body and the terminating dot
        Feed(s, ref step, "S:250 2.0.0 Ok: queued as D1\r\n", "C:QUIT\r\n", "S:221 Bye\r\n");
        var tx = Assert.Single(s.Transactions);
        Assert.Equal(SmtpOutcome.Accepted, tx.Outcome);
        Assert.Equal(4096, tx.CaptureGapBytes);
        Assert.Equal(["MAIL", "RCPT", "DATA", ".", "QUIT"], s.Commands.Select(c => c.Verb)); // the body's "MAIL FROM" line is content
        Assert.Equal(221, s.Commands[^1].Reply!.Code);
    }

    [Fact]
    public void GapInCommands_LostCommandsRepliesSkipped_ResumesAtTheMatchingCommand()
    {
        // The capture lost "RCPT TO:<b@y>" and "DATA" and the start of the body; the client's next bytes are message
        // lines, then "." ends it; the server's replies for the lost commands and the data come in order.
        var s = new SmtpSession(T0);
        int step = 0;
        Feed(s, ref step, "S:220 x\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n");
        s.OnClientGap(200, T(step++));
        Feed(s, ref step, "C:From: a@x\r\nSubject: looks like headers\r\n\r\nQUIT is a word here\r\n.\r\n",
            "S:250 2.1.5 Ok\r\n354 go ahead\r\n250 2.0.0 Ok: queued as G1\r\n", "C:QUIT\r\n", "S:221 2.0.0 Bye\r\n");
        // None of the held lines is a valid command ("QUIT is a word here" is not "QUIT"): all skipped; the three replies
        // answer lost commands; QUIT, a valid command, is confirmed by 221.
        Assert.Equal(["MAIL", "QUIT"], s.Commands.Where(c => c.Kind != SmtpCommandKind.None).Select(c => c.Verb));
        Assert.Equal(0, s.Anomalies.UnknownCommands);
        Assert.Equal(3, s.Anomalies.RepliesWithoutCommand);
        Assert.Equal(221, s.Commands[^1].Reply!.Code);
        Assert.Equal(200, s.Transactions[0].CaptureGapBytes);
    }

    [Fact]
    public void BodyLineThatIsACommand_NotTakenForOne_EvenWhenAReplyFitsIt()
    {
        // The capture lost RCPT, DATA and the start of the body. The body has a line that is exactly "RSET", and the
        // first reply (250, to the lost RCPT) would fit RSET; but message lines follow it, which a client never sends
        // after RSET, so it is content. The dialogue resumes at QUIT, confirmed by 221.
        var s = new SmtpSession(T0);
        int step = 0;
        Feed(s, ref step, "S:220 x\r\n", "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n");
        s.OnClientGap(50, T(step++));
        Feed(s, ref step, "C:more of the message\r\nRSET\r\nand its last line\r\n.\r\n",
            "S:250 2.1.5 Ok\r\n354 go\r\n250 2.0.0 Ok: queued as R1\r\n", "C:QUIT\r\n", "S:221 Bye\r\n");
        Assert.DoesNotContain(s.Commands, c => c.Kind == SmtpCommandKind.Rset);
        Assert.Equal(["MAIL", "QUIT"], s.Commands.Where(c => c.Kind != SmtpCommandKind.None).Select(c => c.Verb));
        Assert.Equal(0, s.Anomalies.UnknownCommands);
        Assert.Equal(3, s.Anomalies.RepliesWithoutCommand);
    }

    [Fact]
    public void PipelinedCommandsAfterAGap_AllResumedWithTheFirstReply()
    {
        var s = new SmtpSession(T0);
        int step = 0;
        Feed(s, ref step, "S:220 x\r\n", "C:EHLO a\r\n", "S:250-x\r\n250 PIPELINING\r\n");
        s.OnClientGap(30, T(step++)); // e.g. a RSET the capture lost
        Feed(s, ref step, "S:250 2.0.0 Ok\r\n", "C:MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n",
            "S:250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n", "C:hi\r\n.\r\n", "S:250 2.0.0 Ok: queued as P1\r\n");
        var tx = Assert.Single(s.Transactions);
        Assert.Equal(SmtpOutcome.Accepted, tx.Outcome);
        Assert.Equal("b@y", Assert.Single(tx.Recipients).Address);
        Assert.Equal(1, s.Anomalies.RepliesWithoutCommand); // the lost RSET's 250
    }

    [Fact]
    public void SessionEndsWhileResyncing_HeldLinesNeverDecoded()
    {
        var s = new SmtpSession(T0);
        int step = 0;
        Feed(s, ref step, "S:220 x\r\n", "C:EHLO a\r\n", "S:250 x\r\n");
        s.OnClientGap(10, T(step++));
        Feed(s, ref step, "C:RCPT TO:<held@y>\r\nrandom text\r\n");
        s.Finish(T(step));
        Assert.Equal(["EHLO"], s.Commands.Select(c => c.Verb));
        Assert.True(s.Anomalies.ResyncSkippedLines >= 2);
    }

    [Fact]
    public void ResyncHold_IsBounded()
    {
        var s = new SmtpSession(T0);
        s.OnServerData("220 x\r\n"u8, T(0));
        s.OnClientGap(10, T(1));
        var junk = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("DATA\r\n", 20_000))); // 120 kB of candidates
        s.OnClientData(junk, T(2));
        var noLf = new byte[100_000];
        noLf.AsSpan().Fill((byte)'x');
        s.OnClientData(noLf, T(3));
        s.OnClientData("\r\nQUIT\r\n"u8, T(4));
        s.OnServerData("221 Bye\r\n"u8, T(5));
        Assert.Equal("QUIT", s.Commands[^1].Verb);
        Assert.True(s.Anomalies.ResyncSkippedLines > 1000);
    }

    [Theory]
    [InlineData("MAIL FROM:<a@b>", true)]
    [InlineData("MAIL FROM:<>", true)]
    [InlineData("mail from:<a@b> SIZE=10", true)]
    [InlineData("RCPT TO:<a@b>", true)]
    [InlineData("DATA", true)]
    [InlineData("BDAT 123 LAST", true)]
    [InlineData("QUIT", true)]
    [InlineData("EHLO client.example.net", true)]
    [InlineData("AUTH PLAIN", true)]
    [InlineData("From: sender@example.com", false)]
    [InlineData("To: recipient@example.com", false)]
    [InlineData("Subject: Test", false)]
    [InlineData("Hello!", false)]
    [InlineData("MAIL FROM: a@b", false)]      // a path needs angle brackets
    [InlineData("DATA fragment", false)]
    [InlineData("BDAT 12x", false)]
    [InlineData("QUIT is a word here", false)]
    [InlineData("EHLO two words", false)]
    [InlineData(" DATA", false)]
    [InlineData("AAAAAAAA", false)]
    public void IsCommandLine_StrictSyntax(string line, bool expected) =>
        Assert.Equal(expected, SmtpSession.IsCommandLine(Encoding.ASCII.GetBytes(line), out _));

    [Theory]
    [InlineData(SmtpCommandKind.Data, 354, true)]
    [InlineData(SmtpCommandKind.Data, 250, false)]
    [InlineData(SmtpCommandKind.Quit, 221, true)]
    [InlineData(SmtpCommandKind.Quit, 250, false)]
    [InlineData(SmtpCommandKind.Rset, 250, true)]
    [InlineData(SmtpCommandKind.Rset, 354, false)]
    [InlineData(SmtpCommandKind.Mail, 553, true)]
    [InlineData(SmtpCommandKind.Rcpt, 251, true)]
    [InlineData(SmtpCommandKind.StartTls, 220, true)]
    [InlineData(SmtpCommandKind.Auth, 334, true)]
    [InlineData(SmtpCommandKind.Noop, 500, true)]  // any line the server read as a command may get 500-504
    [InlineData(SmtpCommandKind.Quit, 421, true)]  // 421 may answer anything (RFC 5321 3.8)
    public void ReplyFits_Rfc5321CommandReplySequences(SmtpCommandKind verb, int code, bool fits) =>
        Assert.Equal(fits, SmtpSession.ReplyFits(verb, code));

    [Fact]
    public void RandomGapsInRealDialogues_NeverThrow_NeverReadMessageLinesAsCommands()
    {
        // The issue-21 dialogue and a pipelined one, cut into random pieces, with random client gaps between them.
        string[][] dialogues =
        [
            SmtpStateMachineTests.IssueSequence,
            ["S:220 x\r\n", "C:EHLO a\r\n", "S:250-x\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
             "C:MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 40\r\nFrom: a@x\r\nTo: b@y\r\nSubject: s\r\n\r\nhi\r\nBDAT 0 LAST\r\n",
             "S:250 Ok\r\n250 Ok\r\n250 Ok\r\n250 Ok: queued\r\n", "C:QUIT\r\n", "S:221 Bye\r\n"],
        ];
        var rng = new Random(2113);
        for (int round = 0; round < 3000; round++)
        {
            var steps = Steps(dialogues[round % dialogues.Length]);
            var s = new SmtpSession(T0);
            for (int i = 0; i < steps.Length; i++)
            {
                var (client, data) = steps[i];
                for (int off = 0; off < data.Length;)
                {
                    int n = Math.Min(data.Length - off, rng.Next(1, 20));
                    if (client && rng.Next(6) == 0) { s.OnClientGap(n, T(i)); off += n; continue; }
                    if (client) s.OnClientData(data.AsSpan(off, n), T(i)); else s.OnServerData(data.AsSpan(off, n), T(i));
                    off += n;
                }
            }
            s.Finish(T(steps.Length));
            // Message lines ("From:", "To:", "Subject:", "Hello, Alice...", "hi") are never commands, whatever was lost.
            Assert.DoesNotContain(s.Commands, c => c.Verb is "FROM:" or "TO:" or "SUBJECT:" or "HI");
            Assert.All(s.Transactions, t => Assert.True(t.Recipients.Count <= 2));
        }
    }
}
