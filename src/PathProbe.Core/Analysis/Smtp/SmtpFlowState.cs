using System.Globalization;
using PathProbe.Findings;
using PathProbe.Findings.Kinds;
using PathProbe.Flows;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;

namespace PathProbe.Analysis.Smtp;

/// <summary>How the TCP connection under an SMTP session ended, as far as the capture shows.</summary>
public enum SmtpConnectionEnd : byte
{
    /// <summary>Still open (the flow has not left the table yet).</summary>
    Open,
    /// <summary>FIN in both directions.</summary>
    Closed,
    /// <summary>A RST was seen.</summary>
    Reset,
    /// <summary>The TCP stall detector found the connection stalled, and it never resumed before the capture ended.</summary>
    Stalled,
    /// <summary>Idle past the flow table's timeout.</summary>
    IdleTimeout,
    /// <summary>The capture ended with the connection open and not stalled.</summary>
    CaptureEnded,
    /// <summary>Pushed out of a full flow table: not followed further.</summary>
    Evicted,
    /// <summary>A new connection on the same addresses and ports replaced it.</summary>
    Replaced,
}

/// <summary>How a flow was recognised as SMTP.</summary>
public enum SmtpDetection : byte
{
    /// <summary>Server port 25, 465, 587 or 2525.</summary>
    Port,
    /// <summary>A 220 greeting as the server's first bytes, on another port.</summary>
    Banner,
    /// <summary>A proxy exchange (HTTP CONNECT, PROXY protocol, SOCKS) and then a greeting, on another port.</summary>
    Proxy,
}

/// <summary>A TCP stall of the flow as the SMTP analysis saw it begin: the stall detector's verdict then, and where
/// the finding log keeps its later versions. Kept so a later reply (a server's timeout) can be tied to the stall after
/// the TCP detector has moved on.</summary>
public readonly record struct SmtpStallSeen(StallVerdict Verdict, VerdictHandle Handle)
{
    public long Start => Verdict.Start.UnixNanoseconds;
    public bool SenderIsClient => Verdict.SenderIsClient;
    /// <summary>The stall began while the message was being sent.</summary>
    public bool InData => Verdict.At?.Phase is SmtpPhase.Data or SmtpPhase.Bdat or SmtpPhase.DataSent or SmtpPhase.DataCommand;
}

