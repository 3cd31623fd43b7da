using System.Text;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;

namespace PathProbe.Tests.Protocols.Smtp;

/// <summary>A session as a list of steps: "C:" client bytes, "S:" server bytes, in capture order; each step is one
/// TCP segment's worth of data (unless a test splits it further).</summary>
internal static class SmtpScript
{
    public static readonly Timestamp T0 = new(1_700_000_000_000_000_000);
    public static Timestamp T(int step) => new(T0.UnixNanoseconds + (step + 1) * 1_000_000L);

    public static (bool client, byte[] data)[] Steps(params string[] steps) =>
        steps.Select(s => (s.StartsWith("C:"), Encoding.Latin1.GetBytes(s[2..]))).ToArray();

    /// <summary>Feeds the steps; <paramref name="chunk"/> returns the size of the next piece (default: whole step).</summary>
    public static SmtpSession Run((bool client, byte[] data)[] steps, Func<int, int>? chunk = null, bool implicitTls = false)
    {
        var s = new SmtpSession(T0, implicitTls);
        for (int i = 0; i < steps.Length; i++)
        {
            var (client, data) = steps[i];
            for (int off = 0; off < data.Length;)
            {
                int n = chunk == null ? data.Length : Math.Clamp(chunk(data.Length - off), 1, data.Length - off);
                if (client) s.OnClientData(data.AsSpan(off, n), T(i));
                else s.OnServerData(data.AsSpan(off, n), T(i));
                off += n;
            }
        }
        return s;
    }

    public static SmtpSession Run(params string[] steps) => Run(Steps(steps));

    /// <summary>Everything the session kept, as text (to compare feeds and to search for leaked credentials).</summary>
    public static string Describe(SmtpSession s)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"phase={s.CurrentPhase} tx={s.TransactionIndex} banner={s.Banner} ehlo={s.EhloName} auth={s.AuthMechanism}/{s.AuthResult} tls={s.TlsStarted}");
        if (s.Capabilities is { } c)
            sb.AppendLine($"caps pipe={c.Pipelining} chunk={c.Chunking} tls={c.StartTls} 8bit={c.EightBitMime} utf8={c.SmtpUtf8} esc={c.EnhancedStatusCodes} size={c.SizeLimit} auth={string.Join(',', c.AuthMechanisms)} other={string.Join(',', c.Other)}");
        foreach (var cmd in s.Commands)
            sb.AppendLine($"cmd {cmd.Verb} [{cmd.Argument}] t={cmd.Time.UnixNanoseconds} i={cmd.Intermediate?.Code} {Reply(cmd.Reply)}");
        foreach (var tx in s.Transactions)
        {
            sb.AppendLine($"tx {tx.Index} from=<{tx.Sender}> [{tx.MailParameters}] size={tx.DeclaredSize} body={tx.Body} mail={tx.MailReplyCode} bytes={tx.MessageBytes} approx={tx.SizeApproximate} outcome={tx.Outcome} ({tx.OutcomeReason}) end={tx.EndPhase} final={Reply(tx.FinalReply)}");
            foreach (var r in tx.Recipients) sb.AppendLine($"  rcpt <{r.Address}> [{r.Parameters}] {r.ReplyCode} {r.EnhancedCode}");
        }
        var a = s.Anomalies;
        sb.AppendLine($"anomalies long={a.LongLines} trunc={a.TruncatedLines} nul={a.NulBytes} nonascii={a.NonAsciiBytes} barelf={a.BareLfLines} unparsable={a.UnparsableReplies} nocmd={a.RepliesWithoutCommand} mismatch={a.ReplyCodeMismatches} duringdata={a.RepliesDuringData} unknown={a.UnknownCommands} aftertls={a.BytesAfterStartTls} auth={a.AuthLinesSkipped} gaps={a.ClientGaps}/{a.ServerGaps}/{a.GapBytes}");
        sb.AppendLine($"bytes c={s.ClientBytes} s={s.ServerBytes} tls c={s.ClientTlsBytes} s={s.ServerTlsBytes}");
        return sb.ToString();
    }

    private static string Reply(SmtpReply? r) => r == null ? "-" : $"{r.Code} {r.EnhancedCode} '{r.Text}' lines={r.Lines} t={r.Time.UnixNanoseconds}";
}
