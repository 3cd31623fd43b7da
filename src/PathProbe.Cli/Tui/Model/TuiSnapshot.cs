using PathProbe.Findings;
using PathProbe.Flows.Timeline;
using PathProbe.Pipeline;
using PathProbe.Primitives;

namespace PathProbe.Cli.Tui.Model;

/// <summary>
/// Everything the screen shows, frozen at one moment: built on the thread that owns the engine (between reads when
/// live) and only read afterwards, so drawing never touches engine state. Text from the network is already cleaned.
/// </summary>
public sealed record TuiSnapshot
{
    public required string Source { get; init; }
    public bool Live { get; init; }
    /// <summary>File: the analysis is still running (rows so far are partial); live: capturing.</summary>
    public bool Running { get; init; }
    public long Packets { get; init; }
    /// <summary>Live only: packets per second over the last interval.</summary>
    public double PacketsPerSecond { get; init; }
    /// <summary>Live only: packets dropped by the kernel and the interface, -1 when unknown.</summary>
    public long Drops { get; init; } = -1;
    /// <summary>Capture time of the first packet (ns since the epoch; 0 none) and the time covered.</summary>
    public long FirstTime { get; init; }
    public long ElapsedNanos { get; init; }
    public string? Status { get; init; }
    public required IReadOnlyList<FlowRow> Rows { get; init; }
    public required IReadOnlyList<TuiVerdict> Verdicts { get; init; }
    /// <summary>Detail of the flow the UI asked for, when built.</summary>
    public FlowDetail? Detail { get; init; }
    /// <summary>Where the packets can be read again (the file, or the live spool), null when they cannot.</summary>
    public PacketStoreInfo? Store { get; init; }
    /// <summary>Increases with every new snapshot.</summary>
    public long Generation { get; init; }

    private List<VerdictGroup>? _groups;
    public IReadOnlyList<VerdictGroup> Groups => _groups ??= VerdictAdapter.Group(Verdicts);

    public int Count(Severity s)
    {
        int n = 0;
        foreach (var v in Verdicts) if (v.Severity == s) n++;
        return n;
    }
}

/// <summary>What the flow view shows of one flow: copies, never engine state.</summary>
public sealed record FlowDetail
{
    public required FlowRow Row { get; init; }
    public long Start { get; init; }
    public long End { get; init; }
    public bool Tcp { get; init; }
    /// <summary>Direction that sent more payload (the graphs start with it).</summary>
    public bool ClientSendsMore { get; init; } = true;
    public required DirectionFacts ClientToServer { get; init; }
    public required DirectionFacts ServerToClient { get; init; }
    public TimelinePoint[] Points { get; init; } = [];
    public int PacketsPerPoint { get; init; } = 1;
    /// <summary>Marks on the time axis: SMTP steps from the session (or the timeline's phases without one).</summary>
    public IReadOnlyList<AxisMark> Marks { get; init; } = [];
    public IReadOnlyList<TuiVerdict> Verdicts { get; init; } = [];
    public IReadOnlyList<TranscriptLine> Transcript { get; init; } = [];
    /// <summary>Why there is no timeline (not TCP, not recorded), or null.</summary>
    public string? NoTimeline { get; init; }
    /// <summary>The flow's addresses, ports and protocol, to find its packets again.</summary>
    public required FlowKey Key { get; init; }
    public required IpAddress ClientIp { get; init; }
    public required IpAddress ServerIp { get; init; }
    public byte IpProtocol { get; init; }
    /// <summary>A Wireshark display filter that selects this flow's packets.</summary>
    public required string WiresharkFilter { get; init; }

    public DirectionFacts Direction(bool clientToServer) => clientToServer ? ClientToServer : ServerToClient;

    /// <summary>The path-MTU ceiling of an mtu-blackhole verdict on this flow (IP packet bytes), 0 none.</summary>
    public int Ceiling => Verdicts.Where(v => v.Ceiling > 0).Select(v => v.Ceiling).DefaultIfEmpty(0).Min();
}

/// <summary>Per direction of a flow: what the size graph's reference lines and the RTT graph need.</summary>
public sealed record DirectionFacts
{
    /// <summary>MSS the receiver of this direction advertised (0 not seen).</summary>
    public int Mss { get; init; }
    /// <summary>Fixed IP + TCP header bytes of the flow (40 for IPv4, 60 for IPv6), so the MSS can be drawn as a packet
    /// size (the MSS excludes TCP options, RFC 6691).</summary>
    public int HeaderBytes { get; init; } = 40;
    /// <summary>The MSS as an IP packet size (MSS + headers), 0 when no MSS was seen.</summary>
    public int MssPacket => Mss > 0 ? Mss + HeaderBytes : 0;
    public long PayloadBytes { get; init; }
    public long Retransmissions { get; init; }
    /// <summary>Median RTT of this direction's data in ms (the JSON report's rtt.medianMs), NaN without samples.</summary>
    public double RttMedianMs { get; init; } = double.NaN;
    public long RttSamples { get; init; }
}

/// <summary>A mark on a graph's time axis: an SMTP step ("G" greeting, "E" EHLO, ...) at a capture time.</summary>
public readonly record struct AxisMark(long Time, char Symbol, string Name);

/// <summary>One line of an SMTP transcript: who, when, and the cleaned text (never message content).</summary>
public readonly record struct TranscriptLine(long Time, bool FromClient, string Text);

/// <summary>Where a flow's packets can be read again: a capture file, or the live spool up to its flushed length.</summary>
public sealed record PacketStoreInfo(string Path, bool Live)
{
    /// <summary>The files of a joined input (tui --join, a rotated set), in the order given; null for one file.</summary>
    public IReadOnlyList<string>? Files { get; init; }
    /// <summary>The input's filter, window and packet limit (tui FILE FILTER, --since/--until, -c); null: every frame.</summary>
    public PacketSelection? Selection { get; init; }
}
