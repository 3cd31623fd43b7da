using PathProbe.Flows.Streams;
using PathProbe.Protocols.Smtp;

namespace PathProbe.Analysis.Smtp;

/// <summary>SMTP analysis in <c>analyze</c>: which flows are decoded, memory bounds, and the thresholds of
/// <c>smtp-slow-reply</c>.</summary>
public sealed class SmtpOptions
{
    /// <summary>Decode SMTP (ports 25, 465, 587, 2525, a 220 banner on any port, or a greeting after a proxy exchange
    /// on any port). Needs TCP analysis.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>SMTP sessions decoded at the same time; a flow that starts while this many are open is not decoded
    /// (counted in <see cref="SmtpStats.FlowsNotDecoded"/>). Closed sessions keep only their bounded summary.</summary>
    public int MaxConcurrentFlows { get; init; } = 10_000;

    /// <summary>Out-of-order bytes buffered by all SMTP stream reassemblers together (<see cref="StreamBudget"/>);
    /// a direction that needs more is abandoned and counted.</summary>
    public long StreamBudgetBytes { get; init; } = StreamBudget.DefaultCapacity;

    /// <summary>Per-session bounds of kept commands, transactions, recipients and text.</summary>
    public SmtpLimits Limits { get; init; } = SmtpLimits.Default;

    /// <summary>Connect → greeting longer than this is slow. RFC 5321 4.5.3.2.1 lets a client wait 5 minutes, but
    /// Postfix, Exim and Sendmail greet within milliseconds unless they tarpit, greet-pause (postscreen) or wait
    /// for a reverse-DNS lookup of the client, which typically times out after 5 to 30 s.</summary>
    public TimeSpan GreetingThreshold { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Command → reply longer than this is slow (greylisting and policy services, recipient verification
    /// callouts, DNS blocklist lookups timing out, tarpitting).</summary>
    public TimeSpan ReplyThreshold { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>End of data → final reply longer than this is slow. Content scanning (spam and virus filters)
    /// legitimately takes seconds, so the bar is higher; RFC 5321 4.5.3.2.6 gives the server 10 minutes.</summary>
    public TimeSpan DataReplyThreshold { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Replies listed in one finding's evidence at most (the rest are counted).</summary>
    public int MaxRepliesPerFinding { get; init; } = 20;
}

/// <summary>What the SMTP analysis decoded and what its bounds cut off, per input.</summary>
public sealed class SmtpStats
{
    /// <summary>Flows decoded as SMTP (by port or by a 220 banner).</summary>
    public long Flows { get; internal set; }
    /// <summary>Of those, recognised by a 220 banner on a port that is not an SMTP port.</summary>
    public long FlowsByBanner { get; internal set; }
    /// <summary>Of those, found behind a proxy exchange (HTTP CONNECT, PROXY protocol, SOCKS) on a port that is not an
    /// SMTP port.</summary>
    public long FlowsBehindProxy { get; internal set; }
    /// <summary>SMTP flows not decoded because <see cref="SmtpOptions.MaxConcurrentFlows"/> sessions were open.</summary>
    public long FlowsNotDecoded { get; internal set; }
    /// <summary>Stream directions abandoned because a reassembly bound or the shared budget was hit.</summary>
    public long StreamsAbandoned { get; internal set; }
    /// <summary>Reservations the shared <see cref="StreamBudget"/> refused.</summary>
    public long BudgetRefusals { get; internal set; }
    /// <summary>Largest number of out-of-order bytes buffered at once across all SMTP flows.</summary>
    public long PeakBufferedBytes { get; internal set; }
}
