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

    private sealed record Entry(Timestamp Time, bool Failed, string Line);

    public static void Write(TextWriter o, IReadOnlyList<CaptureAnalysis> analyses, int mailRows, int width)
    {
        var stats = analyses.Select(a => a.Smtp).Where(s => s is not null).ToList();
        var entries = new List<Entry>();
        var counts = new Dictionary<string, int>();
        var classes = new Dictionary<string, Dictionary<string, int>>();
        int sessions = 0, transactions = 0, noTransaction = 0;
        foreach (var a in analyses)
            foreach (var f in a.Flows)
                if (f.App is SmtpFlowState s)
                {
                    sessions++;
                    transactions += s.Session.Transactions.Count;
                    if (s.Session.Transactions.Count == 0) noTransaction++;
                    Lines(f, s, entries, counts, classes);
                }
        long notDecoded = stats.Sum(s => s!.FlowsNotDecoded);
        long abandoned = stats.Sum(s => s!.StreamsAbandoned);
        if (entries.Count == 0 && notDecoded == 0) return;

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
                               (notDecoded > 0 ? $"; {N(notDecoded)} more sessions not decoded (limit of concurrent SMTP sessions)" : "") +
                               (abandoned > 0 ? $"; {N(abandoned)} stream directions given up at a reassembly bound" : ""), width, "  ");

        var failed = entries.Where(e => e.Failed).OrderBy(e => e.Time).ToList();
        var others = entries.Where(e => !e.Failed).OrderBy(e => e.Time).ToList();
        if (failed.Count > 0)
        {
            o.WriteLine(failed.Count > MaxFailedLines
                ? $"  Not delivered (the first {N(MaxFailedLines)} of {N(failed.Count)}; --json lists all):"
                : $"  Not delivered or not seen to finish ({N(failed.Count)}):");
            foreach (var e in failed.Take(MaxFailedLines)) TextReport.Wrap(o, "    ", e.Line, width, "        ");
        }
        if (others.Count > 0)
        {
            int shown = Math.Min(Math.Max(0, mailRows), others.Count);
            o.WriteLine(shown < others.Count
                ? $"  Delivered and other sessions ({N(others.Count)}; the first {N(shown)}, --mail-rows N shows more):"
                : $"  Delivered and other sessions ({N(others.Count)}):");
            foreach (var e in others.Take(shown)) TextReport.Wrap(o, "    ", e.Line, width, "        ");
        }
    }

    private static void Lines(Flow f, SmtpFlowState s, List<Entry> entries, Dictionary<string, int> counts, Dictionary<string, Dictionary<string, int>> classes)
    {
        var session = s.Session;
        string peers = $"{f.ClientEndpoint} → {f.ServerEndpoint}";
        foreach (var tx in session.Transactions)
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
            var deciding = DecidingReply(session, tx);
            sb.Append("  ").Append(Outcome(tx, deciding));
            string outcome = tx.Outcome switch
            {
                SmtpOutcome.Accepted => "accepted", SmtpOutcome.Deferred => "deferred", SmtpOutcome.Rejected => "rejected",
                SmtpOutcome.Aborted => "aborted", SmtpOutcome.Incomplete => "incomplete", _ => "in progress",
            };
            counts[outcome] = counts.GetValueOrDefault(outcome) + 1;
            if (tx.Outcome is SmtpOutcome.Deferred or SmtpOutcome.Rejected)
            {
                string cls = deciding is null ? "other" : SmtpReplyClass.Classify(deciding).Class;
                if (!classes.TryGetValue(outcome, out var byClass)) classes[outcome] = byClass = new Dictionary<string, int>();
                byClass[cls] = byClass.GetValueOrDefault(cls) + 1;
            }
            entries.Add(new Entry(tx.MailTime, tx.Outcome != SmtpOutcome.Accepted, sb.ToString()));
        }
        if (session.Transactions.Count > 0) return;

        // Sessions without a visible transaction: say why, so every SMTP connection appears once.
        bool refused = session.Greeting is { Code: >= 400 };
        string what = session.ImplicitTls ? "implicit TLS (port 465): mail not visible"
            : session.TlsStarted ? "STARTTLS: the mail went encrypted, not visible"
            : refused ? $"turned away at the greeting: {Reply(session.Greeting!)}"
            : session.Greeting is null ? $"no greeting from the server (connection {SmtpFlowState.EndName(s.End)})"
            : $"no mail transaction (last phase {SmtpFlowState.PhaseName(s.LastActivePhase)}; connection {SmtpFlowState.EndName(s.End)})";
        entries.Add(new Entry(f.Start, refused || session.Greeting is null && !session.ImplicitTls, $"{Time(f.Start)}  {peers}  {what}"));
    }

    private static string Outcome(SmtpTransaction tx, SmtpReply? deciding) => tx.Outcome switch
    {
        SmtpOutcome.Accepted or SmtpOutcome.Deferred or SmtpOutcome.Rejected =>
            SmtpWords.OutcomeName(tx.Outcome) + (deciding is { } r ? " " + Reply(r) : tx.OutcomeReason is { } why ? $" ({Clean(why, 120)})" : ""),
        SmtpOutcome.Aborted => $"aborted in {SmtpWords.PhaseName(tx.EndPhase)} ({Clean(tx.OutcomeReason ?? "", 120)})",
        SmtpOutcome.Incomplete => $"incomplete in {SmtpWords.PhaseName(tx.EndPhase)} (capture ended)",
        _ => $"in progress ({SmtpWords.PhaseName(tx.EndPhase)})",
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

    private static string Reply(SmtpReply r) =>
        $"{r.Code.ToString(CultureInfo.InvariantCulture)}{(r.EnhancedCode is null ? "" : " " + Clean(r.EnhancedCode, 16))}{(r.Text.Length == 0 ? "" : " " + Clean(r.Text, 160))}";

    private static string Clean(string s, int max) => SafeText.Clean(s, max);
}
