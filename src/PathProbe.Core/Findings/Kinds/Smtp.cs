using PathProbe.Flows.Tcp;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;
using static PathProbe.Findings.FindingText;

namespace PathProbe.Findings.Kinds;

/// <summary>One SMTP reply a finding is about: the command it answered and how it was classified.</summary>
public sealed record SmtpReplyFact(string Command, string? Argument, int Code, string? EnhancedCode, string Text, Timestamp Time, string Classification, int Transaction);

/// <summary><c>smtp-deferral</c> (4xx) and <c>smtp-reject</c> (5xx): the server refused part of a session.</summary>
public sealed record SmtpFailureVerdict : Verdict
{
    public override FindingKind Kind => Reject ? FindingKind.SmtpReject : FindingKind.SmtpDeferral;
    public override string Identifier => $"{Flows[0].Server.Ip} {Classification}";
    public override Severity Severity => Severity.Warning;
    public override Timestamp Time => Replies[0].Time;
    public required bool Reject { get; init; }
    /// <summary>The first failure's class (<c>SmtpReplyClass</c>) and its explanation there.</summary>
    public required string Classification { get; init; }
    public required string Explanation { get; init; }
    public string? Banner { get; init; }
    public required IReadOnlyList<SmtpReplyFact> Replies { get; init; }
    public int Failures { get; init; }
    // size: RFC 1870
    public long AdvertisedSizeLimit { get; init; } = -1;
    public long DeclaredSize { get; init; } = -1;
    public bool DataSent { get; init; }
    /// <summary>The row of the provider table (<c>SmtpReplyClass.ProviderRules</c>) that classified the first reply,
    /// e.g. "gmail-4.7.28"; null when the generic rules did.</summary>
    public string? ProviderRule { get; init; }
    /// <summary>The first reply is the server's own timeout (class server-timeout): it gave up waiting for the client.</summary>
    public bool ServerTimeout { get; init; }
    /// <summary>For a server timeout: the TCP stall that began before the reply (the stall detector's own verdict, as
    /// last published), or null when nothing stalled.</summary>
    public StallVerdict? StallBefore { get; init; }
    /// <summary>For a server timeout after a stall: the path-MTU black hole the stalled sender's data is behind.</summary>
    public BlackHoleVerdict? BlackHole { get; init; }
}

public sealed class SmtpFailureWriter(bool reject) : FindingWriter<SmtpFailureVerdict>
{
    internal static string Reply(int code, string? enhanced, string text) =>
        $"{code}{(enhanced is null ? "" : " " + SafeText.Clean(enhanced, 16))}{(text.Length == 0 ? "" : " " + SafeText.Clean(text, 300))}";

