using System.Globalization;
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

/// <summary>A TCP stall of the flow as the SMTP analysis saw it begin: kept so a later reply (a server's timeout) can
/// be tied to it after the TCP detector has moved on.</summary>
public readonly record struct SmtpStallSeen(long Start, PathProbe.Flows.Tcp.StallKind Kind, bool SenderIsClient, string? Phase)
{
    /// <summary>The stall began while the message was being sent.</summary>
    public bool InData => Phase is "data" or "bdat" or "data-sent" or "data-command";
}

/// <summary>
/// The SMTP analysis of one TCP flow, attached to <see cref="Flow.App"/>: the decoder (<see cref="SmtpConnection"/>)
/// and how the connection ended. Other detectors quote <see cref="DescribePosition"/> to say where in the dialogue a
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
    /// segment ended. One comparison per segment, no allocation.</summary>
    internal void TrackStall(Flows.Tcp.TcpConnectionState tcp)
    {
        if (tcp.StallStart == 0 || StallsSeen > 0 && _stalls![(StallsSeen - 1) % MaxStallsKept].Start == tcp.StallStart) return;
        _stalls ??= new SmtpStallSeen[MaxStallsKept];
        _stalls[StallsSeen % MaxStallsKept] = new SmtpStallSeen(tcp.StallStart, tcp.StallKind, tcp.StallSenderIsClient, tcp.StallPhase);
        StallsSeen++;
    }

    public string? Phase => Candidate ? null : PhaseName(Session.CurrentPhase);

    /// <summary>Where the dialogue is, e.g. "DATA after 354 (transaction 2, 1.2 MB of the message sent)". Addresses
    /// and texts from packets are left out; the only packet-derived word, the AUTH mechanism, was cleaned by the
    /// decoder, so the result is terminal-safe.</summary>
    public string? DescribePosition()
    {
        if (Candidate) return null;
        var s = Session;
        if (s.CurrentPhase != SmtpPhase.Closed) return DescribeAt(s.CurrentPhase);
        string where = DescribeAt(LastActivePhase);
        return s.CloseReason is { } why ? $"{where}; then {SafeText.Clean(why, 200)}" : where;
    }

    /// <summary>The position text for <paramref name="phase"/> with the session's current counters.</summary>
    internal string DescribeAt(SmtpPhase phase)
    {
        var s = Session;
        var tx = s.CurrentTransaction;
        string txn = $"transaction {s.TransactionIndex + 1}";
        return phase switch
        {
            SmtpPhase.Connect => ImplicitTls ? "implicit TLS (port 465), not decoded" : "connected, waiting for the server's greeting",
            SmtpPhase.Greeting => s.Greeting is { } g && g.Code != 220
                ? $"greeting answered {g.Code} (refused at connect)" : "after the greeting, before EHLO",
            SmtpPhase.Ehlo => s.Commands.Count > 0 && s.Commands[^1].Reply is null && s.Commands[^1].Verb is "EHLO" or "HELO"
                ? $"{(s.UsedHelo ? "HELO" : "EHLO")} sent, waiting for its reply" : "after EHLO",
            SmtpPhase.StartTls => "STARTTLS sent, waiting for its 220",
            SmtpPhase.Tls => ImplicitTls ? "inside implicit TLS (port 465), not decoded" : "inside TLS after STARTTLS, not decoded",
            SmtpPhase.Auth => s.AuthResult == 0 ? $"AUTH {s.AuthMechanism} in progress" : $"after AUTH {s.AuthMechanism} ({s.AuthResult.ToString(Inv)})",
            SmtpPhase.Ready => s.TransactionIndex < 0 ? "after EHLO, no mail transaction yet" : $"between transactions (after {txn})",
            SmtpPhase.Mail => $"MAIL FROM sent ({txn})",
            SmtpPhase.Rcpt => $"RCPT TO ({txn}, {Recipients(tx)})",
            SmtpPhase.DataCommand => $"DATA sent, waiting for 354 ({txn})",
            SmtpPhase.Data => $"DATA after 354 ({txn}, {MessageSize(tx)} of the message sent)",
            SmtpPhase.DataSent => $"end of data sent, waiting for the final reply ({txn}, {MessageSize(tx)} message)",
            SmtpPhase.Bdat => $"BDAT chunks ({txn}, {MessageSize(tx)} of the message sent)",
            SmtpPhase.Quit => "QUIT sent",
            SmtpPhase.ServerClosing => s.Transactions.LastOrDefault() is { FinalReply.Code: 421 } cut && cut.EndPhase is SmtpPhase.Data or SmtpPhase.Bdat
                ? $"DATA cut short by the server's 421 ({txn}, {MessageSize(cut)} of the message sent; the server closed the session)"
                : "a session the server closed with 421",
            _ => "closed",
        };
    }

    private static string Recipients(SmtpTransaction? tx)
    {
        int n = tx is null ? 0 : tx.Recipients.Count + tx.RecipientsNotKept;
        return n == 1 ? "1 recipient" : $"{n.ToString(Inv)} recipients";
    }

    /// <summary>"22.7 kB", or "about 8192 B" when bytes missing from the capture are counted in.</summary>
    private static string MessageSize(SmtpTransaction? tx) =>
        tx is null ? "0 B" : (tx.SizeApproximate ? "about " : "") + Size(tx.MessageBytes);

    internal static string Size(long bytes) => bytes switch
    {
        < 10_000 => bytes.ToString(Inv) + " B",
        < 10_000_000 => (bytes / 1000.0).ToString("0.#", Inv) + " kB",
        < 10_000_000_000 => (bytes / 1e6).ToString("0.#", Inv) + " MB",
        _ => (bytes / 1e9).ToString("0.##", Inv) + " GB",
    };

    /// <summary>Stable kebab-case name of a phase (JSON, <see cref="IFlowApplication.Phase"/>).</summary>
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
