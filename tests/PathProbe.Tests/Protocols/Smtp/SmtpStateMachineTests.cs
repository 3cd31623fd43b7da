using PathProbe.Protocols.Smtp;
using static PathProbe.Tests.Protocols.Smtp.SmtpScript;

namespace PathProbe.Tests.Protocols.Smtp;

/// <summary>
/// The transaction state follows the server's verdicts (RFC 5321 4.1.4, 4.3.2; RFC 3030 for BDAT). One test per
/// rule, each over the reply codes RFC 5321 4.3.2 lists for the command ("S:" success, "E:" error).
/// </summary>
public sealed class SmtpStateMachineTests
{
    private const string Greeting = "S:220 mx.example.test ESMTP\r\n";

    /// <summary>RFC 5321 4.3.2, MAIL: E: 552, 451, 452, 550, 553, 503, 455, 555.</summary>
    public static TheoryData<int> MailErrors => new() { 552, 451, 452, 550, 553, 503, 455, 555 };
    /// <summary>DATA: I: 354; E: 503, 554 (and 450, 451, 452, 550 for policy reasons, 4.3.2 "E:" of DATA).</summary>
    public static TheoryData<int> DataErrors => new() { 503, 554, 450, 451, 452, 550 };

    [Theory]
    [MemberData(nameof(MailErrors))]
    public void MailRefused_NoTransactionOpened_LaterRcptIsNotAttachedToIt(int code)
    {
        var s = Run(Greeting, "C:MAIL FROM:<a@x>\r\n", $"S:{code} refused\r\n",
            "C:RCPT TO:<b@y>\r\n", "S:503 5.5.1 Error: need MAIL command\r\n",
            "C:MAIL FROM:<a@x>\r\n", "S:250 2.1.0 Ok\r\n", "C:RCPT TO:<c@y>\r\n", "S:250 2.1.5 Ok\r\n");
        // The refused MAIL is kept as an attempt with its reply; it never became the open transaction.
        Assert.Equal(2, s.Transactions.Count);
        var attempt = s.Transactions[0];
        Assert.True(attempt.MailRefused);
        Assert.Equal(code >= 500 ? SmtpOutcome.Rejected : SmtpOutcome.Deferred, attempt.Outcome);
        Assert.Empty(attempt.Recipients);
        Assert.Equal(-1, s.Commands[1].Transaction); // the RCPT after it belongs to no transaction
        var open = s.Transactions[1];
        Assert.Equal(SmtpOutcome.InProgress, open.Outcome);
        Assert.Equal(["c@y"], open.Recipients.Select(r => r.Address));
    }

    [Fact]
    public void MailRefusedSenderAlreadyGiven_OpenTransactionKept_PipelinedFollowersJoinIt()
    {
        // RFC 5321 4.1.4: MAIL inside a transaction is a sequence error (503); the open transaction goes on.
        var s = Run(Greeting, "C:MAIL FROM:<a@x>\r\n", "S:250 2.1.0 Ok\r\n",
            "C:MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n",
            "S:503 5.5.1 Error: nested MAIL command\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
            "C:hello\r\n.\r\n", "S:250 2.0.0 Ok: queued as 4A1\r\n");
        var tx = Assert.Single(s.Transactions);
        Assert.Equal(SmtpOutcome.Accepted, tx.Outcome);
        Assert.Equal(["b@y"], tx.Recipients.Select(r => r.Address));
        Assert.Equal(1, tx.RecipientsAccepted);
        Assert.Equal(0, s.TransactionIndex);
        Assert.All(s.Commands, c => Assert.Equal(0, c.Transaction)); // every command, the refused MAIL too, is the open one's
        Assert.Equal(503, s.Commands[1].Reply!.Code);
        Assert.Equal(7, tx.MessageBytes);
    }