    protected override string One(SmtpFailureVerdict v)
    {
        var first = v.Replies[0];
        string arg = SafeText.Clean(first.Argument ?? "", 200);
        string what = first.Command switch
        {
            "greeting" => "the connection at the greeting",
            "MAIL" => $"the sender ({arg})",
            "RCPT" => $"a recipient ({arg})",
            "DATA" => "DATA",
            "." or "BDAT" => "the message after its data",
            "AUTH" => $"AUTH {arg}",
            "HELO" or "EHLO" => $"{first.Command} {arg}",
            "STARTTLS" => "STARTTLS",
            "" when first.Transaction > 0 => "the message while its data was being sent",
            "" => "the session with an unsolicited reply",
            _ => SafeText.Clean(first.Command, 20),
        };
        string verb = v.Reject ? "rejected" : first.Command == "greeting" ? "turned away" : "deferred";
        string s = $"server {v.Flows[0].Server} {verb} {what}: {Reply(first.Code, first.EnhancedCode, first.Text)}";
        if (v.ServerTimeout && v.StallBefore is { } st)
        {
            // Not a rate limit: the server gave up waiting, and the stall before it says why.
            bool inData = st.At?.Phase is SmtpPhase.Data or SmtpPhase.Bdat or SmtpPhase.DataSent or SmtpPhase.DataCommand;
            s += $"; the server's own timeout, {Sec(first.Time.UnixNanoseconds - st.Start.UnixNanoseconds)} after the flow stalled " +
                 $"{(inData ? "in the message data " : "")}at {Time(st.Start)} ({StallVerdict.StallKindName(st.StallKind)}; see stall)" +
                 SmtpAbortedWriter.HoleWords(v.BlackHole);
        }
        if (v.Classification == "size")
        {
            var m = first.Transaction > 0 ? v.Flows[0].Message(first.Transaction) : null;
            long message = m?.Bytes ?? 0;
            long size = v.DataSent || message > 0 ? message : v.DeclaredSize;
            string sizeText = size > 0 ? $"message {Bytes(size)}{(m?.Approximate == true ? " (approximate: bytes missing from the capture)" : "")}" +
                                         (size == v.DeclaredSize && message == 0 ? " (SIZE= in MAIL FROM)" : "") : "the message";
            long limit = v.AdvertisedSizeLimit;
            s += limit > 0
                ? (size > limit ? $"; the {sizeText} exceeds the advertised SIZE {Bytes(limit)}"
                                : $"; the {sizeText} is within the advertised SIZE {Bytes(limit)}, so the server counted differently or lowered its limit")
                : limit == 0 ? $"; the {sizeText}, and the server advertised SIZE without a limit"
                : $"; the {sizeText}, and the server advertised no SIZE limit";
        }
        if (!(v.ServerTimeout && v.StallBefore is not null)) s += $" ({v.Explanation})";
        if (v.Failures > 1) s += $"; {v.Failures - 1} more {(v.Reject ? "rejection" : "deferral")}{(v.Failures == 2 ? "" : "s")} in this session";
        return s;
    }

    protected override string Many(IReadOnlyList<SmtpFailureVerdict> items, Finding f)
    {
        var first = items[0].Replies[0];
        return $"server {items[0].Flows[0].Server.Ip} {(reject ? "rejected" : "deferred")} {Count(items.Count, "session")} ({items[0].Classification}): " +
               $"{Reply(first.Code, first.EnhancedCode, first.Text)} ({items[0].Explanation}) ({FlowList(f.Flows)})";
    }

