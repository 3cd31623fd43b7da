using System.Globalization;
using System.Text;
using PathProbe.Analysis.Smtp;
using PathProbe.Findings.Kinds;
using PathProbe.Flows;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;
using static PathProbe.Findings.FindingText;

namespace PathProbe.Reports;

/// <summary>The "Mail" section of the text report: outcome counts first, then one line per SMTP transaction like a
/// mail log (time, client → server, from, to, size, outcome with the reply), those that did not succeed first, and
/// one line per session that carried no visible transaction. Everything from packets goes through
/// <see cref="SafeText.Clean"/>.</summary>
internal static class MailReport
{
    private const int MaxFailedLines = 200;

    /// <summary>A line of the report: a transaction, or a session without one (<paramref name="Tx"/> null). Its text is
    /// made only when it is shown (a capture of 18,000 sessions shows a few of them).</summary>
    private readonly record struct Entry(Timestamp Time, bool Failed, Flow Flow, SmtpFlowState State, SmtpTransaction? Tx);

    public static void Write(TextWriter o, IReadOnlyList<CaptureAnalysis> analyses, int mailRows, int width)
    {
        var stats = analyses.Select(a => a.Smtp).Where(s => s is not null).ToList();
        var entries = new List<Entry>();
        var counts = new Dictionary<string, int>();
        var classes = new Dictionary<string, Dictionary<string, int>>();
        int sessions = 0, transactions = 0, noTransaction = 0;
        foreach (var a in analyses)
            foreach (var f in a.Flows)
                if (f.App is SmtpFlowState { Candidate: false } s) // a proxy exchange never followed by SMTP is no session
                {
                    sessions++;
                    transactions += s.Session.Transactions.Count;
                    if (s.Session.Transactions.Count == 0) noTransaction++;
                    Lines(f, s, entries, counts, classes);
                }
        long notDecoded = stats.Sum(s => s!.FlowsNotDecoded);
        // Sessions decoded whose flows were not kept for the report (beyond the report's flow limit).
        long notListed = Math.Max(0, stats.Sum(s => s!.Flows) - sessions);
        long abandoned = stats.Sum(s => s!.StreamsAbandoned);
        if (entries.Count == 0 && notDecoded == 0 && notListed == 0) return;

        o.WriteLine();
        var parts = new List<string>();
        foreach (var outcome in new[] { "accepted", "deferred", "rejected", "aborted", "incomplete", "in progress" })
        {
            int n = counts.GetValueOrDefault(outcome);
            if (n == 0 && outcome is not "accepted") continue;
            string by = classes.TryGetValue(outcome, out var c) && c.Count > 0
                ? " (" + string.Join(", ", c.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{N(kv.Value)} {kv.Key}")) + ")"
                : "";
            parts.Add($"{N(n)} {outcome}{by}");
        }
        if (noTransaction > 0) parts.Add($"{Count(noTransaction, "session")} without a visible transaction");
        TextReport.Wrap(o, "", $"Mail: {Count(sessions, "SMTP session")}, {Count(transactions, "transaction")}: {string.Join("; ", parts)}" +
                               (notListed > 0 ? $"; {N(notListed)} more sessions decoded but not listed (report limit of flows)" : "") +
                               (notDecoded > 0 ? $"; {N(notDecoded)} more sessions not decoded (limit of concurrent SMTP sessions)" : "") +
                               (abandoned > 0 ? $"; {N(abandoned)} stream directions given up at a reassembly bound" : ""), width, "  ");

        var failed = entries.Where(e => e.Failed).OrderBy(e => e.Time).ToList();
        var others = entries.Where(e => !e.Failed).OrderBy(e => e.Time).ToList();
        if (failed.Count > 0)
        {
            o.WriteLine(failed.Count > MaxFailedLines
                ? $"  Not delivered (the first {N(MaxFailedLines)} of {N(failed.Count)}; --json lists all):"
                : $"  Not delivered or not seen to finish ({N(failed.Count)}):");
            foreach (var e in failed.Take(MaxFailedLines)) TextReport.Wrap(o, "    ", Line(e), width, "        ");
        }
        if (others.Count > 0)
        {
            int shown = Math.Min(Math.Max(0, mailRows), others.Count);
            o.WriteLine(shown < others.Count
                ? $"  Delivered and other sessions ({N(others.Count)}; the first {N(shown)}, --mail-rows N shows more):"
                : $"  Delivered and other sessions ({N(others.Count)}):");
            foreach (var e in others.Take(shown)) TextReport.Wrap(o, "    ", Line(e), width, "        ");
        }
    }

