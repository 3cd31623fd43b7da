using System.Globalization;
using PathProbe.Findings;
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

/// <summary>
/// The SMTP analysis of one TCP flow, attached to <see cref="Flow.App"/>: the decoder (<see cref="SmtpConnection"/>)
/// and how the connection ended. Other detectors take <see cref="Position"/> to say where in the dialogue a
/// stall or black hole hit.
/// </summary>
public sealed class SmtpFlowState : IFlowApplication, PathProbe.Protocols.Smtp.ISmtpSessionSource
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    internal SmtpFlowState(SmtpConnection connection, bool byBanner)
    {
        Connection = connection;
        ByBanner = byBanner;
    }

    public SmtpConnection Connection { get; }
    public SmtpSession Session => Connection.Session;
    /// <summary>Recognised by the server's 220 banner rather than by its port.</summary>
    public bool ByBanner { get; }
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

    public string? Phase => PhaseName(Session.CurrentPhase);

    /// <summary>Where the dialogue is now (after the session closed: where it was last active), typed.</summary>
    public SmtpPosition Position => PositionAt(Session.CurrentPhase != SmtpPhase.Closed ? Session.CurrentPhase : LastActivePhase);

    /// <summary>The position for <paramref name="phase"/> with the session's current counters.</summary>
    internal SmtpPosition PositionAt(SmtpPhase phase)
    {
        var s = Session;
        var tx = s.CurrentTransaction;
        return new SmtpPosition
        {
            Phase = phase,
            Transaction = s.TransactionIndex + 1,
            Recipients = tx is null ? 0 : tx.Recipients.Count + tx.RecipientsNotKept,
            GreetingCode = s.Greeting?.Code ?? 0,
            UsedHelo = s.UsedHelo,
            WaitingForEhloReply = s.Commands.Count > 0 && s.Commands[^1].Reply is null && s.Commands[^1].Verb is "EHLO" or "HELO",
            ImplicitTls = ImplicitTls,
            AuthMechanism = s.AuthMechanism,
            AuthResult = s.AuthResult,
            Message = tx is null ? default : new MessageSize(tx.MessageBytes, tx.SizeApproximate),
        };
    }

    /// <summary>The position of transaction <paramref name="tx"/> where it ended.</summary>
    internal SmtpPosition PositionOf(SmtpTransaction tx) => PositionAt(tx.EndPhase) with
    {
        Transaction = tx.Index + 1,
        Recipients = tx.Recipients.Count + tx.RecipientsNotKept,
        Message = new MessageSize(tx.MessageBytes, tx.SizeApproximate),
    };

    internal static string Size(long bytes) => bytes switch
    {
        < 10_000 => bytes.ToString(Inv) + " B",
        < 10_000_000 => (bytes / 1000.0).ToString("0.#", Inv) + " kB",
        < 10_000_000_000 => (bytes / 1e6).ToString("0.#", Inv) + " MB",
        _ => (bytes / 1e9).ToString("0.##", Inv) + " GB",
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