    protected override string? Advice(IReadOnlyList<SmtpFailureVerdict> items) => items[0].Classification switch
    {
        "server-timeout" => "not a rate limit: the server gave up waiting for the client. Fix what stopped the client's data (the stall finding of this flow, " +
                            "and mtu-blackhole when there is one); if nothing stalled, check the client for long pauses and the server's timeout (Postfix: smtpd_timeout)",
        "recipient-rate-limit" => "nothing to change on the sending side: the recipient's provider accepts mail for that mailbox more slowly for now; the sender retries and gets through",
        "reputation" when items[0].ProviderRule is not null =>
            $"{items[0].Explanation}; check the sending IP and domain on blocklists and with the provider's postmaster tools",
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

    protected override void Evidence(EvidenceWriter w, IReadOnlyList<SmtpFailureVerdict> items, Finding f)
    {
        w.Token(EvidenceKeys.Classification, items[0].Classification);
        w.Address(EvidenceKeys.Peer, items[0].Flows[0].Server.Ip);
        w.List(EvidenceKeys.Flows);
        foreach (var v in items)
        {
            w.Item();
            w.Flow(v.Flows[0]);
            w.Token(EvidenceKeys.Classification, v.Classification);
            if (v.ProviderRule is not null) w.Text(EvidenceKeys.ProviderRule, v.ProviderRule);
            if (v.Banner is not null) w.Text(EvidenceKeys.Banner, v.Banner);
            if (v.ServerTimeout)
            {
                w.Bool(EvidenceKeys.PathMtuBlackHole, v.BlackHole is not null);
                if (v.StallBefore is { } st)
                {
                    w.Object(EvidenceKeys.Stall);
                    StallWriter.Item(w, st);
                    w.Seconds(EvidenceKeys.BeforeReply, v.Replies[0].Time.UnixNanoseconds - st.Start.UnixNanoseconds);
                    w.End();
                }
            }
            if (v.Classification == "size")
            {
                w.Int(EvidenceKeys.DeclaredSize, v.DeclaredSize >= 0 ? v.DeclaredSize : null);
                w.Int(EvidenceKeys.AdvertisedSizeLimit, v.AdvertisedSizeLimit >= 0 ? v.AdvertisedSizeLimit : null);
                if (v.Replies[0].Transaction > 0 && v.Flows[0].Message(v.Replies[0].Transaction) is { } m)
                {
                    w.Int(EvidenceKeys.Transaction, v.Replies[0].Transaction);
                    w.Int(EvidenceKeys.MessageBytes, m.Bytes);
                    w.Bool(EvidenceKeys.MessageBytesApproximate, m.Approximate);
                }
            }
            w.List(EvidenceKeys.Replies);
            foreach (var r in v.Replies)
            {
                w.Item();
                w.Text(EvidenceKeys.Command, r.Command.Length == 0 ? "(none)" : r.Command); // as flows[].smtp.commands: a reply no command asked for
                if (r.Argument is not null) w.Text(EvidenceKeys.Argument, r.Argument);
                w.Int(EvidenceKeys.Code, r.Code);
                w.Text(EvidenceKeys.EnhancedCode, r.EnhancedCode);
                w.Text(EvidenceKeys.Text, r.Text);
                w.Time(EvidenceKeys.Time, r.Time);
                w.Token(EvidenceKeys.Classification, r.Classification);
                if (r.Transaction > 0) w.Int(EvidenceKeys.Transaction, r.Transaction);
                w.End();
            }
            w.EndList();
            if (v.Failures > v.Replies.Count) w.Int(EvidenceKeys.RepliesNotListed, v.Failures - v.Replies.Count);
            w.End();
        }
        w.EndList();
    }

    protected override string Conclusion(IReadOnlyList<SmtpFailureVerdict> items) => $"{items.Count} {items[0].Classification}";
}

/// <summary>How the TCP connection under an SMTP session ended (mirrors <c>SmtpConnectionEnd</c>).</summary>
public enum SmtpTcpEnd : byte { Open, Closed, Reset, Stalled, IdleTimeout, CaptureEnded, Evicted, Replaced }

/// <summary><c>smtp-aborted</c>: an SMTP session (or its mail transaction) cut off by the network or left unfinished.</summary>
public sealed record SmtpAbortedVerdict : Verdict
{
    public override FindingKind Kind => FindingKind.SmtpAborted;
    public override string Identifier => $"{Flows[0].Server.Ip} {SmtpAbortedWriter.EndName(End)} {Incomplete}";
    public override Severity Severity => Level;
    public override Timestamp Time => At;
    public required Severity Level { get; init; }
    public required Timestamp At { get; init; }
    public required SmtpPosition Position { get; init; }
    public required SmtpTcpEnd End { get; init; }
    /// <summary>The capture ended with the mail still in progress (not cut off by the network).</summary>
    public bool Incomplete { get; init; }
    /// <summary>client, server or both (for a reset).</summary>
    public string? ResetBy { get; init; }
    /// <summary>The TCP outage the session ended in (the stall detector's own verdict: one number per fact).</summary>
    public StallVerdict? Stall { get; init; }
    /// <summary>The client's data is behind a path-MTU black hole: its range from the black-hole verdict.</summary>
    public BlackHoleVerdict? BlackHole { get; init; }
    public Timestamp LastPacket { get; init; }
    public long CaptureEndedAfterNanos { get; init; }
    // The transaction, when one was cut off.
    public string? From { get; init; }
    public int Recipients { get; init; }
    public int RecipientsAccepted { get; init; }
    public long DeclaredSize { get; init; } = -1;
    public string? Outcome { get; init; }
    public bool HasTransaction => Position.Transaction > 0 && From is not null;
}

public sealed class SmtpAbortedWriter : FindingWriter<SmtpAbortedVerdict>
{
    public static string EndName(SmtpTcpEnd e) => e switch
    {
        SmtpTcpEnd.Closed => "closed",
        SmtpTcpEnd.Reset => "reset",
        SmtpTcpEnd.Stalled => "stalled",
        SmtpTcpEnd.IdleTimeout => "idle-timeout",
        SmtpTcpEnd.CaptureEnded => "capture-ended",
        SmtpTcpEnd.Evicted => "evicted",
        SmtpTcpEnd.Replaced => "replaced",
        _ => "open",
    };