    private static void Lines(Flow f, SmtpFlowState s, List<Entry> entries, Dictionary<string, int> counts, Dictionary<string, Dictionary<string, int>> classes)
    {
        if (s.Candidate) return;
        var session = s.Session;
        foreach (var tx in session.Transactions)
        {
            string outcome = tx.Outcome switch
            {
                SmtpOutcome.Accepted => "accepted", SmtpOutcome.Deferred => "deferred", SmtpOutcome.Rejected => "rejected",
                SmtpOutcome.Aborted => "aborted", SmtpOutcome.Incomplete => "incomplete", _ => "in progress",
            };
            counts[outcome] = counts.GetValueOrDefault(outcome) + 1;
            if (tx.Outcome is SmtpOutcome.Deferred or SmtpOutcome.Rejected)
            {
                var deciding = DecidingReply(session, tx);
                string cls = deciding is null ? "other" : SmtpReplyClass.Classify(deciding).Class;
                if (!classes.TryGetValue(outcome, out var byClass)) classes[outcome] = byClass = new Dictionary<string, int>();
                byClass[cls] = byClass.GetValueOrDefault(cls) + 1;
            }
            entries.Add(new Entry(tx.MailTime, tx.Outcome != SmtpOutcome.Accepted, f, s, tx));
        }
        if (session.Transactions.Count > 0) return;

        // Sessions without a visible transaction: say why, so every SMTP connection appears once.
        bool refused = session.Greeting is { Code: >= 400 };
        entries.Add(new Entry(f.Start, refused || session.Greeting is null && !session.ImplicitTls, f, s, null));
    }

    /// <summary>The text of a report line.</summary>
    private static string Line(Entry e)
    {
        var (f, s, tx) = (e.Flow, e.State, e.Tx);
        var session = s.Session;
        string peers = $"{f.ClientEndpoint} → {f.ServerEndpoint}{Via(session.Proxy)}";
        if (tx is not null)
        {
            var sb = new StringBuilder(Time(tx.MailTime)).Append("  ").Append(peers);
            sb.Append("  from <").Append(Clean(tx.Sender, 100)).Append('>');
            int rcpts = tx.Recipients.Count + tx.RecipientsNotKept;
            sb.Append("  to ");
            if (tx.Recipients.Count > 0) sb.Append('<').Append(Clean(tx.Recipients[0].Address, 100)).Append("> ");
            sb.Append('(').Append(Count(rcpts, "recipient")).Append(')');
            if (tx.DataCommandTime is not null || tx.MessageBytes > 0)
                sb.Append("  size ").Append(Bytes(new PathProbe.Findings.MessageSize(tx.MessageBytes, tx.SizeApproximate)));
            else if (tx.DeclaredSize >= 0)
                sb.Append("  SIZE=").Append(Bytes(tx.DeclaredSize));
            sb.Append("  ").Append(Outcome(session, tx));
            // Bytes the capture missed (TCP delivered them): the outcome above is the server's, not a guess.
            if (tx.CaptureGapBytes > 0) sb.Append("; gap in capture: ").Append(Bytes(tx.CaptureGapBytes)).Append(" of the client's stream not captured");
            return sb.ToString();
        }
        bool refused = session.Greeting is { Code: >= 400 };
        string what = session.ImplicitTls ? "implicit TLS (port 465): mail not visible"
            : session.TlsStarted ? "STARTTLS: the mail went encrypted, not visible"
            : refused ? $"turned away at the greeting: {Reply(session.Greeting!)}"
            : session.Greeting is null && s.StartedMidSession ? $"phase unknown: the capture started mid-session (connection {SmtpFlowState.EndName(s.End)})"
            : session.Greeting is null ? $"no greeting from the server (connection {SmtpFlowState.EndName(s.End)})"
            : $"no mail transaction (last phase {SmtpFlowState.PhaseName(s.LastActivePhase)}; connection {SmtpFlowState.EndName(s.End)})";
        return $"{Time(f.Start)}  {peers}  {what}";
    }

