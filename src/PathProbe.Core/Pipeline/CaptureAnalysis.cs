using PathProbe.Analysis.Smtp;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Findings;
using PathProbe.Flows;

namespace PathProbe.Pipeline;

/// <summary>The result of analysing one input: immutable once produced.</summary>
public sealed class CaptureAnalysis
{
    public required InputSummary Input { get; init; }
    public required DecodeCounters Decode { get; init; }
    public required ReassemblyCounters Fragments { get; init; }
    public required IReadOnlyList<IncompleteDatagram> IncompleteDatagrams { get; init; }
    public required IReadOnlyList<Flow> Flows { get; init; }
    public required long FlowsEvicted { get; init; }
    public required long FlowsNotReported { get; init; }
    /// <summary>IP packets decoded (including datagrams completed by reassembly).</summary>
    public required long Decoded { get; init; }
    public required long FragmentsHeld { get; init; }
    /// <summary>TCP segments longer than the MSS their receiver advertised: segmentation offload (TSO/GSO/GRO) on the
    /// capture host, not what crossed the wire; never used as path-MTU evidence.</summary>
    public long OffloadFrames { get; init; }
    /// <summary>SMTP analysis counters; null when SMTP analysis was off.</summary>
    public SmtpStats? Smtp { get; init; }
    /// <summary>ACKs for data the capture never saw (tshark's tcp.analysis.ack_lost_segment), over all TCP flows of the
    /// input: the receiver got the segment, so a capture that misses it lost it itself. Evidence of capture loss beside
    /// <see cref="InputSummary.Drops"/>.</summary>
    public long AckedUnseen { get; init; }
    /// <summary>The findings' final versions, in the order they opened.</summary>
    public IReadOnlyList<Finding> Findings => Log.Findings;
    /// <summary>The analysis' finding log (verdicts decided after the capture, such as DNS checks, are added here).</summary>
    public required FindingLog Log { get; init; }
    /// <summary>DNS message and transaction counters (per-flow details are in each flow's <see cref="Flow.App"/>).</summary>
    public Analysis.Dns.DnsCounters? Dns { get; init; }
}