    /// <summary>"reset by the server", from who reset.</summary>
    public static string ResetWords(string? by) => by switch { "server" => "reset by the server", "client" => "reset by the client", _ => "reset" };

    /// <summary>The TCP outage in words: "TCP stalled for 26.5 s (rto-backoff: the client resent ...)" and the black hole.</summary>
    public static string StallWords(StallVerdict st, BlackHoleVerdict? hole)
    {
        string sender = st.SenderIsClient ? "client" : "server", receiver = st.SenderIsClient ? "server" : "client";
        string what = st.StallKind switch
        {
            StallKind.RtoBackoff when st.Series is { } r =>
                $"the {sender} resent {r.Words()}" +
                (r.Backoff ? " with RTO back-off" : "") + (r.Acknowledged ? "" : $" and the {receiver} never acknowledged it"),
            StallKind.RtoBackoff => $"{N(st.OutstandingBytes)} bytes of the {sender}'s data are missing here and no retransmission arrived",
            StallKind.ZeroWindow => $"the {receiver} kept its receive window closed",
            _ => $"the {sender} waited for the {receiver} with nothing outstanding",
        };
        return $"TCP stalled for {Sec(st.DurationNanos)} ({StallVerdict.StallKindName(st.StallKind)}: {what})" + HoleWords(hole);
    }

    public static string HoleWords(BlackHoleVerdict? hole) => hole is null ? ""
        : hole.ReceiverVantage ? "; the sender's full-size packets never arrive here: a path-MTU black hole upstream (see mtu-blackhole)"
        : hole.MinProven
            ? $"; a path-MTU black hole: {N(hole.LostSize)}-byte packets never get through, {N(hole.Min)}-byte ones do (see mtu-blackhole)"
            : $"; a path-MTU black hole: {N(hole.LostSize)}-byte packets never get through (see mtu-blackhole)";

    /// <summary>How the connection ended, in words (also <c>flows[].smtp.endDetail</c>).</summary>
    public static string EndDetail(SmtpTcpEnd end, string? resetBy, StallVerdict? stall, BlackHoleVerdict? hole, Timestamp last, long captureEndedAfter) => end switch
    {
        SmtpTcpEnd.Reset => ResetWords(resetBy) + (stall is not null ? $" after {StallWords(stall, hole)}" : ""),
        SmtpTcpEnd.Closed => "the connection was closed (FIN both ways)",
        SmtpTcpEnd.IdleTimeout => (stall is not null ? StallWords(stall, hole) + ", then " : "") + $"nothing was sent for longer than the flow idle timeout (last packet {Time(last)})",
        SmtpTcpEnd.Evicted => "the flow was evicted from the full flow table and not followed further",
        SmtpTcpEnd.Replaced => "a new connection on the same addresses and ports replaced it",
        SmtpTcpEnd.Stalled when stall is not null => $"{StallWords(stall, hole)}, and it was still stalled when the capture ended",
        SmtpTcpEnd.CaptureEnded => $"the capture ended {Sec(captureEndedAfter)} after the flow's last packet, with the connection still open",
        _ => "the connection is open",
    };

    protected override string One(SmtpAbortedVerdict v)
    {
        string who = v.HasTransaction ? $"the mail from <{SafeText.Clean(v.From!, 200)}> to {Count(v.Recipients, "recipient")}" : "the SMTP session";
        string position = SmtpWords.Position(v.Position, v.Flows[0]);
        string hole = HoleWords(v.BlackHole);
        if (v.Incomplete)
            return hole.Length > 0 && v.HasTransaction
                ? $"{who} did not complete before the capture ended: {position}{hole}"
                : $"{who} was still in progress when the capture ended: {position}";
        string how = v.End switch
        {
            SmtpTcpEnd.Reset => $"the connection was {EndDetail(v.End, v.ResetBy, v.Stall, v.BlackHole, v.LastPacket, v.CaptureEndedAfterNanos)}",
            SmtpTcpEnd.CaptureEnded => "the capture ended before it finished",
            _ => EndDetail(v.End, v.ResetBy, v.Stall, v.BlackHole, v.LastPacket, v.CaptureEndedAfterNanos),
        };
        return $"{who} never completed: {position}; {how}";
    }

