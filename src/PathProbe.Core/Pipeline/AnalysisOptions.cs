using PathProbe.Analysis.Mtu;
using PathProbe.Analysis.Dns;
using PathProbe.Analysis.Fragmentation;
using PathProbe.Analysis.Smtp;
using PathProbe.Analysis.Tcp;
using PathProbe.Decoding.Reassembly;
using PathProbe.Flows;

namespace PathProbe.Pipeline;

public sealed class AnalysisOptions
{
    public FlowTableOptions Flows { get; init; } = new();
    public ReassemblyOptions Reassembly { get; init; } = new();
    public StallOptions Stalls { get; init; } = new();
    /// <summary>TCP sequence analysis and its detectors (stalls, connects, storms). Off only to measure the cost of
    /// decoding and flow tracking alone.</summary>
    public bool TcpAnalysis { get; init; } = true;
    public StormOptions Storms { get; init; } = new();
    public PathMtuOptions PathMtu { get; init; } = new();
    /// <summary>DNS transactions in the capture (timeouts, truncation, sizes).</summary>
    public DnsOptions Dns { get; init; } = new();
    public FragmentationOptions Fragmentation { get; init; } = new();
    /// <summary>Keep a bounded per-flow timeline of TCP flows (<see cref="Flows.Timeline.FlowTimeline"/>) for the TUI.
    /// Off by default: analyze and the benchmarks do not pay for it. Needs <see cref="TcpAnalysis"/>.</summary>
    public bool Timelines { get; init; }
    /// <summary>Most points per flow timeline (memory per flow: 112 bytes a point).</summary>
    public int TimelinePoints { get; init; } = 512;
    /// <summary>SMTP decoding and its findings (runs only with <see cref="TcpAnalysis"/>).</summary>
    public SmtpOptions Smtp { get; init; } = new();
    /// <summary>Record every opening, change and closing of a finding for live output
    /// (<see cref="Engine.TakeFindingEvents"/>). Off for offline analysis.</summary>
    public bool FindingEvents { get; init; }
    /// <summary>A flow whose only packet is a client's pure SYN keeps the SYN's fields instead of its TCP state and
    /// SMTP session, which are made, the same, when first read (<see cref="Flows.Flow.Tcp"/>, <see cref="Flows.Flow.App"/>).
    /// Off with <see cref="Timelines"/> (the TUI reads live flows from its own thread); tests turn it off to compare.</summary>
    internal bool HoldSyns { get; init; } = true;
}