    [Theory]
    [MemberData(nameof(DataErrors))]
    public void DataRefused_TransactionStaysOpen_NextDataCompletesIt(int code)
    {
        var s = Run(Greeting, "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:DATA\r\n", $"S:{code} refused\r\n",
            "C:RCPT TO:<b@y>\r\n", "S:250 Ok\r\n", "C:DATA\r\n", "S:354 go\r\n", "C:body\r\n.\r\n", "S:250 2.0.0 Ok: queued as 7F\r\n");
        var tx = Assert.Single(s.Transactions);
        Assert.Equal(SmtpOutcome.Accepted, tx.Outcome);
        Assert.Equal(code, tx.DataRefusal!.Code);
        Assert.Equal(["b@y"], tx.Recipients.Select(r => r.Address));
        Assert.Equal(6, tx.MessageBytes);
        Assert.Equal(T(7), tx.DataCommandTime); // the DATA that was accepted
        Assert.Equal(["MAIL", "DATA", "RCPT", "DATA", "."], s.Commands.Select(c => c.Verb));
    }

    [Theory]
    [InlineData(503, SmtpOutcome.Rejected)]
    [InlineData(554, SmtpOutcome.Rejected)]
    [InlineData(451, SmtpOutcome.Deferred)]
    public void DataRefused_ThenQuit_DecidedByTheRefusal(int code, SmtpOutcome outcome)
    {
        var s = Run(Greeting, "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:RCPT TO:<b@y>\r\n", "S:250 Ok\r\n",
            "C:DATA\r\n", $"S:{code} refused\r\n", "C:QUIT\r\n", "S:221 Bye\r\n");
        var tx = Assert.Single(s.Transactions);
        Assert.Equal(outcome, tx.Outcome);
        Assert.StartsWith($"DATA refused ({code})", tx.OutcomeReason);
    }

    [Theory]
    [InlineData("C:RCPT TO:<b@y>\r\n")]
    [InlineData("C:DATA\r\n")]
    [InlineData("C:BDAT 3 LAST\r\nabc")]
    [InlineData("C:MAIL FROM:<a@x>\r\n")]
    public void Command503_ChangesNothing(string command)
    {
        // An open transaction with one accepted recipient, then an out-of-sequence command answered 503.
        var s = Run(Greeting, "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:RCPT TO:<r@y>\r\n", "S:250 Ok\r\n",
            command, "S:503 5.5.1 Error: bad sequence of commands\r\n", "C:RCPT TO:<z@y>\r\n", "S:250 Ok\r\n");
        var tx = Assert.Single(s.Transactions);
        Assert.Equal(SmtpOutcome.InProgress, tx.Outcome);
        Assert.Null(tx.FinalReply);
        Assert.Equal(SmtpPhase.Rcpt, s.CurrentPhase);
        Assert.Equal("z@y", tx.Recipients[^1].Address);
    }

    [Fact]
    public void Rset_StartsTheNextTransaction()
    {
        var s = Run(Greeting, "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:RCPT TO:<b@y>\r\n", "S:250 Ok\r\n",
            "C:RSET\r\n", "S:250 2.0.0 Ok\r\n", "C:MAIL FROM:<c@x>\r\n", "S:250 Ok\r\n", "C:RCPT TO:<d@y>\r\n", "S:250 Ok\r\n");
        Assert.Equal(2, s.Transactions.Count);
        Assert.Equal(SmtpOutcome.Aborted, s.Transactions[0].Outcome);
        Assert.Equal("client sent RSET", s.Transactions[0].OutcomeReason);
        Assert.Equal(["d@y"], s.Transactions[1].Recipients.Select(r => r.Address));
        Assert.Equal(SmtpOutcome.InProgress, s.Transactions[1].Outcome);
    }