/// <summary>
/// The SMTP analysis of one TCP flow, attached to <see cref="Flow.App"/>: the decoder (<see cref="SmtpConnection"/>)
/// and how the connection ended. Other detectors take <see cref="Position"/> to say where in the dialogue a
/// stall or black hole hit.
/// </summary>
public sealed class SmtpFlowState : IFlowApplication, PathProbe.Protocols.Smtp.ISmtpSessionSource
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    internal SmtpFlowState(SmtpConnection connection, SmtpDetection detectedBy)
    {
        Connection = connection;
        DetectedBy = detectedBy;
        Candidate = detectedBy == SmtpDetection.Proxy;
    }

    public SmtpConnection Connection { get; }
    public SmtpSession Session => Connection.Session;
    public SmtpDetection DetectedBy { get; }
    /// <summary>Recognised by the server's 220 banner rather than by its port.</summary>
    public bool ByBanner => DetectedBy == SmtpDetection.Banner;
    /// <summary>A proxy exchange on a port that is not an SMTP port, not yet followed by a greeting: not known to be
    /// SMTP, so it reports no phase and no position.</summary>
    public bool Candidate { get; internal set; }
    /// <summary>The latest TCP stall seen to begin on this flow, or null.</summary>
    public SmtpStallSeen? LastStall => StallsSeen == 0 ? null : _stalls![(StallsSeen - 1) % MaxStallsKept];
    /// <summary>TCP stalls seen to begin on this flow (the latest <see cref="MaxStallsKept"/> are kept).</summary>
    public int StallsSeen { get; private set; }
    public const int MaxStallsKept = 8;
    private SmtpStallSeen[]? _stalls;

    /// <summary>The latest kept stall that began in [<paramref name="from"/>, <paramref name="before"/>), or null.</summary>
    public SmtpStallSeen? StallBetween(long from, long before)
    {
        for (int i = StallsSeen - 1; i >= Math.Max(0, StallsSeen - MaxStallsKept); i--)
        {
            var st = _stalls![i % MaxStallsKept];
            if (st.Start < before && st.Start >= from) return st;
        }
        return null;
    }
    /// <summary>TLS from the first byte (port 465, RFC 8314): nothing is decoded.</summary>
    public bool ImplicitTls => Session.ImplicitTls;
    /// <summary>The phase the session was in before it was closed or aborted (where a reset or stall hit).</summary>
    public SmtpPhase LastActivePhase { get; private set; }
    public SmtpConnectionEnd End { get; internal set; }
    /// <summary>The TCP layer's account of the end, in words ("stalled for 26.5 s (rto-backoff) ..."), or null.</summary>
    public string? EndDetail { get; internal set; }
    /// <summary>Still counted against <see cref="SmtpOptions.MaxConcurrentFlows"/> (until the session closes).</summary>
    internal bool Counted;
    /// <summary>The flow has left the table and the session was finished (findings reported).</summary>
    internal bool Done;

    /// <summary>After each segment: remembers the phase before Closed (one compare, no allocation).</summary>
    internal void Track()
    {
        var phase = Session.CurrentPhase;
        if (phase != SmtpPhase.Closed) LastActivePhase = phase;
    }

    /// <summary>After each segment: notes a stall the TCP detector opened (its start changed), even one this same
    /// segment ended. <paramref name="latest"/> is the flow's latest stall verdict (<c>IStallView.Latest</c>). One
    /// comparison per segment, no allocation.</summary>
    internal void TrackStall(StallVerdict? latest, VerdictHandle handle)
    {
        if (latest is null || StallsSeen > 0 && _stalls![(StallsSeen - 1) % MaxStallsKept].Verdict.Start == latest.Start) return;
        _stalls ??= new SmtpStallSeen[MaxStallsKept];
        _stalls[StallsSeen % MaxStallsKept] = new SmtpStallSeen(latest, handle);
        StallsSeen++;
    }

    public string? Phase => Candidate ? null : MidSessionUnknown(Session.CurrentPhase) ? "unknown" : PhaseName(Session.CurrentPhase);

    /// <summary>The flow's capture began after the TCP handshake (no SYN seen): until a greeting is seen the phase is
    /// unknown, not "waiting for the greeting".</summary>
    public bool StartedMidSession { get; internal set; }

    private bool MidSessionUnknown(SmtpPhase phase) => StartedMidSession && phase == SmtpPhase.Connect && Session.Greeting is null;

    /// <summary>Where the dialogue is now (after the session closed: where it was last active), typed; null while the
    /// flow is only a proxy candidate (not known to be SMTP).</summary>
    public SmtpPosition? Position => Candidate ? null : PositionAt(Session.CurrentPhase != SmtpPhase.Closed ? Session.CurrentPhase : LastActivePhase);

    /// <summary>The position for <paramref name="phase"/> with the session's current counters.</summary>
    internal SmtpPosition PositionAt(SmtpPhase phase)
    {
        var s = Session;
        var tx = s.CurrentTransaction;
        // The server's 421 that cut the message data short: the position is that transaction's, as it ended.
        var cut = phase == SmtpPhase.ServerClosing && s.Transactions.LastOrDefault() is { FinalReply.Code: 421 } last &&
                  last.EndPhase is SmtpPhase.Data or SmtpPhase.Bdat ? last : null;
        return new SmtpPosition
        {
            Phase = phase,
            Transaction = cut is not null ? cut.Index + 1 : s.TransactionIndex + 1,
            Recipients = (cut ?? tx) is { } t ? t.Recipients.Count + t.RecipientsNotKept : 0,
            GreetingCode = s.Greeting?.Code ?? 0,
            UsedHelo = s.UsedHelo,
            WaitingForEhloReply = s.Commands.Count > 0 && s.Commands[^1].Reply is null && s.Commands[^1].Verb is "EHLO" or "HELO",
            ImplicitTls = ImplicitTls,
            AuthMechanism = s.AuthMechanism,
            AuthResult = s.AuthResult,
            Message = cut is not null ? new MessageSize(cut.MessageBytes, cut.SizeApproximate)
                : tx is null ? default : new MessageSize(tx.MessageBytes, tx.SizeApproximate),
            CutShortBy421 = cut is not null,
            MidSession = MidSessionUnknown(phase),
        };
    }

    /// <summary>The position of transaction <paramref name="tx"/> where it ended.</summary>
    internal SmtpPosition PositionOf(SmtpTransaction tx) => PositionAt(tx.EndPhase) with
    {
        Transaction = tx.Index + 1,
        Recipients = tx.Recipients.Count + tx.RecipientsNotKept,
        Message = new MessageSize(tx.MessageBytes, tx.SizeApproximate),
    };

    /// <summary>Stable kebab-case name of a phase (JSON, <see cref="IFlowApplication.Phase"/>).</summary>
    public static string PhaseName(SmtpPhase p) => PathProbe.Findings.Kinds.SmtpWords.PhaseName(p);

    public static string EndName(SmtpConnectionEnd e) => e switch
    {
        SmtpConnectionEnd.Closed => "closed",
        SmtpConnectionEnd.Reset => "reset",
        SmtpConnectionEnd.Stalled => "stalled",
        SmtpConnectionEnd.IdleTimeout => "idle-timeout",
        SmtpConnectionEnd.CaptureEnded => "capture-ended",
        SmtpConnectionEnd.Evicted => "evicted",
        SmtpConnectionEnd.Replaced => "replaced",
        _ => "open",
    };
}
