using System.Globalization;
using PathProbe.Analysis.Tcp;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Flows.Tcp;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;
using static PathProbe.Findings.FindingText;

namespace PathProbe.Analysis.Smtp;

public sealed partial class SmtpAnalyzer
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>A TCP stall that never recovered (the TCP detector has reported it, or is about to).</summary>
    private readonly record struct StallInfo(StallKind Kind, long Start, long Duration, bool SenderIsClient, long Outstanding, RetransmissionSeries Series)
    {
        public string KindName => TcpFindingDetector.KindName(Kind);

        public string Describe(Flow flow)
        {
            string sender = SenderIsClient ? "client" : "server", receiver = SenderIsClient ? "server" : "client";
            string what = Kind switch
            {
                StallKind.RtoBackoff when Series.Resends > 0 =>
                    $"the {sender} resent the same {Series.IpPacketSize.ToString(Inv)}-byte packet {Series.Resends.ToString(Inv)} times" +
                    (Series.LooksLikeBackoff ? " with RTO back-off" : "") + (Series.Acknowledged ? "" : $" and the {receiver} never acknowledged it"),
                StallKind.RtoBackoff => $"{Outstanding.ToString(Inv)} bytes of the {sender}'s data are missing here and no retransmission arrived",
                StallKind.ZeroWindow => $"the {receiver} kept its receive window closed",
                _ => $"the {sender} waited for the {receiver} with nothing outstanding",
            };
            return $"TCP stalled for {Sec(Duration)} ({KindName}: {what})" + BlackHole(flow, SenderIsClient);
        }
    }

    /// <summary>When the path-MTU detector decided that this direction is black-holed, say so: it is the reason.</summary>
    private static string BlackHole(Flow flow, bool senderIsClient)
    {
        var m = flow.Tcp?.MtuIfAny(senderIsClient);
        if (m is null || !m.Decided) return "";
        return m.DecidedAsReceiver
            ? "; the sender's full-size packets never arrive here: a path-MTU black hole upstream (see mtu-blackhole)"
            : m.LostMin != int.MaxValue
                ? $"; a path-MTU black hole: {m.LostMin.ToString(Inv)}-byte packets never get through, {m.DeliveredMax.ToString(Inv)}-byte ones do (see mtu-blackhole)"
                : "; a path-MTU black hole (see mtu-blackhole)";
    }

    private static StallInfo? UnrecoveredStall(TcpConnectionState c, Flow flow, long now)
    {
        // The TCP detector clears Stalled when it reports; an unrecovered stall leaves LastProgressTime at its start.
        bool open = c.Stalled;
        bool reported = c.StallsReported + c.StallsNotReported > 0 && c.LastProgressTime == c.StallStart && c.StallStart != 0;
        if (!open && !reported) return null;
        long endTime = flow.EndReason == FlowEnd.Reset ? flow.End.UnixNanoseconds : now;
        var sender = c.StallSenderIsClient ? c.Client : c.Server;
        var series = sender.Series.IsEmpty || sender.Series.Last < c.StallStart ? default : sender.Series;
        return new StallInfo(c.StallKind, c.StallStart, Math.Max(0, endTime - c.StallStart), c.StallSenderIsClient, c.StallOutstanding, series);
    }

    private void ReportFindings(Flow flow, SmtpFlowState s, StallInfo? stall)
    {
        var session = s.Session;
        var failures = CollectFailures(session);
        var deferrals = failures.Where(f => f.Reply.Code < 500).ToList();
        var rejects = failures.Where(f => f.Reply.Code >= 500).ToList();
        if (deferrals.Count > 0) ReportFailure(flow, s, deferrals, reject: false);
        if (rejects.Count > 0) ReportFailure(flow, s, rejects, reject: true);
        ReportAborted(flow, s, stall, failures.Any(f => f.Reply.Code == 421 || f.Verb == "greeting"));
        ReportSlow(flow, s);
    }

    // ---- smtp-deferral / smtp-reject ------------------------------------------------------------------------------

    private readonly record struct Failure(string Verb, SmtpCommandKind Kind, string? Argument, SmtpReply Reply, int Transaction);

    /// <summary>4xx/5xx replies that concern the mail (the greeting, MAIL, RCPT, DATA, the data, AUTH, HELO,
    /// STARTTLS, unsolicited 421s and replies that cut the data short). A 5xx to EHLO answered by a working HELO
    /// fallback, and refusals of optional commands (VRFY, EXPN, HELP, unknown verbs) are not problems.</summary>
    private static List<Failure> CollectFailures(SmtpSession session)
    {
        var list = new List<Failure>();
        if (session.Greeting is { Code: >= 400 } g) list.Add(new Failure("greeting", SmtpCommandKind.None, null, g, -1));
        var commands = session.Commands;
        for (int i = 0; i < commands.Count; i++)
        {
            var c = commands[i];
            if (c.Reply is not { Code: >= 400 } r) continue;
            bool relevant = r.Code == 421 || c.Kind switch
            {
                SmtpCommandKind.Mail or SmtpCommandKind.Rcpt or SmtpCommandKind.Data or SmtpCommandKind.EndOfData or SmtpCommandKind.Bdat or
                    SmtpCommandKind.Auth or SmtpCommandKind.Helo or SmtpCommandKind.StartTls or SmtpCommandKind.None => true,
                SmtpCommandKind.Ehlo => !LaterHeloWorked(commands, i),
                _ => false,
            };
            if (relevant) list.Add(new Failure(c.Verb, c.Kind, c.Argument, r, c.Transaction));
        }
        return list;
    }

    private static bool LaterHeloWorked(IReadOnlyList<SmtpCommand> commands, int from)
    {
        for (int j = from + 1; j < commands.Count; j++)
            if (commands[j].Kind is SmtpCommandKind.Helo or SmtpCommandKind.Ehlo && commands[j].Reply is { Code: >= 200 and < 300 }) return true;
        return false;
    }

    /// <summary>What happened on the flow around a failure's reply: whether the message was being sent, and whether
    /// a TCP stall began between the command and the reply.</summary>
    private static SmtpReplyContext Context(SmtpFlowState s, Failure f, out SmtpStallSeen? stall)
    {
        var session = s.Session;
        var tx = f.Transaction >= 0 ? session.Transactions.FirstOrDefault(t => t.Index == f.Transaction) : null;
        bool duringData = f.Kind is SmtpCommandKind.EndOfData or SmtpCommandKind.Bdat ||
                          f.Kind == SmtpCommandKind.None && tx is { DataStartTime: not null } ||
                          f.Kind == SmtpCommandKind.None && tx is { DataCommandTime: not null } && tx.FinalReply == f.Reply;
        stall = s.StallBetween(tx?.MailTime.UnixNanoseconds ?? 0, f.Reply.Time.UnixNanoseconds);
        return new SmtpReplyContext { DuringData = duringData, AfterStall = stall is not null };
    }

    private void ReportFailure(Flow flow, SmtpFlowState s, List<Failure> failures, bool reject)
    {
        var session = s.Session;
        var first = failures[0];
        var meaning = SmtpReplyClass.Classify(first.Reply, Context(s, first, out var stallBefore));
        string server = flow.ServerEndpoint;
        string what = first.Kind switch
        {
            _ when first.Verb == "greeting" => "the connection at the greeting",
            SmtpCommandKind.Mail => $"the sender ({Arg(first.Argument)})",
            SmtpCommandKind.Rcpt => $"a recipient ({Arg(first.Argument)})",
            SmtpCommandKind.Data => "DATA",
            SmtpCommandKind.EndOfData or SmtpCommandKind.Bdat => "the message after its data",
            SmtpCommandKind.Auth => $"AUTH {first.Argument}",
            SmtpCommandKind.Helo or SmtpCommandKind.Ehlo => $"{first.Verb} {first.Argument}",
            SmtpCommandKind.StartTls => "STARTTLS",
            SmtpCommandKind.None when first.Transaction >= 0 => "the message while its data was being sent",
            SmtpCommandKind.None => "the session with an unsolicited reply",
            _ => first.Verb,
        };
        string verb = reject ? "rejected" : first.Verb == "greeting" ? "turned away" : "deferred";
        string summary = $"server {server} {verb} {what}: {ReplyText(first.Reply)}";
        if (meaning.Kind == SmtpReplyKind.ServerTimeout)
        {
            // Not a rate limit: the server gave up waiting, and a stall before it says why.
            summary += stallBefore is { } st
                ? $"; the server's own timeout, after the flow stalled {(st.InData ? "in the message data " : "")}at {new Timestamp(st.Start).ToIso8601()} " +
                  $"({TcpFindingDetector.KindName(st.Kind)}; see stall){BlackHole(flow, st.SenderIsClient)}"
                : "";
        }

        var ev = new Evidence
        {
            { "classification", meaning.Class },
            { "server", server },
            { "client", flow.ClientEndpoint },
        };
        if (session.Banner is { } banner) ev.Add("banner", banner);
        if (meaning.Rule is { } rule) ev.Add("providerRule", rule.Id);
        if (meaning.Kind == SmtpReplyKind.ServerTimeout)
        {
            ev.Add("pathMtuBlackHole", stallBefore is { } bh && BlackHole(flow, bh.SenderIsClient).Length > 0);
            if (stallBefore is { } st)
                ev.Add("stall", new Evidence
                {
                    { "stallKind", TcpFindingDetector.KindName(st.Kind) },
                    { "start", new Timestamp(st.Start) },
                    { "secondsBeforeReply", Math.Round((first.Reply.Time.UnixNanoseconds - st.Start) / 1e9, 6) },
                    { "waiting", st.SenderIsClient ? "client" : "server" },
                    { "phase", st.Phase },
                });
        }

        // RFC 1870: compare the message (or the SIZE= the client declared) with the SIZE the server advertised.
        var tx = first.Transaction >= 0 ? session.Transactions.FirstOrDefault(t => t.Index == first.Transaction) : null;
        if (meaning.Class == "size")
        {
            long limit = session.Capabilities?.SizeLimit ?? -1;
            long message = tx?.MessageBytes ?? 0, declared = tx?.DeclaredSize ?? -1;
            long size = tx is { DataEndTime: not null } || message > 0 ? message : declared;
            string sizeText = size > 0 ? $"message {SmtpFlowState.Size(size)}{(tx?.SizeApproximate == true ? " (approximate: bytes missing from the capture)" : "")}" +
                                         (size == declared && message == 0 ? " (SIZE= in MAIL FROM)" : "") : "the message";
            summary += limit > 0
                ? (size > limit ? $"; the {sizeText} exceeds the advertised SIZE {SmtpFlowState.Size(limit)}"
                                : $"; the {sizeText} is within the advertised SIZE {SmtpFlowState.Size(limit)}, so the server counted differently or lowered its limit")
                : limit == 0 ? $"; the {sizeText}, and the server advertised SIZE without a limit"
                : $"; the {sizeText}, and the server advertised no SIZE limit";
            ev.Add("messageBytes", message);
            ev.Add("sizeApproximate", tx?.SizeApproximate ?? false);
            ev.Add("declaredSize", declared >= 0 ? declared : null);
            ev.Add("advertisedSizeLimit", limit >= 0 ? limit : null);
        }
        if (meaning.Kind != SmtpReplyKind.ServerTimeout || stallBefore is null) summary += $" ({meaning.Explanation})";
        if (failures.Count > 1) summary += $"; {failures.Count - 1} more {(reject ? "rejection" : "deferral")}{(failures.Count == 2 ? "" : "s")} in this session";

        var replies = new List<object?>();
        foreach (var f in failures.Take(_options.MaxRepliesPerFinding))
        {
            var r = new Evidence
            {
                { "command", f.Verb },
                { "code", f.Reply.Code },
                { "enhancedCode", f.Reply.EnhancedCode },
                { "text", f.Reply.FullText },
                { "time", f.Reply.Time },
                { "classification", SmtpReplyClass.Classify(f.Reply, Context(s, f, out _)).Class },
            };
            if (f.Argument is not null) r.Insert(1, new KeyValuePair<string, object?>("argument", f.Argument));
            if (f.Transaction >= 0) r.Add("transaction", f.Transaction + 1);
            replies.Add(r);
        }
        ev.Add("replies", replies);
        if (failures.Count > _options.MaxRepliesPerFinding) ev.Add("repliesNotListed", failures.Count - _options.MaxRepliesPerFinding);

        _report(new Finding
        {
            Kind = reject ? "smtp-reject" : "smtp-deferral",
            Severity = Severity.Warning,
            Flows = new[] { flow.Id },
            Time = first.Reply.Time,
            Summary = summary,
            Evidence = ev,
            Advice = FailureAdvice(meaning, reject),
        });
    }

    private static string FailureAdvice(SmtpReplyMeaning meaning, bool reject) => meaning.Class switch
    {
        "server-timeout" => "not a rate limit: the server gave up waiting for the client. Fix what stopped the client's data (the stall finding of this flow, " +
                            "and mtu-blackhole when there is one); if nothing stalled, check the client for long pauses and the server's timeout (Postfix: smtpd_timeout)",
        "recipient-rate-limit" => "nothing to change on the sending side: the recipient's provider accepts mail for that mailbox more slowly for now; the sender retries and gets through",
        _ when meaning.Rule is { Kind: SmtpReplyKind.Reputation } rule => $"{rule.Explanation}; check the sending IP and domain on blocklists and with the provider's postmaster tools",
        "rate-limit" => "send slower to this server: fewer parallel connections and fewer messages or recipients per connection " +
                        "(Postfix: smtp_destination_concurrency_limit, smtp_destination_rate_delay), and check whether the sending IP is on a blocklist",
        "reputation" => "check the sending IP and domain on blocklists (Spamhaus, the receiver's postmaster tools), make sure SPF, DKIM, DMARC and reverse DNS are in order " +
                        "(pathprobe dns DOMAIN --ip ADDRESS), and warm up new sending IPs slowly",
        "greylisting" => "nothing to fix when the sender retries: a real MTA gets through on a later attempt (usually within 5 to 15 minutes); keep the same sending IP for the retry",
        "reverse-dns" => "give the sending IP a PTR record whose name resolves back to that IP, and use that name in EHLO (pathprobe dns DOMAIN --ip ADDRESS --helo NAME checks both)",
        "size" => "send smaller messages (link to large files instead of attaching them) or raise the server's limit (Postfix: message_size_limit); " +
                  "a client should honour the SIZE the server advertises and declare SIZE= in MAIL FROM, so an oversized mail is refused before its data crosses the network",
        "authentication" => "check the credentials and the AUTH mechanism, and that AUTH is used only after STARTTLS",
        "sender-authentication" => "publish SPF for the sending IP and sign with DKIM for the From domain; pathprobe dns DOMAIN --ip ADDRESS checks SPF and DMARC",
        "relay-denied" => "the client must authenticate (submission on port 587 with AUTH) or the server must list it as a permitted relay",
        "address" => "check the address for typos and that the recipient exists on the receiving system",
        "mailbox" => "the recipient's mailbox is full or disabled: tell the recipient, or retry later",
        "server-resources" => "the receiving server is short of disk, queue space or capacity: its administrator must fix it; senders retry",
        "protocol" => "the client sent a command the server did not accept in that form or order: check the client's SMTP implementation or configuration",
        _ => reject ? "the message will bounce: read the reply text for the reason, and contact the receiving postmaster if it is not clear"
                    : "the sender keeps the message queued and retries; if deferrals persist, read the reply text and contact the receiving postmaster",
    };

    /// <summary>"421 4.4.2 text": a multi-line reply's lines joined, cut at 300 characters.</summary>
    private static string ReplyText(SmtpReply r)
    {
        string text = r.FullText;
        if (text.Length > 300) text = text[..299] + "…";
        return $"{r.Code.ToString(Inv)}{(r.EnhancedCode is null ? "" : " " + r.EnhancedCode)}{(text.Length == 0 ? "" : " " + text)}";
    }

    private static string Arg(string? a) => a ?? "";

    // ---- smtp-aborted ---------------------------------------------------------------------------------------------

    private void ReportAborted(Flow flow, SmtpFlowState s, StallInfo? stall, bool refusedBySession)
    {
        if (s.End is SmtpConnectionEnd.Evicted) return; // not followed: nothing is known about the end
        var session = s.Session;
        bool connected = flow.Tcp is { SynAckSeen: true } || session.ServerBytes > 0;
        if (!connected) return; // connect-timeout / connect-refused cover it

        // A transaction the network ended (not one the client left with RSET/QUIT, which keeps its own reason).
        SmtpTransaction? tx = null;
        foreach (var t in session.Transactions)
        {
            if (t.Outcome == SmtpOutcome.Incomplete || t.Outcome == SmtpOutcome.Aborted && t.OutcomeReason == session.CloseReason)
            {
                tx = t;
                break;
            }
        }

        bool incomplete = tx?.Outcome == SmtpOutcome.Incomplete || tx is null && s.End == SmtpConnectionEnd.CaptureEnded;
        string position;
        Timestamp time;
        if (tx is not null)
        {
            position = s.DescribeAt(tx.EndPhase);
            time = tx.MailTime;
        }
        else
        {
            // No transaction: only a session that was waiting for the server (greeting, a reply) or was in TLS when
            // the connection broke. A 421/4xx/5xx greeting and a missing 221 to QUIT explain themselves.
            if (refusedBySession) return;
            var phase = s.LastActivePhase;
            var lastCommand = session.Commands.Count > 0 ? session.Commands[^1] : null;
            bool waiting = session.Greeting is null && !session.ImplicitTls ||
                           lastCommand is { Reply: null } && lastCommand.Verb != "QUIT" ||
                           phase is SmtpPhase.Tls && s.End is SmtpConnectionEnd.Stalled; // a TLS session often ends with a RST
            if (!waiting) return;
            if (incomplete && !LongWait(session, s)) return;
            position = s.DescribeAt(phase);
            time = flow.Start;
        }
        Severity severity = incomplete ? Severity.Info : tx is not null ? Severity.Critical : Severity.Warning;
        string who = tx is null ? "the SMTP session" : $"the mail from <{tx.Sender}> to {Count(tx.Recipients.Count + tx.RecipientsNotKept, "recipient")}";
        string how = s.End switch
        {
            SmtpConnectionEnd.Stalled => s.EndDetail!,
            SmtpConnectionEnd.Reset => $"the connection was {s.EndDetail}",
            SmtpConnectionEnd.CaptureEnded => "the capture ended before it finished",
            _ => s.EndDetail ?? "the connection ended",
        };
        // The client's data stuck behind a path-MTU black hole: the capture ending is not why it did not finish.
        string hole = BlackHole(flow, senderIsClient: true);
        if (incomplete && hole.Length > 0 && tx is not null) severity = Severity.Critical;
        string summary = incomplete
            ? hole.Length > 0 && tx is not null
                ? $"{who} did not complete before the capture ended: {position}{hole}"
                : $"{who} was still in progress when the capture ended: {position}"
            : $"{who} never completed: {position}; {how}";

        var ev = new Evidence
        {
            { "phase", SmtpFlowState.PhaseName(tx?.EndPhase ?? s.LastActivePhase) },
            { "position", position },
            { "tcpEnd", SmtpFlowState.EndName(s.End) },
            { "tcpDetail", s.EndDetail },
            { "pathMtuBlackHole", hole.Length > 0 },
        };
        if (tx is not null)
        {
            ev.Add("transaction", tx.Index + 1);
            ev.Add("from", tx.Sender);
            ev.Add("recipients", tx.Recipients.Count + tx.RecipientsNotKept);
            ev.Add("recipientsAccepted", tx.RecipientsAccepted);
            ev.Add("messageBytes", tx.MessageBytes);
            ev.Add("declaredSize", tx.DeclaredSize >= 0 ? tx.DeclaredSize : null);
            ev.Add("outcome", OutcomeName(tx.Outcome));
        }
        if (stall is { } st)
        {
            var se = new Evidence
            {
                { "stallKind", st.KindName },
                { "start", new Timestamp(st.Start) },
                { "durationSeconds", Math.Round(st.Duration / 1e9, 6) },
                { "waiting", st.SenderIsClient ? "client" : "server" },
                { "outstandingBytes", st.Outstanding },
            };
            if (st.Series.Resends > 0)
            {
                se.Add("resends", st.Series.Resends);
                se.Add("ipPacketSize", st.Series.IpPacketSize);
                se.Add("backoff", st.Series.LooksLikeBackoff);
                se.Add("acknowledged", st.Series.Acknowledged);
            }
            ev.Add("stall", se);
        }

        _report(new Finding
        {
            Kind = "smtp-aborted",
            Severity = severity,
            Flows = new[] { flow.Id },
            Time = time,
            Summary = summary,
            Evidence = ev,
            Advice = s.End switch
            {
                _ when incomplete => "capture longer (until the server's final reply) to see how the mail ended",
                SmtpConnectionEnd.Stalled when stall is { Kind: StallKind.RtoBackoff, SenderIsClient: true } && (tx?.EndPhase is SmtpPhase.Data or SmtpPhase.Bdat) =>
                    "the dialogue worked until the message body, whose packets are full-size: a stall there is the mark of an MTU/MRU black hole on the path; " +
                    "compare the resent packet's size with the largest that got through, then lower the MTU or clamp the MSS and let ICMP 'fragmentation needed' / 'packet too big' through",
                SmtpConnectionEnd.Stalled => "see the stall finding of this flow for what the TCP connection waited for; the sender will retry the mail later",
                SmtpConnectionEnd.Reset => "find out which side reset and why: its MTA log (timeouts, a crash, a policy that drops the session), or a firewall or load balancer resetting idle or long connections",
                _ => "the sender keeps the mail queued and retries; look at both MTA logs for the same time",
            },
        });
    }

    /// <summary>The capture ended while the client waited longer than the reply threshold for something.</summary>
    private bool LongWait(SmtpSession session, SmtpFlowState s)
    {
        long end = s.Session.ClientLastTime is { } c && s.Session.ServerLastTime is { } sv ? Math.Max(c.UnixNanoseconds, sv.UnixNanoseconds) : 0;
        var lastCommand = session.Commands.Count > 0 ? session.Commands[^1] : null;
        return lastCommand is { Reply: null } && end - lastCommand.Time.UnixNanoseconds > (long)_options.ReplyThreshold.TotalNanoseconds;
    }

    public static string OutcomeName(SmtpOutcome o) => o switch
    {
        SmtpOutcome.Accepted => "accepted",
        SmtpOutcome.Deferred => "deferred",
        SmtpOutcome.Rejected => "rejected",
        SmtpOutcome.Aborted => "aborted",
        SmtpOutcome.Incomplete => "incomplete",
        _ => "in-progress",
    };

    // ---- smtp-slow-reply ------------------------------------------------------------------------------------------

    private void ReportSlow(Flow flow, SmtpFlowState s)
    {
        var session = s.Session;
        var slow = new List<(string Verb, long Nanos, long Threshold, SmtpReply Reply, Timestamp Sent)>();
        long greetLimit = (long)_options.GreetingThreshold.TotalNanoseconds;
        if (session.Greeting is { } g && session.GreetingDelay is { } gd && gd.Ticks * 100 > greetLimit)
            slow.Add(("greeting", gd.Ticks * 100, greetLimit, g, flow.Start));
        foreach (var c in session.Commands)
        {
            // AUTH's time includes the client's own credential round trips; a reply no command asked for has no start.
            if (c.Reply is not { } r || c.Kind is SmtpCommandKind.Auth or SmtpCommandKind.None) continue;
            bool endOfData = c.Kind == SmtpCommandKind.EndOfData ||
                             c.Kind == SmtpCommandKind.Bdat && c.Argument?.EndsWith("LAST", StringComparison.OrdinalIgnoreCase) == true;
            long limit = (long)(endOfData ? _options.DataReplyThreshold : _options.ReplyThreshold).TotalNanoseconds;
            long took = r.Time.UnixNanoseconds - c.Time.UnixNanoseconds;
            if (took > limit) slow.Add((c.Kind == SmtpCommandKind.EndOfData ? "end of data" : c.Verb, took, limit, r, c.Time));
        }
        if (slow.Count == 0) return;

        var worst = slow.MaxBy(x => x.Nanos);
        string server = flow.ServerEndpoint;
        string summary = worst.Verb == "greeting"
            ? $"server {server} took {Sec(worst.Nanos)} to send its greeting (threshold {Sec(worst.Threshold)}): {ReplyText(worst.Reply)}"
            : $"server {server} took {Sec(worst.Nanos)} to answer {worst.Verb} (threshold {Sec(worst.Threshold)}): {ReplyText(worst.Reply)}";
        if (slow.Count > 1) summary += $"; {slow.Count - 1} more slow repl{(slow.Count == 2 ? "y" : "ies")} in this session";

        var list = new List<object?>();
        foreach (var x in slow.Take(_options.MaxRepliesPerFinding))
            list.Add(new Evidence
            {
                { "command", x.Verb },
                { "sent", x.Sent },
                { "seconds", Math.Round(x.Nanos / 1e9, 6) },
                { "thresholdSeconds", x.Threshold / 1e9 },
                { "code", x.Reply.Code },
                { "text", x.Reply.Text },
            });
        var ev = new Evidence { { "server", server }, { "slowest", worst.Verb }, { "seconds", Math.Round(worst.Nanos / 1e9, 6) }, { "replies", list } };

        _report(new Finding
        {
            Kind = "smtp-slow-reply",
            Severity = Severity.Warning,
            Flows = new[] { flow.Id },
            Time = worst.Sent,
            Summary = summary,
            Evidence = ev,
            Advice = worst.Verb switch
            {
                "greeting" => "a late greeting is deliberate (tarpitting, Postfix postscreen greet pause) or the server waits for a reverse-DNS lookup of the client address that times out: " +
                              "check the client's PTR record and the server's resolver",
                "end of data" => "the server scans the message (spam and virus filters, milters) before answering: check those services' load and timeouts",
                _ => "slow replies to MAIL or RCPT come from greylisting and policy services, recipient-verification callouts, DNS blocklist lookups that time out, " +
                     "or tarpitting of distrusted clients: check the server's policy services and resolver",
            },
        });
    }

    private static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n.ToString(Inv)} {noun}s";
}
