using System.Globalization;
using PathProbe.Protocols.Smtp;
using static PathProbe.Findings.FindingText;

namespace PathProbe.Findings.Kinds;

/// <summary>SMTP phases and positions in words and tokens (one place for every writer).</summary>
public static class SmtpWords
{
    /// <summary>Stable kebab-case name of a phase (JSON).</summary>
    public static string PhaseName(SmtpPhase p) => p switch
    {
        SmtpPhase.Connect => "connect",
        SmtpPhase.Greeting => "greeting",
        SmtpPhase.Ehlo => "ehlo",
        SmtpPhase.StartTls => "starttls",
        SmtpPhase.Tls => "tls",
        SmtpPhase.Auth => "auth",
        SmtpPhase.Ready => "ready",
        SmtpPhase.Mail => "mail",
        SmtpPhase.Rcpt => "rcpt",
        SmtpPhase.DataCommand => "data-command",
        SmtpPhase.Data => "data",
        SmtpPhase.DataSent => "data-sent",
        SmtpPhase.Bdat => "bdat",
        SmtpPhase.Quit => "quit",
        SmtpPhase.ServerClosing => "closing",
        _ => "closed",
    };

    public static string OutcomeName(SmtpOutcome o) => o switch
    {
        SmtpOutcome.Accepted => "accepted",
        SmtpOutcome.Deferred => "deferred",
        SmtpOutcome.Rejected => "rejected",
        SmtpOutcome.Aborted => "aborted",
        SmtpOutcome.Incomplete => "incomplete",
        _ => "in-progress",
    };

    /// <summary>"DATA after 354 (transaction 1, 22.7 kB of the message sent)": the message bytes come from the flow's
    /// own numbers when <paramref name="flow"/> is given and has that transaction (pass it when the problem never
    /// recovered, so the transaction ended where the position says; after a recovery the position's own count, taken
    /// when the problem began, is the fact).</summary>
    public static string Position(SmtpPosition p, FlowFacts? flow)
    {
        string txn = $"transaction {p.Transaction.ToString(CultureInfo.InvariantCulture)}";
        var size = (p.Transaction > 0 ? flow?.Message(p.Transaction) : null) ?? p.Message;
        string rcpt = Count(p.Recipients, "recipient");
        return p.Phase switch
        {
            SmtpPhase.Connect => p.ImplicitTls ? "implicit TLS (port 465), not decoded"
                : p.MidSession ? "an unknown phase (capture started mid-session)" : "connected, waiting for the server's greeting",
            SmtpPhase.Greeting => p.GreetingCode is not (0 or 220) ? $"greeting answered {p.GreetingCode} (refused at connect)" : "after the greeting, before EHLO",
            SmtpPhase.Ehlo => p.WaitingForEhloReply ? $"{(p.UsedHelo ? "HELO" : "EHLO")} sent, waiting for its reply" : "after EHLO",
            SmtpPhase.StartTls => "STARTTLS sent, waiting for its 220",
            SmtpPhase.Tls => p.ImplicitTls ? "inside implicit TLS (port 465), not decoded" : "inside TLS after STARTTLS, not decoded",
            SmtpPhase.Auth => p.AuthResult == 0 ? $"AUTH {p.AuthMechanism} in progress" : $"after AUTH {p.AuthMechanism} ({p.AuthResult})",
            SmtpPhase.Ready => p.Transaction == 0 ? "after EHLO, no mail transaction yet" : $"between transactions (after {txn})",
            SmtpPhase.Mail => $"MAIL FROM sent ({txn})",
            SmtpPhase.Rcpt => $"RCPT TO ({txn}, {rcpt})",
            SmtpPhase.DataCommand => $"DATA sent, waiting for 354 ({txn})",
            SmtpPhase.Data => $"DATA after 354 ({txn}, {Bytes(size)} of the message sent)",
            SmtpPhase.DataSent => $"end of data sent, waiting for the final reply ({txn}, {Bytes(size)} message)",
            SmtpPhase.Bdat => $"BDAT chunks ({txn}, {Bytes(size)} of the message sent)",
            SmtpPhase.Quit => "QUIT sent",
            SmtpPhase.ServerClosing => p.CutShortBy421
                ? $"DATA cut short by the server's 421 ({txn}, {Bytes(size)} of the message sent; the server closed the session)"
                : "a session the server closed with 421",
            _ => "closed",
        };
    }

    /// <summary>One position, or the most common with how many others ("in X (and 2 other positions)").</summary>
    public static string Positions(IEnumerable<(SmtpPosition? At, FlowFacts? Flow)> items)
    {
        var texts = items.Where(x => x.At is not null).Select(x => Position(x.At!, x.Flow)).ToList();
        if (texts.Count == 0) return "";
        var groups = texts.GroupBy(t => t).OrderByDescending(g => g.Count()).ToList();
        return groups.Count == 1 ? $"in {groups[0].Key}" : $"in {groups[0].Key} (and {Count(groups.Count - 1, "other position")})";
    }
}