    [Fact]
    public void MailAfterCompletedTransaction_StartsTheNextOne()
    {
        var s = Run(Greeting, "C:MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n", "S:250 Ok\r\n250 Ok\r\n354 go\r\n",
            "C:one\r\n.\r\n", "S:250 2.0.0 Ok: queued as A1\r\n",
            "C:MAIL FROM:<c@x>\r\nRCPT TO:<d@y>\r\nDATA\r\n", "S:250 Ok\r\n250 Ok\r\n354 go\r\n",
            "C:two\r\n.\r\n", "S:250 2.0.0 Ok: queued as B2\r\n");
        Assert.Equal(2, s.Transactions.Count);
        Assert.All(s.Transactions, t => Assert.Equal(SmtpOutcome.Accepted, t.Outcome));
        Assert.Equal(["Ok: queued as A1", "Ok: queued as B2"], s.Transactions.Select(t => t.FinalReply!.Text));
        Assert.Equal(["b@y", "d@y"], s.Transactions.Select(t => t.Recipients.Single().Address));
    }

    [Theory]
    [InlineData(250, 1, 0, 0)]
    [InlineData(251, 1, 0, 0)]
    [MemberData(nameof(RcptRows))]
    public void Rcpt_EachRecipientKeepsItsOwnReply(int code, int accepted, int deferred, int rejected)
    {
        var s = Run(Greeting, "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:RCPT TO:<b@y>\r\n", $"S:{code} 4.0.0 reply to b\r\n");
        var r = Assert.Single(s.Transactions[0].Recipients);
        Assert.Equal(code, r.ReplyCode);
        Assert.Equal("reply to b", r.Reply!.Text);
        Assert.Equal((accepted, deferred, rejected), (s.Transactions[0].RecipientsAccepted, s.Transactions[0].RecipientsDeferred, s.Transactions[0].RecipientsRejected));
    }

    /// <summary>RFC 5321 4.3.2, RCPT: S: 250, 251; E: 550, 551, 552, 553, 450, 451, 452, 503, 455, 555.</summary>
    public static IEnumerable<object[]> RcptRows() =>
        new[] { 550, 551, 552, 553, 450, 451, 452, 503, 455, 555 }.Select(c => new object[] { c, 0, c < 500 ? 1 : 0, c >= 500 ? 1 : 0 });

    [Fact]
    public void Rcpt550Then451_OneRejectedOneDeferred_TransactionDeferred()
    {
        var s = Run(Greeting, "C:MAIL FROM:<a@x>\r\nRCPT TO:<u@y>\r\nRCPT TO:<v@y>\r\nDATA\r\n",
            "S:250 2.1.0 Ok\r\n550 5.1.1 <u@y>: Recipient address rejected: User unknown\r\n451 4.3.0 <v@y>: Temporary lookup failure\r\n554 5.5.1 Error: no valid recipients\r\n",
            "C:QUIT\r\n", "S:221 2.0.0 Bye\r\n");
        var tx = Assert.Single(s.Transactions);
        Assert.Equal([550, 451], tx.Recipients.Select(r => r.ReplyCode));
        Assert.Equal(["5.1.1", "4.3.0"], tx.Recipients.Select(r => r.EnhancedCode));
        Assert.Equal((1, 1), (tx.RecipientsRejected, tx.RecipientsDeferred));
        Assert.Equal(SmtpOutcome.Deferred, tx.Outcome); // the deferred one will be retried
        Assert.StartsWith("every recipient refused (1 rejected, 1 deferred)", tx.OutcomeReason);
    }

    /// <summary>The dialogue of issue 21 (Exim 4.94.2's texts, as in Zeek's smtp-mail-transactions-invalid trace):
    /// MAIL 250; DATA 503; junk 500; DATA 503; MAIL 503 sender already given; RCPT 250, DATA 354, the message, 250 OK
    /// id=... It is one transaction, accepted, with its recipient.</summary>
    internal static readonly string[] IssueSequence =
    [
        "S:220 tinkyx390 ESMTP Exim 4.94.2 Mon, 27 Mar 2023 17:17:37 +0200\r\n",
        "C:EHLO Bob-PC\r\n",
        "S:250-tinkyx390 Hello localhost [127.0.0.1]\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 HELP\r\n",
        "C:MAIL FROM:<bob@example.org>\r\n", "S:250 OK\r\n",
        "C:DATA\r\n", "S:503 valid RCPT command must precede DATA\r\n",
        "C:Hello, Alice (3)\r\n", "S:500 unrecognized command\r\n",
        "C:.\r\n", "S:500 unrecognized command\r\n",
        "C:DATA\r\n", "S:503 valid RCPT command must precede DATA\r\n",
        "C:MAIL FROM:<bob@example.org>\r\n", "S:503 sender already given\r\n",
        "C:RCPT TO:<alice@example.org>\r\n", "S:250 Accepted\r\n",
        "C:DATA\r\n", "S:354 Enter message, ending with \".\" on a line by itself\r\n",
        "C:Hello, Alice... do you still like me?\r\n.\r\n", "S:250 OK id=1pgobM-001mwq-Vc\r\n",
        "C:QUIT\r\n", "S:221 tinkyx390 closing connection\r\n",
    ];

