using PathProbe.Analysis.Mtu;
using PathProbe.Analysis.Dns;
using PathProbe.Analysis.Fragmentation;
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
}
