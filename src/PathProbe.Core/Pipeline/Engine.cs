using PathProbe.Analysis.Mtu;
using PathProbe.Analysis.Dns;
using PathProbe.Analysis.Fragmentation;
using PathProbe.Analysis.Smtp;
using PathProbe.Analysis.Tcp;
using PathProbe.Capture;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Flows.Tcp;

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
    private readonly TcpAnalyzer _tcp = new();
    private readonly TcpFindingDetector _tcpFindings;
    private readonly RetransmissionStormDetector _storms;
    private readonly PathMtuDetector _mtu;
    private readonly DnsAnalyzer _dns;
    private readonly FragmentationDetector _fragmentation;
    private readonly Flows.Timeline.TimelineRecorder? _timelines;
    private readonly SmtpAnalyzer? _smtp; // null when SMTP analysis (or TCP analysis) is off
    private long _now;
    private readonly bool _tcpAnalysis;
    private readonly List<Finding> _findings = new();
    private int _findingsTaken;
    private long _decoded;
    private long _fragmentsHeld;
    private long _ackedUnseen;

    public Engine(AnalysisOptions? options = null, int inputIndex = 0, int firstFlowId = 1)
    {
        options ??= new AnalysisOptions();
        _reassembler = new IpReassembler(options.Reassembly);
        _decoder = new FrameDecoder(_reassembler, new DecodeCounters());
        _flows = new FlowTable(options.Flows, firstFlowId) { InputIndex = inputIndex };
        _tcpAnalysis = options.TcpAnalysis;
        _tcpFindings = new TcpFindingDetector(options.Stalls, Report);
        _storms = new RetransmissionStormDetector(options.Storms, Report);
        _mtu = new PathMtuDetector(options.PathMtu, Report, Replace);
        _dns = new DnsAnalyzer(options.Dns, Report);
        _fragmentation = new FragmentationDetector(options.Fragmentation, _dns, Report);
        if (_tcpAnalysis && options.Smtp.Enabled) _smtp = new SmtpAnalyzer(options.Smtp, Report);
        _flows.FlowClosing = OnFlowClosing;
        _timelines = options.Timelines ? new Flows.Timeline.TimelineRecorder(options.TimelinePoints) : null;
    }

    public FlowTable Flows => _flows;
    public DecodeCounters Counters => _decoder.Counters;
    public ReassemblyCounters FragmentCounters => _reassembler.Counters;
    public long Decoded => _decoded;
    public long FragmentsHeld => _fragmentsHeld;
    public DnsCounters DnsCounters => _dns.Counters;

    /// <summary>Findings detected so far, in the order they were detected.</summary>
    public IReadOnlyList<Finding> Findings => _findings;

    /// <summary>Appends the findings detected since the previous call to <paramref name="into"/> (live output:
    /// NDJSON, the status line) and returns how many there were.</summary>
    public int TakeNewFindings(List<Finding> into)
    {
        int n = _findings.Count - _findingsTaken;
        for (int i = _findingsTaken; i < _findings.Count; i++) into.Add(_findings[i]);
        _findingsTaken = _findings.Count;
        return n;
    }

    /// <summary>Detectors report here, at the moment they decide.</summary>
    internal void Report(Finding finding) => _findings.Add(finding);

    /// <summary>A detector's final version of a finding it reported while the capture ran (live output already has
    /// the first version; the report gets this one).</summary>
    internal void Replace(Finding old, Finding updated)
    {
        int i = _findings.IndexOf(old);
        if (i >= 0) _findings[i] = updated; else _findings.Add(updated);
    }

    /// <summary>A flow leaves the table (FIN/RST and idle expiry, eviction, end of input): detectors that decide
    /// per flow do it here, before the record can be recycled.</summary>
    private void OnFlowClosing(Flow flow)
    {
        if (_tcpAnalysis)
        {
            _tcpFindings.FlowClosing(flow, _now);
            _mtu.FlowClosing(flow, _now);
        }
        _smtp?.FlowClosing(flow, _now); // after the TCP detector: it reads the stall the detector settled
        _dns.FlowClosing(flow, _now);
    }

    public void Process(in RawFrame frame)
    {
        var p = new DecodedPacket();
        long now = frame.Time.UnixNanoseconds;
        if (now > _now) _now = now;
        switch (_decoder.Decode(frame, ref p))
        {
            case DecodeStatus.Ok:
                _decoded++;
                Flow? flow = _flows.Update(ref p, out bool fromClient);
                if (flow is null) break;
                TcpAnalysisFlags ta = 0;
                if (_tcpAnalysis && flow.Protocol == FlowProtocol.Tcp)
                {
                    _tcpFindings.BeforeSegment(flow, now);
                    _mtu.OnSegment(flow, fromClient, ref p, now); // before the analyzer: holes are judged on the state before this segment
                    ta = _tcp.Process(flow, fromClient, ref p);
                    if ((ta & TcpAnalysisFlags.AckLostPacket) != 0) _ackedUnseen++; // capture-loss evidence (CaptureAnalysis.AckedUnseen)
                    // A resend that follows an ICMP too-big and fits is path-MTU discovery at work, not loss.
                    if ((ta & TcpAnalysisFlags.AnyRetransmission) != 0 && PathMtuDetector.ExplainedByIcmp(flow, fromClient, p.IpPacketLength, now))
                        ta &= ~TcpAnalysisFlags.AnyRetransmission;
                    _storms.OnSegment(flow, fromClient, ta, p.PayloadWireLength, p.TcpFlags, p.IpPacketLength, now);
                    if ((p.TcpFlags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn) _storms.OnSyn(p.Src);
                    _tcpFindings.AfterSegment(flow, _tcp.MadeProgress, (p.TcpFlags & TcpFlags.Rst) != 0, now);
                }
                else if (_tcpAnalysis && flow.Protocol == FlowProtocol.Icmp) _mtu.OnIcmp(ref p, _flows, now);
                DnsAndFragments(flow, fromClient, ref p);
                if (_smtp is not null && flow.Protocol == FlowProtocol.Tcp) _smtp.OnSegment(flow, fromClient, in p);
                // After SMTP: the timeline records a phase change with the packet that caused it.
                if (_timelines is not null && flow.Protocol == FlowProtocol.Tcp) _timelines.Record(flow, fromClient, ref p, ta);
                break;
            case DecodeStatus.FragmentHeld:
                _fragmentsHeld++;
                break;
        }
        _dns.Tick(now);
        _fragmentation.CollectIncomplete(_reassembler.Incomplete, _flows);
    }

    /// <summary>Live capture, while no packet arrives: time passes all the same. Decisions that wait for time (a
    /// hole in a sender's data that never fills, a DNS query without an answer) are taken at <paramref name="now"/>
    /// (Unix nanoseconds, the clock the capture timestamps come from); never moves time backwards.</summary>
    public void Idle(long now)
    {
        if (_now == 0 || now <= _now) return;
        _now = now;
        if (_tcpAnalysis) _mtu.Tick(now);
        _dns.Tick(now);
    }

    /// <summary>DNS on port 53, reassembled datagrams and ICMP reassembly errors; nothing to do for other packets.</summary>
    private void DnsAndFragments(Flow flow, bool fromClient, ref DecodedPacket p)
    {
        DnsTransaction? answered = null;
        if ((p.SrcPort == 53 || p.DstPort == 53) && flow.Protocol != FlowProtocol.Icmp) answered = _dns.OnPacket(flow, fromClient, ref p);
        if (p.Reassembled) _fragmentation.OnReassembled(flow, fromClient, ref p, answered);
        else if (p.Quoted.Present) _fragmentation.OnIcmp(ref p);
    }

    /// <summary>End of input for DNS and fragmentation: incomplete datagrams are tied to their flows while the flows
    /// are still in the table; findings follow once the flows have closed (TCP streams flushed).</summary>
    private void FinishDnsAndFragments(bool flowsClosed)
    {
        if (!flowsClosed) { _fragmentation.CollectIncomplete(_reassembler.Incomplete, _flows); return; }
        _dns.Finish(_now);
        _fragmentation.Finish(_now);
    }

    /// <summary>End of input: closes reassembly and the flow table and returns the immutable result.</summary>
    public CaptureAnalysis Complete(InputSummary input)
    {
        _reassembler.Finish();
        FinishDnsAndFragments(flowsClosed: false);
        _storms.Finish();
        _flows.Finish();
        if (_tcpAnalysis) _mtu.Finish();
        FinishDnsAndFragments(flowsClosed: true);
        var result = new CaptureAnalysis
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
            OffloadFrames = _mtu.OffloadFrames,
            AckedUnseen = _ackedUnseen,
            Dns = _dns.Counters,
            Smtp = _smtp?.Stats,
        };
        result.Findings.AddRange(_findings);
        return result;
    }
}
