using System.Text;
using PathProbe.Analysis.Smtp;
using PathProbe.Pipeline;

namespace PathProbe.Tests.Analysis.Smtp;

/// <summary>
/// A session that closed gives its reassemblers (<c>SmtpAnalyzer.SpareStreams</c>) and its pending-command ring to the
/// next sessions: those must read exactly as sessions made from nothing. Sessions to one server share their
/// capabilities and the lines of equal replies.
/// </summary>
public sealed class SmtpSpareStateTests
{
    /// <summary>11 minutes: past the TCP idle timeout, so the first sessions have left the table.</summary>
    private const long Later = 660_000;

    [Fact]
    public void SessionsAfterClosedOnes_ReuseTheirStreamsAndRings_ReadAsNewOnes()
    {
        var alone = new Engine();
        Mail(new SmtpFrames(alone, 25, 42000), Later);
        string expected = Describe(alone.Complete(new InputSummary { Path = "alone" }), 42000);

        var e = new Engine();
        // Sessions left in every state a reassembler and a ring can be left in: bytes buffered beyond a hole (in both
        // directions' sequence range the next sessions use), commands pipelined and never answered, a reply cut in the
        // middle of its lines; each reset, then expired by the next session's first packet.
        for (int i = 0; i < 12; i++)
        {
            var f = new SmtpFrames(e, 25, (ushort)(41000 + i)) { NowMs = i * 100 };
            f.Handshake();
            f.Server("220 mx.example.test ESMTP\r\n");
            f.Client("EHLO c.example.net\r\n");
            f.Server("250-mx.example.test\r\n250-PIPELINING\r\n");
            f.Client("MAIL FROM:<x@example.net>\r\nRCPT TO:<y@example.test>\r\nDATA\r\n");
            f.ClientUnacked(300, seq: f.ClientSeq + 40 + (uint)i);
            f.Reset(fromClient: i % 2 == 0);
        }
        Assert.Equal(12, e.Flows.LiveFlows.Count());
        Mail(new SmtpFrames(e, 25, 42000), Later);
        var a = e.Complete(new InputSummary { Path = "after" });

        Assert.Equal(13, a.Flows.Count);
        Assert.Equal(expected, Describe(a, 42000));
    }

    [Fact]
    public void SessionsToOneServer_ShareCapabilitiesAndReplyLines_OtherRepliesKeepTheirs()
    {
        // The third session's server differs only by STARTTLS. On a thread of its own: the shared texts are per thread, and other tests' must not fill the bounds.
        CaptureAnalysis? a = null;
        var t = new Thread(() =>
        {
            var e = new Engine();
            Mail(new SmtpFrames(e, 25, 43000), 0);
            Mail(new SmtpFrames(e, 25, 43001), 1000);
            Mail(new SmtpFrames(e, 25, 43002), 2000, "250-mx.example.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 SIZE 10000000\r\n");
            a = e.Complete(new InputSummary { Path = "shared" });
        });
        t.Start();
        t.Join();

        var s = a!.Flows.OrderBy(f => f.ClientPort).Select(f => Assert.IsType<SmtpFlowState>(f.App).Session).ToList();
        Assert.Equal(3, s.Count);
        Assert.Same(s[0].Capabilities, s[1].Capabilities);
        Assert.NotSame(s[0].Capabilities, s[2].Capabilities);
        Assert.Equal(10_000_000, s[0].Capabilities!.SizeLimit);
        Assert.False(s[0].Capabilities!.StartTls);
        Assert.Equal(10_000_000, s[2].Capabilities!.SizeLimit);
        Assert.True(s[2].Capabilities!.StartTls);

        var ehlo = s.Select(x => x.Commands.Single(c => c.Verb == "EHLO").Reply!).ToList();
        Assert.Same(ehlo[0].TextLines, ehlo[1].TextLines);
        Assert.Equal(["mx.example.test", "PIPELINING", "SIZE 10000000"], ehlo[1].TextLines);
        Assert.Equal(["mx.example.test", "PIPELINING", "STARTTLS", "SIZE 10000000"], ehlo[2].TextLines);
        Assert.NotSame(ehlo[0], ehlo[1]); // the replies themselves (their times) are each session's
    }

    /// <summary>One mail, accepted; its bytes cover the sequence numbers the sessions before it left buffered.</summary>
    private static void Mail(SmtpFrames f, long startMs, string ehloReply = "250-mx.example.test\r\n250-PIPELINING\r\n250 SIZE 10000000\r\n")
    {
        f.NowMs = startMs;
        f.Handshake();
        f.Server("220 mx.example.test ESMTP\r\n", startMs + 10);
        f.Client("EHLO client.example.net\r\n", startMs + 20);
        f.Server(ehloReply, startMs + 30);
        f.Client("MAIL FROM:<a@example.net>\r\n", startMs + 40);
        f.Server("250 2.1.0 Ok\r\n", startMs + 50);
        f.Client("RCPT TO:<b@example.test>\r\n", startMs + 60);
        f.Server("250 2.1.5 Ok\r\n", startMs + 70);
        f.Client("DATA\r\n", startMs + 80);
        f.Server("354 go ahead\r\n", startMs + 90);
        f.Client("Subject: x\r\n\r\n" + new string('m', 400) + "\r\n.\r\n", startMs + 100);
        f.Server("250 2.0.0 Ok: queued as ABC\r\n", startMs + 110);
        f.Client("QUIT\r\n", startMs + 120);
        f.Server("221 2.0.0 Bye\r\n", startMs + 130);
        f.Fin();
    }

    /// <summary>What the session on <paramref name="clientPort"/> decoded: its commands and replies, transactions,
    /// anomalies and streams.</summary>
    private static string Describe(CaptureAnalysis a, ushort clientPort)
    {
        var flow = Assert.Single(a.Flows, x => x.ClientPort == clientPort);
        var s = Assert.IsType<SmtpFlowState>(flow.App);
        var d = new StringBuilder();
        foreach (var c in s.Session.Commands)
            d.Append(c.Verb).Append(' ').Append(c.Argument).Append(" -> ").Append(c.Reply?.Code)
             .Append(' ').Append(string.Join("|", c.Reply?.TextLines ?? [])).Append('\n');
        foreach (var t in s.Session.Transactions) d.Append(t.Outcome).Append(' ').Append(t.MessageBytes).Append('\n');
        var an = s.Session.Anomalies;
        d.Append($"gaps {an.ClientGaps}/{an.ServerGaps}/{an.GapBytes} unknown {an.UnknownCommands} abandoned {s.Session.ClientAbandoned}/{s.Session.ServerAbandoned}\n");
        d.Append(s.End).Append(' ').Append(s.Session.CloseReason);
        return d.ToString();
    }
}
