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
        int sessions = analyses.Sum(a => a.Flows.Count(f => f.App is SmtpFlowState { Candidate: false }));
        o.WriteLine($"Mail ({Count(sessions, "SMTP session")}" +
                    (notDecoded > 0 ? $"; {N(notDecoded)} more not decoded (limit of concurrent SMTP sessions)" : "") +
                    (abandoned > 0 ? $"; {N(abandoned)} stream directions given up at a reassembly bound" : "") +
                    (lines.Count > MaxLines ? $"; the first {MaxLines} of {N(lines.Count)} lines, --json lists all" : "") + ")");
        foreach (var (_, line) in lines.OrderBy(l => l.Time).Take(MaxLines)) o.WriteLine(line);
    }

    private static void Lines(Flow f, SmtpFlowState s, List<(Timestamp, string)> lines)
    {
        if (s.Candidate) return;
        var session = s.Session;
        string peers = $"{f.ClientEndpoint} → {f.ServerEndpoint}{Via(session.Proxy)}";
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
            // Bytes the capture missed (TCP delivered them): the outcome above is the server's, not a guess.
            if (tx.CaptureGapBytes > 0) sb.Append("; gap in capture: ").Append(TextReport.Bytes(tx.CaptureGapBytes)).Append(" of the client's stream not captured");
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

    /// <summary>" via HTTP CONNECT mailin.example:25", " via PROXY protocol v2 from 192.0.2.7:40512".</summary>
    private static string Via(SmtpProxy? p) => p is null ? "" :
        $" via {SmtpProxy.KindWords(p.Kind)}" +
        (p.Target is { } t ? " to " + Clean(t, 100) : p.Source is { } src ? " from " + Clean(src, 60) : "") +
        (p.State == SmtpProxyState.Failed ? $" (failed: {Clean(p.FailureReason ?? "", 80)})" : "");

    private static string Outcome(SmtpFlowState s, SmtpTransaction tx) => tx.Outcome switch
    {
        SmtpOutcome.Accepted or SmtpOutcome.Deferred or SmtpOutcome.Rejected =>
            SmtpAnalyzer.OutcomeName(tx.Outcome) + Decision(s.Session, tx),
        SmtpOutcome.Aborted => $"aborted in {SmtpFlowState.PhaseName(tx.EndPhase)} ({Clean(tx.OutcomeReason ?? "", 120)})",
        SmtpOutcome.Incomplete => $"incomplete in {SmtpFlowState.PhaseName(tx.EndPhase)} (capture ended)",
        _ => $"in progress ({SmtpFlowState.PhaseName(tx.EndPhase)})",
    };

    /// <summary>The reply that decided the transaction, as its outcome line: the reply to the data (its last line for
    /// a 2xx, where the queue id is), else the refusal of MAIL, else each refused recipient class with its own reply
    /// ("1 recipient rejected 550 5.1.1 ...; 1 deferred 451 4.3.0 ..."), else the refusal of DATA.</summary>
    private static string Decision(SmtpSession session, SmtpTransaction tx)
    {
        if (tx.FinalReply is { } fr) return " " + Reply(fr);
        if (tx.MailRefused)
            foreach (var c in session.Commands)
                if (c.Transaction == tx.Index && c.Kind == SmtpCommandKind.Mail && c.Reply is { Code: >= 400 } mr) return " " + Reply(mr);
        if (tx.RecipientsAccepted == 0 && tx.RecipientsDeferred + tx.RecipientsRejected > 0)
        {
            var rejected = tx.Recipients.FirstOrDefault(r => r.Reply is { Code: >= 500 })?.Reply;
            var deferred = tx.Recipients.FirstOrDefault(r => r.Reply is { Code: >= 400 and < 500 })?.Reply;
            var parts = new List<string>();
            if (tx.RecipientsRejected > 0) parts.Add($"{Count(tx.RecipientsRejected, "recipient")} rejected{(rejected is null ? "" : " " + Reply(rejected, 100))}");
            if (tx.RecipientsDeferred > 0) parts.Add($"{(parts.Count == 0 ? Count(tx.RecipientsDeferred, "recipient") : tx.RecipientsDeferred.ToString(Inv))} deferred{(deferred is null ? "" : " " + Reply(deferred, 100))}");
            return ": " + string.Join("; ", parts);
        }
        if (tx.DataRefusal is { } dr) return " " + Reply(dr);
        foreach (var c in session.Commands)
            if (c.Reply is { Code: 421 } r421 && c.Time >= tx.MailTime) return " " + Reply(r421);
        return tx.OutcomeReason is { } why ? $" ({Clean(why, 120)})" : "";
    }

    private static string EndWords(SmtpFlowState s) => SmtpFlowState.EndName(s.End);

    /// <summary>"250 2.0.0 OK id=1lHkUh-008hPw-NY": the code, the enhanced code and the text that carries the outcome
    /// (<see cref="SmtpReply.OutcomeText"/>), escaped.</summary>
    private static string Reply(SmtpReply r, int max = 160) =>
        $"{r.Code.ToString(Inv)}{(r.EnhancedCode is null ? "" : " " + Clean(r.EnhancedCode, 16))}{(r.OutcomeText.Length == 0 ? "" : " " + Clean(r.OutcomeText, max))}";

    private static string Time(Timestamp t) => t.ToIso8601()[..23].Replace('T', ' ');

    private static string Clean(string s, int max) => SafeText.Clean(s, max);

    private static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n.ToString(Inv)} {noun}s";
}