    protected override string Many(IReadOnlyList<SmtpAbortedVerdict> items, Finding f)
    {
        var first = items[0];
        int mails = items.Count(v => v.HasTransaction);
        string who = mails == items.Count ? Count(mails, "mail") : Count(items.Count, "SMTP session");
        string pos = SmtpWords.Positions(items.Select(v => ((SmtpPosition?)v.Position, (FlowFacts?)v.Flows[0])));
        string end = first.Incomplete ? "the capture ended before they finished"
            : first.End == SmtpTcpEnd.Stalled && items.All(v => v.Stall is not null)
                ? $"TCP stalled for {SecRange(items.Select(v => v.Stall!.DurationNanos))}{HoleWords(first.BlackHole)}, still stalled when the capture ended"
            : first.End == SmtpTcpEnd.Reset ? "the connections were reset"
            : $"the connections ended: {EndName(first.End)}";
        return $"{who} to {first.Flows[0].Server.Ip} never completed, {pos}: {end} ({FlowList(f.Flows)})";
    }

    protected override string? Advice(IReadOnlyList<SmtpAbortedVerdict> items)
    {
        var v = items[0];
        if (v.Incomplete) return "capture longer (until the server's final reply) to see how the mail ended";
        return v.End switch
        {
            SmtpTcpEnd.Stalled when v.Stall is { StallKind: StallKind.RtoBackoff, SenderIsClient: true } && v.HasTransaction && v.Position.Phase is SmtpPhase.Data or SmtpPhase.Bdat =>
                "the dialogue worked until the message body, whose packets are full-size: a stall there is the mark of an MTU/MRU black hole on the path; " +
                "compare the resent packet's size with the largest that got through, then lower the MTU or clamp the MSS and let ICMP 'fragmentation needed' / 'packet too big' through",
            SmtpTcpEnd.Stalled => "see the stall finding of this flow for what the TCP connection waited for; the sender will retry the mail later",
            SmtpTcpEnd.Reset => "find out which side reset and why: its MTA log (timeouts, a crash, a policy that drops the session), or a firewall or load balancer resetting idle or long connections",
            _ => "the sender keeps the mail queued and retries; look at both MTA logs for the same time",
        };
    }

    protected override void Evidence(EvidenceWriter w, IReadOnlyList<SmtpAbortedVerdict> items, Finding f)
    {
        w.Address(EvidenceKeys.Peer, items[0].Flows[0].Server.Ip);
        w.Token(EvidenceKeys.TcpEnd, EndName(items[0].End));
        w.List(EvidenceKeys.Flows);
        foreach (var v in items)
        {
            w.Item();
            w.Flow(v.Flows[0]);
            w.Position(v.Position, v.Flows[0]);
            w.Token(EvidenceKeys.TcpEnd, EndName(v.End));
            if (v.ResetBy is not null) w.Token(EvidenceKeys.ResetBy, v.ResetBy);
            w.Bool(EvidenceKeys.PathMtuBlackHole, v.BlackHole is not null);
            if (v.HasTransaction)
            {
                w.Text(EvidenceKeys.From, v.From);
                w.Int(EvidenceKeys.RecipientsAccepted, v.RecipientsAccepted);
                w.Int(EvidenceKeys.DeclaredSize, v.DeclaredSize >= 0 ? v.DeclaredSize : null);
                w.Token(EvidenceKeys.Outcome, v.Outcome);
            }
            if (v.Stall is { } st)
            {
                w.Object(EvidenceKeys.Stall);
                StallWriter.Item(w, st);
                w.End();
            }
            w.End();
        }
        w.EndList();
    }

