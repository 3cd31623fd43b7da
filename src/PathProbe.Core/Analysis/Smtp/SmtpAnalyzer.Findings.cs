using PathProbe.Findings;
using PathProbe.Findings.Kinds;
using PathProbe.Flows;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;

namespace PathProbe.Analysis.Smtp;

public sealed partial class SmtpAnalyzer
{
    private void ReportFindings(Flow flow, SmtpFlowState s, StallVerdict? stall, BlackHoleVerdict? hole, string? resetBy, SmtpTcpEnd end, Timestamp captureEnd)
    {
        // Most sessions raise nothing: nothing is made for them (the flow's facts only for a verdict, one for all).
        var session = s.Session;
        var failures = CollectFailures(session);
        FlowFacts? facts = null;
        bool refused = false;
        if (failures is not null)
        {
            var deferrals = failures.FindAll(f => f.Reply.Code < 500);
            var rejects = failures.FindAll(f => f.Reply.Code >= 500);
            if (deferrals.Count > 0) ReportFailure(flow, facts ??= FlowFacts.Of(flow), s, deferrals, reject: false);
            if (rejects.Count > 0) ReportFailure(flow, facts ??= FlowFacts.Of(flow), s, rejects, reject: true);
            refused = failures.Exists(f => f.Reply.Code == 421 || f.Verb == "greeting");
        }
        ReportAborted(flow, ref facts, s, stall, resetBy, end, captureEnd, refused);
        ReportSlow(flow, ref facts, s);
    }

    // ---- smtp-deferral / smtp-reject ------------------------------------------------------------------------------

    private readonly record struct Failure(string Verb, SmtpCommandKind Kind, string? Argument, SmtpReply Reply, int Transaction);

