using PathProbe.Analysis.Tcp;
using PathProbe.Decoding.Reassembly;
using PathProbe.Flows;

namespace PathProbe.Pipeline;

public sealed class AnalysisOptions
{
    public FlowTableOptions Flows { get; init; } = new();
    public ReassemblyOptions Reassembly { get; init; } = new();
    public StallOptions Stalls { get; init; } = new();
    public StormOptions Storms { get; init; } = new();
}