    protected override string Conclusion(IReadOnlyList<SmtpAbortedVerdict> items) => $"{items.Count} {EndName(items[0].End)}";
}

/// <summary>One reply slower than its threshold.</summary>
public sealed record SlowReply(string Command, long Nanos, long ThresholdNanos, int Code, string Text, Timestamp Sent);

/// <summary><c>smtp-slow-reply</c>: the greeting or a reply came later than its threshold.</summary>
public sealed record SmtpSlowReplyVerdict : Verdict
{
    public override FindingKind Kind => FindingKind.SmtpSlowReply;
    public override string Identifier => $"{Flows[0].Server.Ip} {Slowest.Command}";
    public override Severity Severity => Severity.Warning;
    public override Timestamp Time => Slowest.Sent;
    public required IReadOnlyList<SlowReply> Slow { get; init; }
    public required SlowReply Slowest { get; init; }
    public int Total { get; init; }
    public required string? SlowestEnhanced { get; init; }
}

public sealed class SmtpSlowReplyWriter : FindingWriter<SmtpSlowReplyVerdict>
{
    protected override string One(SmtpSlowReplyVerdict v)
    {
        var w = v.Slowest;
        string reply = SmtpFailureWriter.Reply(w.Code, v.SlowestEnhanced, w.Text);
        string s = w.Command == "greeting"
            ? $"server {v.Flows[0].Server} took {Sec(w.Nanos)} to send its greeting (threshold {Sec(w.ThresholdNanos)}): {reply}"
            : $"server {v.Flows[0].Server} took {Sec(w.Nanos)} to answer {w.Command} (threshold {Sec(w.ThresholdNanos)}): {reply}";
        if (v.Total > 1) s += $"; {v.Total - 1} more slow repl{(v.Total == 2 ? "y" : "ies")} in this session";
        return s;
    }

    protected override string Many(IReadOnlyList<SmtpSlowReplyVerdict> items, Finding f) =>
        $"server {items[0].Flows[0].Server.Ip} was slow to answer {items[0].Slowest.Command} in {Count(items.Count, "session")}: " +
        $"{SecRange(items.Select(v => v.Slowest.Nanos))} (threshold {Sec(items[0].Slowest.ThresholdNanos)}) ({FlowList(f.Flows)})";

    protected override string? Advice(IReadOnlyList<SmtpSlowReplyVerdict> items) => items[0].Slowest.Command switch
    {
        "greeting" => "a late greeting is deliberate (tarpitting, Postfix postscreen greet pause) or the server waits for a reverse-DNS lookup of the client address that times out: " +
                      "check the client's PTR record and the server's resolver",
        "end of data" => "the server scans the message (spam and virus filters, milters) before answering: check those services' load and timeouts",
        _ => "slow replies to MAIL or RCPT come from greylisting and policy services, recipient-verification callouts, DNS blocklist lookups that time out, " +
             "or tarpitting of distrusted clients: check the server's policy services and resolver",
    };

    protected override void Evidence(EvidenceWriter w, IReadOnlyList<SmtpSlowReplyVerdict> items, Finding f)
    {
        w.Address(EvidenceKeys.Peer, items[0].Flows[0].Server.Ip);
        w.List(EvidenceKeys.Flows);
        foreach (var v in items)
        {
            w.Item();
            w.Flow(v.Flows[0]);
            w.Text(EvidenceKeys.Slowest, v.Slowest.Command);
            w.Seconds(EvidenceKeys.Duration, v.Slowest.Nanos);
            w.List(EvidenceKeys.Replies);
            foreach (var x in v.Slow)
            {
                w.Item();
                w.Text(EvidenceKeys.Command, x.Command == "end of data" ? "." : x.Command); // as flows[].smtp.commands
                w.Time(EvidenceKeys.FirstSent, x.Sent);
                w.Seconds(EvidenceKeys.Duration, x.Nanos);
                w.Seconds(EvidenceKeys.Threshold, x.ThresholdNanos);
                w.Int(EvidenceKeys.Code, x.Code);
                w.Text(EvidenceKeys.Text, x.Text);
                w.End();
            }
            w.EndList();
            w.End();
        }
        w.EndList();
    }
}
