using System.Text;
using PathProbe.Analysis.Smtp;
using PathProbe.Pipeline;

namespace PathProbe.Tests.Analysis.Smtp;

/// <summary>
/// A session that closed gives its reassemblers (<c>SmtpAnalyzer.SpareStreams</c>) and its pending-command ring to the
/// next sessions: those must read exactly as sessions made from nothing.
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

    /// <summary>One mail, accepted; its bytes cover the sequence numbers the sessions before it left buffered.</summary>
    private static void Mail(SmtpFrames f, long startMs)
    {
        f.NowMs = startMs;
        f.Handshake();
        f.Server("220 mx.example.test ESMTP\r\n", startMs + 10);
        f.Client("EHLO client.example.net\r\n", startMs + 20);
        f.Server("250-mx.example.test\r\n250-PIPELINING\r\n250 SIZE 10000000\r\n", startMs + 30);
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