    [Fact]
    public void IssueSequence_OneAcceptedTransactionWithItsRecipient()
    {
        var s = Run(IssueSequence);
        var tx = Assert.Single(s.Transactions);
        Assert.Equal("bob@example.org", tx.Sender);
        Assert.Equal(SmtpOutcome.Accepted, tx.Outcome);
        Assert.Equal("OK id=1pgobM-001mwq-Vc", tx.FinalReply!.Text);
        var r = Assert.Single(tx.Recipients);
        Assert.Equal(("alice@example.org", 250), (r.Address, r.ReplyCode));
        Assert.Equal(503, tx.DataRefusal!.Code);
        Assert.Equal(39, tx.MessageBytes);
        // The transaction's own commands, refused ones included; the junk lines are the session's.
        Assert.Equal(["MAIL", "DATA", "DATA", "MAIL", "RCPT", "DATA", "."],
            s.Commands.Where(c => c.Transaction == tx.Index).Select(c => c.Verb));
        Assert.Equal([SmtpCommandKind.Unknown, SmtpCommandKind.Unknown],
            s.Commands.Where(c => c.Reply?.Code == 500).Select(c => c.Kind));
        Assert.Equal(SmtpPhase.Quit, s.CurrentPhase);
    }

    [Fact]
    public void IssueSequence_SplitAtEveryByte_SameResult()
    {
        var steps = Steps(IssueSequence);
        Assert.Equal(Describe(Run(steps)), Describe(Run(steps, _ => 1)));
    }

    [Fact]
    public void IssueSequence_Pipelined_SameTransaction()
    {
        // The client sends MAIL, RCPT and DATA in one group (RFC 2920) after the refused DATA: the replies, in order,
        // decide that the MAIL was refused and the RCPT and DATA belong to the open transaction.
        var s = Run(Greeting, "C:MAIL FROM:<bob@example.org>\r\n", "S:250 OK\r\n", "C:DATA\r\n", "S:503 valid RCPT command must precede DATA\r\n",
            "C:MAIL FROM:<bob@example.org>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n",
            "S:503 sender already given\r\n250 Accepted\r\n354 Enter message\r\n",
            "C:Hi\r\n.\r\n", "S:250 OK id=1pgobM-001mwq-Vc\r\n");
        var tx = Assert.Single(s.Transactions);
        Assert.Equal(SmtpOutcome.Accepted, tx.Outcome);
        Assert.Equal("alice@example.org", Assert.Single(tx.Recipients).Address);
    }

    [Fact]
    public void BdatRefused503_TransactionStaysOpen()
    {
        // RFC 3030 with RFC 5321 4.1.4: BDAT before any RCPT is out of sequence; the transaction is unchanged.
        var s = Run(Greeting, "C:MAIL FROM:<a@x>\r\n", "S:250 Ok\r\n", "C:BDAT 3\r\nabc", "S:503 5.5.1 Error: need RCPT command\r\n",
            "C:RCPT TO:<b@y>\r\n", "S:250 Ok\r\n", "C:BDAT 3 LAST\r\nxyz", "S:250 2.0.0 Ok: queued as C3\r\n");
        var tx = Assert.Single(s.Transactions);
        Assert.Equal(SmtpOutcome.Accepted, tx.Outcome);
        Assert.Equal(503, tx.DataRefusal!.Code);
    }
}