    /// <summary>4xx/5xx replies that concern the mail (the greeting, MAIL, RCPT, DATA, the data, AUTH, HELO,
    /// STARTTLS, unsolicited 421s and replies that cut the data short). A 5xx to EHLO answered by a working HELO
    /// fallback, and refusals of optional commands (VRFY, EXPN, HELP, unknown verbs) are not problems. Null when there
    /// is none.</summary>
    private static List<Failure>? CollectFailures(SmtpSession session)
    {
        List<Failure>? list = null;
        if (session.Greeting is { Code: >= 400 } g) (list ??= new()).Add(new Failure("greeting", SmtpCommandKind.None, null, g, -1));
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
            if (relevant) (list ??= new()).Add(new Failure(c.Verb, c.Kind, c.Argument, r, c.Transaction));
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

    private void ReportFailure(Flow flow, FlowFacts facts, SmtpFlowState s, List<Failure> failures, bool reject)
    {
        var session = s.Session;
        var first = failures[0];
        var meaning = SmtpReplyClass.Classify(first.Reply, Context(s, first, out var stallBefore));
        // The server's own timeout after a stall: the stall detector's verdict as last published (one number per fact),
        // and the black hole the stalled sender's data is behind.
        StallVerdict? stall = null;
        BlackHoleVerdict? hole = null;
        VerdictHandle holeHandle = default;
        if (meaning.Kind == SmtpReplyKind.ServerTimeout && stallBefore is { } seen)
        {
            stall = _log.Get(seen.Handle) as StallVerdict ?? seen.Verdict;
            hole = _mtu?.BlackHoleOf(flow, seen.SenderIsClient, out holeHandle);
        }
        var tx = first.Transaction >= 0 ? session.Transactions.FirstOrDefault(t => t.Index == first.Transaction) : null;
        var raised = _log.Raise(new SmtpFailureVerdict
        {
            Flows = [facts],
            Reject = reject,
            Classification = meaning.Class,
            Explanation = meaning.Explanation,
            ProviderRule = meaning.Rule?.Id,
            Banner = session.Banner,
            Replies = failures.Take(_options.MaxRepliesPerFinding).Select(f => new SmtpReplyFact(f.Verb, f.Argument, f.Reply.Code, f.Reply.EnhancedCode,
                f.Reply.FullText, f.Reply.Time, SmtpReplyClass.Classify(f.Reply, Context(s, f, out _)).Class, f.Transaction + 1)).ToArray(),
            Failures = failures.Count,
            AdvertisedSizeLimit = session.Capabilities?.SizeLimit ?? -1,
            DeclaredSize = tx?.DeclaredSize ?? -1,
            DataSent = tx is { DataEndTime: not null },
            ServerTimeout = meaning.Kind == SmtpReplyKind.ServerTimeout,
            StallBefore = stall,
            BlackHole = hole,
        });
        if (hole is not null && raised.IsValid) RememberHole(HoleUse.OfVerdict(holeHandle, hole, raised));
    }

    // ---- smtp-aborted ---------------------------------------------------------------------------------------------

    private void ReportAborted(Flow flow, ref FlowFacts? facts, SmtpFlowState s, StallVerdict? stall, string? resetBy, SmtpTcpEnd end, Timestamp captureEnd, bool refusedBySession)
    {
        if (end is SmtpTcpEnd.Evicted) return; // not followed: nothing is known about the end
        var session = s.Session;
        bool connected = flow.Tcp is { SynAckSeen: true } || session.ServerBytes > 0;
        if (!connected) return; // connect-timeout / connect-refused cover it

        // A transaction the network ended (not one the client left with RSET/QUIT, which keeps its own reason).
        SmtpTransaction? tx = null;
        var transactions = session.Transactions;
        for (int i = 0; i < transactions.Count; i++)
        {
            var t = transactions[i];
            if (t.Outcome == SmtpOutcome.Incomplete || t.Outcome == SmtpOutcome.Aborted && t.OutcomeReason == session.CloseReason)
            {
                tx = t;
                break;
            }
        }

        bool incomplete = tx?.Outcome == SmtpOutcome.Incomplete || tx is null && end == SmtpTcpEnd.CaptureEnded;
        SmtpPosition position;
        Timestamp time;
        if (tx is not null)
        {
            position = s.PositionOf(tx);
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
                           phase is SmtpPhase.Tls && end is SmtpTcpEnd.Stalled; // a TLS session often ends with a RST
            if (!waiting) return;
            if (incomplete && !LongWait(session)) return;
            position = s.PositionAt(phase);
            time = flow.Start;
        }
        // The client's data stuck behind a path-MTU black hole: the capture ending is not why it did not finish.
        VerdictHandle holeHandle = default;
        var hole = _mtu?.BlackHoleOf(flow, fromClient: true, out holeHandle);
        Severity severity = incomplete ? (hole is not null && tx is not null ? Severity.Critical : Severity.Info)
            : tx is not null ? Severity.Critical : Severity.Warning;
        var raised = _log.Raise(new SmtpAbortedVerdict
        {
            Flows = [facts ??= FlowFacts.Of(flow)],
            Level = severity,
            At = time,
            Position = position,
            End = end,
            Incomplete = incomplete,
            ResetBy = end == SmtpTcpEnd.Reset ? resetBy : null,
            Stall = stall,
            BlackHole = hole,
            LastPacket = flow.End,
            CaptureEndedAfterNanos = captureEnd.UnixNanoseconds - flow.End.UnixNanoseconds,
            From = tx?.Sender,
            Recipients = tx is null ? 0 : tx.Recipients.Count + tx.RecipientsNotKept,
            RecipientsAccepted = tx?.RecipientsAccepted ?? 0,
            DeclaredSize = tx?.DeclaredSize ?? -1,
            Outcome = tx is null ? null : SmtpWords.OutcomeName(tx.Outcome),
        });
        if (hole is not null && raised.IsValid) RememberHole(HoleUse.OfVerdict(holeHandle, hole, raised));
    }

    /// <summary>The capture ended while the client waited longer than the reply threshold for something.</summary>
    private bool LongWait(SmtpSession session)
    {
        long end = session.ClientLastTime is { } c && session.ServerLastTime is { } sv ? Math.Max(c.UnixNanoseconds, sv.UnixNanoseconds) : 0;
        var lastCommand = session.Commands.Count > 0 ? session.Commands[^1] : null;
        return lastCommand is { Reply: null } && end - lastCommand.Time.UnixNanoseconds > (long)_options.ReplyThreshold.TotalNanoseconds;
    }

    // ---- smtp-slow-reply ------------------------------------------------------------------------------------------

    private void ReportSlow(Flow flow, ref FlowFacts? facts, SmtpFlowState s)
    {
        var session = s.Session;
        List<(SlowReply Reply, string? Enhanced)>? slow = null;
        long greetLimit = (long)_options.GreetingThreshold.TotalNanoseconds;
        if (session.Greeting is { } g && session.GreetingDelay is { } gd && gd.Ticks * 100 > greetLimit)
            (slow ??= new()).Add((new SlowReply("greeting", gd.Ticks * 100, greetLimit, g.Code, g.Text, flow.Start), g.EnhancedCode));
        var commands = session.Commands;
        for (int i = 0; i < commands.Count; i++)
        {
            var c = commands[i];
            // AUTH's time includes the client's own credential round trips; a reply no command asked for has no start.
            if (c.Reply is not { } r || c.Kind is SmtpCommandKind.Auth or SmtpCommandKind.None) continue;
            bool endOfData = c.Kind == SmtpCommandKind.EndOfData ||
                             c.Kind == SmtpCommandKind.Bdat && c.Argument?.EndsWith("LAST", StringComparison.OrdinalIgnoreCase) == true;
            long limit = (long)(endOfData ? _options.DataReplyThreshold : _options.ReplyThreshold).TotalNanoseconds;
            long took = r.Time.UnixNanoseconds - c.Time.UnixNanoseconds;
            if (took > limit) (slow ??= new()).Add((new SlowReply(c.Kind == SmtpCommandKind.EndOfData ? "end of data" : c.Verb, took, limit, r.Code, r.FullText, c.Time), r.EnhancedCode));
        }
        if (slow is null) return;
        var worst = slow.MaxBy(x => x.Reply.Nanos);
        _log.Raise(new SmtpSlowReplyVerdict
        {
            Flows = [facts ??= FlowFacts.Of(flow)],
            Slow = slow.Take(_options.MaxRepliesPerFinding).Select(x => x.Reply).ToArray(),
            Slowest = worst.Reply,
            SlowestEnhanced = worst.Enhanced,
            Total = slow.Count,
        });
    }
}
