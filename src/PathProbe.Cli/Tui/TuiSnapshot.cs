using PathProbe.Findings;
using PathProbe.Flows.Timeline;

namespace PathProbe.Cli.Tui;

/// <summary>
/// Everything the screen shows, frozen at one moment: built on the thread that owns the engine (between reads when
/// live) and only read afterwards, so rendering never touches engine state. Text that came from the network is
/// already passed through <c>SafeText.Clean</c>; the views escape it for Spectre markup.
/// </summary>
public sealed record TuiSnapshot
{
    public required string Source { get; init; }
    public bool Live { get; init; }
    public long Packets { get; init; }
    /// <summary>Live only: packets per second over the last interval.</summary>
    public double PacketsPerSecond { get; init; }
    /// <summary>Live only: packets dropped by the kernel and the interface, -1 when unknown.</summary>
    public long Drops { get; init; } = -1;
    /// <summary>Capture time from the first to the last packet.</summary>
    public TimeSpan Elapsed { get; init; }
    /// <summary>File mode: analysis still running (rows so far are partial); live: capturing.</summary>
    public bool Running { get; init; }
    public string? Status { get; init; }
    public required IReadOnlyList<FlowRow> Rows { get; init; }
    public required IReadOnlyList<Finding> Findings { get; init; }
    /// <summary>Detail of the flow the UI asked for, when known.</summary>
    public FlowDetail? Detail { get; init; }
    /// <summary>Increases with every new snapshot (cached sort orders are keyed on it).</summary>
    public long Generation { get; init; }

    public int CountBySeverity(Severity s)
    {
        int n = 0;
        foreach (var f in Findings) if (f.Severity == s) n++;
        return n;
    }
}

/// <summary>One row of the flow list (immutable).</summary>
public sealed record FlowRow
{
    public required int Id { get; init; }
    public required string Protocol { get; init; }
    public required string Client { get; init; }
    public required string Server { get; init; }
    public required string ServerAddress { get; init; }
    /// <summary>Application summary (SMTP: EHLO name, sender → recipients), cleaned; "" when unknown.</summary>
    public required string Application { get; init; }
    public required string State { get; init; }
    public long Bytes { get; init; }
    public long Packets { get; init; }
    /// <summary>Retransmitted share of data segments, 0..1.</summary>
    public double RetransmissionShare { get; init; }
    public int MaxSegment { get; init; }
    /// <summary>MSS the receiver of the larger direction announced, 0 when not seen.</summary>
    public int Mss { get; init; }
    /// <summary>Smoothed RTT in ms, NaN when no sample.</summary>
    public double RttMs { get; init; } = double.NaN;
    /// <summary>Worst finding on this flow, or -1 when none.</summary>
    public int Severity { get; init; } = -1;
    public long Start { get; init; }
    /// <summary>Lower-case text the filter matches: endpoints, protocol, application, state, finding kinds.</summary>
    public required string SearchText { get; init; }
}

/// <summary>What the flow view shows of one flow.</summary>
public sealed record FlowDetail
{
    public required FlowRow Row { get; init; }
    public long Start { get; init; }
    public long End { get; init; }
    /// <summary>Direction drawn in the time-sequence graph: the one that sent more payload.</summary>
    public bool ClientSends { get; init; } = true;
    /// <summary>MSS announced by the receiver of the drawn direction (0 unknown).</summary>
    public int Mss { get; init; }
    /// <summary>IP + TCP header bytes of the drawn direction's data packets (largest packet - largest payload), so the
    /// MSS can be drawn as an IP packet size.</summary>
    public int HeaderBytes { get; init; } = 40;
    /// <summary>Inferred path-MTU ceiling (IP packet bytes) from an mtu-blackhole finding, 0 when none.</summary>
    public int Ceiling { get; init; }
    public TimelinePoint[] Points { get; init; } = [];
    public TimelinePhase[] Phases { get; init; } = [];
    public int PacketsPerPoint { get; init; } = 1;
    public IReadOnlyList<Finding> Findings { get; init; } = [];
    public IReadOnlyList<TranscriptLine> Transcript { get; init; } = [];
    /// <summary>Why there is no timeline (not TCP, timelines off), or null.</summary>
    public string? NoTimeline { get; init; }
}

/// <summary>One line of an SMTP transcript: who, when, and the cleaned text (never message content).</summary>
public readonly record struct TranscriptLine(long Time, bool FromClient, string Text);
