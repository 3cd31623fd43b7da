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
    /// <summary>SMTP decoding and its findings (runs only with <see cref="TcpAnalysis"/>).</summary>
    public SmtpOptions Smtp { get; init; } = new();
}
