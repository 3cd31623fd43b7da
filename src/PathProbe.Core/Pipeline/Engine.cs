using PathProbe.Capture;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Flows;

namespace PathProbe.Pipeline;

/// <summary>
/// The single-threaded hot loop: frame → decoder → flow table (→ detectors as they are added). One engine per
/// input. <see cref="Process"/> allocates nothing in steady state; only new flows allocate their record.
/// </summary>
public sealed class Engine
{
    private readonly FrameDecoder _decoder;
    private readonly IpReassembler _reassembler;
    private readonly FlowTable _flows;
    private long _decoded;
    private long _fragmentsHeld;

    public Engine(AnalysisOptions? options = null, int inputIndex = 0, int firstFlowId = 1)
    {
        options ??= new AnalysisOptions();
        _reassembler = new IpReassembler(options.Reassembly);
        _decoder = new FrameDecoder(_reassembler, new DecodeCounters());
        _flows = new FlowTable(options.Flows, firstFlowId) { InputIndex = inputIndex };
    }

    public FlowTable Flows => _flows;
    public DecodeCounters Counters => _decoder.Counters;
    public ReassemblyCounters FragmentCounters => _reassembler.Counters;
    public long Decoded => _decoded;

    public void Process(in RawFrame frame)
    {
        var p = new DecodedPacket();
        switch (_decoder.Decode(frame, ref p))
        {
            case DecodeStatus.Ok:
                _decoded++;
                _flows.Update(ref p, out _);
                break;
            case DecodeStatus.FragmentHeld:
                _fragmentsHeld++;
                break;
        }
    }

    /// <summary>End of input: closes reassembly and the flow table and returns the immutable result.</summary>
    public CaptureAnalysis Complete(InputSummary input)
    {
        _reassembler.Finish();
        _flows.Finish();
        return new CaptureAnalysis
        {
            Input = input,
            Decode = _decoder.Counters,
            Fragments = _reassembler.Counters,
            IncompleteDatagrams = _reassembler.Incomplete,
            Flows = _flows.ClosedFlows,
            FlowsEvicted = _flows.Evicted,
            FlowsNotReported = _flows.NotReported,
            Decoded = _decoded,
            FragmentsHeld = _fragmentsHeld,
        };
    }
}
