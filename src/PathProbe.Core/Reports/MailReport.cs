using System.Globalization;
using System.Text;
using PathProbe.Analysis.Smtp;
using PathProbe.Flows;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;
using static PathProbe.Findings.FindingText;

namespace PathProbe.Reports;

/// <summary>The "Mail" section of the text report: one line per SMTP transaction, like a mail log (time, client →
/// server, from, to, size, outcome with the reply), and one line per session that carried no visible transaction.
/// Everything from packets goes through <see cref="SafeText.Clean"/>.</summary>
internal static class MailReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private const int MaxLines = 200;

    public static void Write(TextWriter o, IReadOnlyList<CaptureAnalysis> analyses)
    {
        var stats = analyses.Select(a => a.Smtp).Where(s => s is not null).ToList();
        var lines = new List<(Timestamp Time, string Line)>();
        foreach (var a in analyses)
            foreach (var f in a.Flows)
                if (f.App is SmtpFlowState s) Lines(f, s, lines);
        long notDecoded = stats.Sum(s => s!.FlowsNotDecoded);
        long abandoned = stats.Sum(s => s!.StreamsAbandoned);
        if (lines.Count == 0 && notDecoded == 0) return;

        o.WriteLine();
        int sessions = analyses.Sum(a => a.Flows.Count(f => f.App is SmtpFlowState));
        o.WriteLine($"Mail ({Count(sessions, "SMTP session")}" +
                    (notDecoded > 0 ? $"; {N(notDecoded)} more not decoded (limit of concurrent SMTP sessions)" : "") +
                    (abandoned > 0 ? $"; {N(abandoned)} stream directions given up at a reassembly bound" : "") +
                    (lines.Count > MaxLines ? $"; the first {MaxLines} of {N(lines.Count)} lines, --json lists all" : "") + ")");
        foreach (var (_, line) in lines.OrderBy(l => l.Time).Take(MaxLines)) o.WriteLine(line);
    }

    private static void Lines(Flow f, SmtpFlowState s, List<(Timestamp, string)> lines)
    {
        var session = s.Session;
        string peers = $"{f.ClientEndpoint} → {f.ServerEndpoint}";
        foreach (var tx in session.Transactions)
        {
            var sb = new StringBuilder("  ").Append(Time(tx.MailTime)).Append("  ").Append(peers);
            sb.Append("  from <").Append(Clean(tx.Sender, 100)).Append('>');
            int rcpts = tx.Recipients.Count + tx.RecipientsNotKept;
            sb.Append("  to ");
            if (tx.Recipients.Count > 0) sb.Append('<').Append(Clean(tx.Recipients[0].Address, 100)).Append('>');
            sb.Append(" (").Append(rcpts.ToString(Inv)).Append(')');
            if (tx.DataCommandTime is not null || tx.MessageBytes > 0)
                sb.Append("  size ").Append(tx.SizeApproximate ? "~" : "").Append(TextReport.Bytes(tx.MessageBytes));
            else if (tx.DeclaredSize >= 0)
                sb.Append("  SIZE=").Append(TextReport.Bytes(tx.DeclaredSize));
            sb.Append("  ").Append(Outcome(s, tx));
            lines.Add((tx.MailTime, sb.ToString()));
        }
        if (session.Transactions.Count > 0) return;

        // Sessions without a visible transaction: say why, so every SMTP connection appears once.
        string what = session.ImplicitTls ? "implicit TLS (port 465): mail not visible"
            : session.TlsStarted ? "STARTTLS: the mail went encrypted, not visible"
            : session.Greeting is { Code: >= 400 } g ? $"turned away at the greeting: {Reply(g)}"
            : session.Greeting is null ? $"no greeting from the server ({EndWords(s)})"
            : $"no mail transaction ({SmtpFlowState.PhaseName(s.LastActivePhase)}; {EndWords(s)})";
        lines.Add((f.Start, $"  {Time(f.Start)}  {peers}  {what}"));
    }

    private static string Outcome(SmtpFlowState s, SmtpTransaction tx) => tx.Outcome switch
    {
        SmtpOutcome.Accepted or SmtpOutcome.Deferred or SmtpOutcome.Rejected =>
            SmtpAnalyzer.OutcomeName(tx.Outcome) + (DecidingReply(s.Session, tx) is { } r ? " " + Reply(r) : tx.OutcomeReason is { } why ? $" ({Clean(why, 120)})" : ""),
        SmtpOutcome.Aborted => $"aborted in {SmtpFlowState.PhaseName(tx.EndPhase)} ({Clean(tx.OutcomeReason ?? "", 120)})",
        SmtpOutcome.Incomplete => $"incomplete in {SmtpFlowState.PhaseName(tx.EndPhase)} (capture ended)",
        _ => $"in progress ({SmtpFlowState.PhaseName(tx.EndPhase)})",
    };

    /// <summary>The reply that decided the transaction: the final reply, else the refusal of MAIL or of the recipients.</summary>
    private static SmtpReply? DecidingReply(SmtpSession session, SmtpTransaction tx)
    {
        if (tx.FinalReply is { } fr) return fr;
        SmtpReply? last = null;
        foreach (var c in session.Commands)
            if (c.Transaction == tx.Index && c.Reply is { Code: >= 400 } r) last ??= r;
        if (last is null && tx.Outcome == SmtpOutcome.Deferred)
            foreach (var c in session.Commands)
                if (c.Reply is { Code: 421 } r421 && c.Time >= tx.MailTime) return r421;
        return last;
    }

    private static string EndWords(SmtpFlowState s) => SmtpFlowState.EndName(s.End);

    private static string Reply(SmtpReply r) =>
        $"{r.Code.ToString(Inv)}{(r.EnhancedCode is null ? "" : " " + Clean(r.EnhancedCode, 16))}{(r.Text.Length == 0 ? "" : " " + Clean(r.Text, 160))}";

    private static string Time(Timestamp t) => t.ToIso8601()[..23].Replace('T', ' ');

    private static string Clean(string s, int max) => SafeText.Clean(s, max);

    private static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n.ToString(Inv)} {noun}s";
}