    /// <summary>" via HTTP CONNECT mailin.example:25", " via PROXY protocol v2 from 192.0.2.7:40512".</summary>
    private static string Via(SmtpProxy? p) => p is null ? "" :
        $" via {SmtpProxy.KindWords(p.Kind)}" +
        (p.Target is { } t ? " to " + Clean(t, 100) : p.Source is { } src ? " from " + Clean(src, 60) : "") +
        (p.State == SmtpProxyState.Failed ? $" (failed: {Clean(p.FailureReason ?? "", 80)})" : "");

    private static string Outcome(SmtpSession session, SmtpTransaction tx) => tx.Outcome switch
    {
        SmtpOutcome.Accepted or SmtpOutcome.Deferred or SmtpOutcome.Rejected =>
            SmtpWords.OutcomeName(tx.Outcome) + Decision(session, tx),
        SmtpOutcome.Aborted => $"aborted in {SmtpWords.PhaseName(tx.EndPhase)} ({Clean(tx.OutcomeReason ?? "", 120)})",
        SmtpOutcome.Incomplete => $"incomplete in {SmtpWords.PhaseName(tx.EndPhase)} (capture ended)",
        _ => $"in progress ({SmtpWords.PhaseName(tx.EndPhase)})",
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
            if (tx.RecipientsDeferred > 0) parts.Add($"{(parts.Count == 0 ? Count(tx.RecipientsDeferred, "recipient") : N(tx.RecipientsDeferred))} deferred{(deferred is null ? "" : " " + Reply(deferred, 100))}");
            return ": " + string.Join("; ", parts);
        }
        if (tx.DataRefusal is { } dr) return " " + Reply(dr);
        foreach (var c in session.Commands)
            if (c.Reply is { Code: 421 } r421 && c.Time >= tx.MailTime) return " " + Reply(r421);
        return tx.OutcomeReason is { } why ? $" ({Clean(why, 120)})" : "";
    }

    /// <summary>The reply that decided the transaction, for its class in the counts: the reply to the data, else the
    /// refusal of MAIL, else the first refused recipient's, else the refusal of DATA, else a 421 that ended it.</summary>
    internal static SmtpReply? DecidingReply(SmtpSession session, SmtpTransaction tx)
    {
        if (tx.FinalReply is { } fr) return fr;
        if (tx.MailRefused)
            foreach (var c in session.Commands)
                if (c.Transaction == tx.Index && c.Kind == SmtpCommandKind.Mail && c.Reply is { Code: >= 400 } mr) return mr;
        if (tx.RecipientsAccepted == 0 && tx.RecipientsDeferred + tx.RecipientsRejected > 0)
            return tx.Recipients.FirstOrDefault(r => r.Reply is { Code: >= 400 })?.Reply;
        if (tx.DataRefusal is { } dr) return dr;
        foreach (var c in session.Commands)
            if (c.Reply is { Code: 421 } r421 && c.Time >= tx.MailTime) return r421;
        return null;
    }

    /// <summary>"250 2.0.0 OK id=1lHkUh-008hPw-NY": the code, the enhanced code and the text that carries the outcome
    /// (<see cref="SmtpReply.OutcomeText"/>), escaped.</summary>
    private static string Reply(SmtpReply r, int max = 160) =>
        $"{r.Code.ToString(CultureInfo.InvariantCulture)}{(r.EnhancedCode is null ? "" : " " + Clean(r.EnhancedCode, 16))}{(r.OutcomeText.Length == 0 ? "" : " " + Clean(r.OutcomeText, max))}";

    private static string Clean(string s, int max) => SafeText.Clean(s, max);
}
