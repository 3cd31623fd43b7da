using PathProbe.Protocols.Smtp;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Protocols.Smtp;

/// <summary>The real bundled captures (Postfix and swaks, see captures/README.md) through reassembly and SMTP.</summary>
public sealed class SmtpCaptureTests
{
    private static string Capture(string name) => Path.Combine(TestPaths.Captures, name);

    [Theory]
    [InlineData("smtp-healthy-ipv4.pcap")]
    [InlineData("smtp-healthy-ipv6.pcap")]
    [InlineData("smtp-random-loss.pcap")]
    public void Read_HealthyCapture_OneAcceptedTransaction(string name)
    {
        var conns = SmtpCaptureHarness.Read(Capture(name));
        var conn = Assert.Single(conns);
        var s = conn.Session;

        Assert.StartsWith("220 mx.example.test ESMTP Postfix", s.Banner);
        Assert.True(s.GreetingDelay > TimeSpan.Zero);
        Assert.Equal("client.example.net", s.EhloName);
        Assert.NotNull(s.Capabilities);
        Assert.True(s.Capabilities!.Pipelining);
        Assert.True(s.Capabilities.Chunking);
        Assert.True(s.Capabilities.EnhancedStatusCodes);
        Assert.Equal(10240000, s.Capabilities.SizeLimit);

        var tx = Assert.Single(s.Transactions);
        Assert.Equal("sender@example.net", tx.Sender);
        var r = Assert.Single(tx.Recipients);
        Assert.Equal("rcpt@example.test", r.Address);
        Assert.Equal(250, r.ReplyCode);
        Assert.Equal(250, tx.FinalReply?.Code);
        Assert.Equal("2.0.0", tx.FinalReply?.EnhancedCode);
        Assert.Equal(SmtpOutcome.Accepted, tx.Outcome);
        Assert.True(tx.MessageBytes > 200_000, $"message bytes {tx.MessageBytes}");
        Assert.False(tx.SizeApproximate);
        Assert.True(tx.DataDuration > TimeSpan.Zero);

        Assert.Equal(["EHLO", "MAIL", "RCPT", "DATA", ".", "QUIT"], s.Commands.Select(c => c.Verb));
        Assert.All(s.Commands, c => Assert.NotNull(c.Reply));
        Assert.Equal(221, s.Commands[^1].Reply!.Code);
        Assert.Equal(0, s.Anomalies.ClientGaps + s.Anomalies.ServerGaps);
        Assert.Equal(0, s.Anomalies.UnparsableReplies + s.Anomalies.RepliesWithoutCommand);
        Assert.Null(s.ClientAbandoned);
        Assert.Equal(SmtpPhase.Closed, s.CurrentPhase);
    }

    [Fact]
    public void Read_Mru1424Sender_SecondFlowStalledInDataWithoutFinalReply()
    {
        var conns = SmtpCaptureHarness.Read(Capture("smtp-mru1424-sender.pcap"));
        Assert.Equal(2, conns.Count);
        Assert.Equal(SmtpOutcome.Accepted, Assert.Single(conns[0].Session.Transactions).Outcome);

        var s = conns[1].Session;
        Assert.Equal(SmtpPhase.Data, s.CurrentPhase);
        var tx = Assert.Single(s.Transactions);
        Assert.NotNull(tx.DataStartTime); // 354 came
        Assert.Null(tx.FinalReply);
        Assert.True(tx.MessageBytes > 0);
        Assert.Equal(SmtpOutcome.Incomplete, tx.Outcome);
        Assert.Equal(SmtpPhase.Data, tx.EndPhase);
    }
}
