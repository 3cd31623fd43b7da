using System.Runtime.CompilerServices;
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
using PathProbe.Primitives;

namespace PathProbe.Pipeline;

/// <summary>A stage of the engine: who sees a packet, a closing flow or the end of input, in which order.</summary>
public enum Stage : byte
{
    /// <summary>Stall detector: a silence before this segment opens a stall (judged on the state before it).</summary>
    StallsBefore,
    /// <summary>Path-MTU detector: holes are judged on the sequence state before the analyzer updates it.</summary>
    PathMtu,
    /// <summary>Wireshark's TCP analysis of the segment.</summary>
    TcpAnalysis,
    /// <summary>Retransmission storms: after the analysis (its flags), ICMP-explained resends removed.</summary>
    Storms,
    /// <summary>Stall detector: progress, reset or a resend after the segment.</summary>
    StallsAfter,
    /// <summary>ICMP too-big mapped to its flow.</summary>
    IcmpTooBig,
    /// <summary>DNS on port 53, reassembled datagrams, ICMP reassembly errors.</summary>
    DnsAndFragments,
    /// <summary>SMTP decoding (reads the TCP analysis of the segment).</summary>
    Smtp,
    /// <summary>TUI timelines, after SMTP so a phase change is recorded with the packet that caused it.</summary>
    Timeline,
    /// <summary>Flow close: TCP stall and connect verdicts.</summary>
    TcpFindings,
    /// <summary>Flow close: SMTP (reads the stall the TCP detector settled and the black hole).</summary>
    SmtpClose,
    /// <summary>Flow close: DNS over TCP flushed.</summary>
    DnsClose,
    /// <summary>Flow close: every verdict that names the flow gets its final numbers.</summary>
    FlowFacts,
    /// <summary>End of input, in order: reassembly, storms, the flow table (every flow closes), path-MTU final
    /// verdicts, DNS timeouts, fragmentation.</summary>
    Reassembly, FlowTable, Dns, Fragmentation,
}

/// <summary>
/// The single-threaded hot loop: frame → decoder → flow table → detectors, in the order of <see cref="Stages"/>.
/// One engine per input. <see cref="Process"/> allocates nothing in steady state; only new flows allocate their
/// record, and detectors allocate their verdicts when they decide.
/// </summary>
public sealed class Engine : IFrameSink
{
    /// <summary>The order of the stages, in one place (the engine runs these lists; tests read them).</summary>
    public static class Stages
    {
        /// <summary>Per TCP segment.</summary>
        public static readonly IReadOnlyList<Stage> Segment =
            [Stage.StallsBefore, Stage.PathMtu, Stage.TcpAnalysis, Stage.Storms, Stage.StallsAfter, Stage.DnsAndFragments, Stage.Smtp, Stage.Timeline];
        /// <summary>Per ICMP, UDP or other packet.</summary>
        public static readonly IReadOnlyList<Stage> Other = [Stage.IcmpTooBig, Stage.DnsAndFragments];
        /// <summary>When a flow leaves the table.</summary>
        public static readonly IReadOnlyList<Stage> FlowClose = [Stage.TcpFindings, Stage.PathMtu, Stage.SmtpClose, Stage.DnsClose, Stage.FlowFacts];
        /// <summary>At the end of input.</summary>
        public static readonly IReadOnlyList<Stage> End = [Stage.Reassembly, Stage.Storms, Stage.FlowTable, Stage.PathMtu, Stage.Dns, Stage.Fragmentation];
    }

    private static readonly Stage[] SegmentStages = Stages.Segment.ToArray();
    private static readonly Stage[] CloseStages = Stages.FlowClose.ToArray();

    private readonly FrameDecoder _decoder;
    private readonly IpReassembler _reassembler;
    private readonly FlowTable _flows;
    private readonly TcpAnalyzer _tcp = new();
    private readonly FindingLog _log;
    private readonly TcpFindingDetector _tcpFindings;
    private readonly RetransmissionStormDetector _storms;
    private readonly PathMtuDetector _mtu;
    private readonly DnsAnalyzer _dns;
    /// <summary>Bytes the DNS analyzer's text arena holds (tests: the answers' texts kept for the report).</summary>
    internal long DnsTextBytes => _dns.TextBytes;
    private readonly FragmentationDetector _fragmentation;
    private readonly Flows.Timeline.TimelineRecorder? _timelines;
    private readonly SmtpAnalyzer? _smtp; // null when SMTP analysis (or TCP analysis) is off
    private long _now;
    private readonly bool _tcpAnalysis;
    private readonly bool _holdSyns;
    private long _decoded;
    private long _fragmentsHeld;
    private long _ackedUnseen;
    /// <summary>ACKs for data the capture never saw, per flow (flows whose handshake is in the capture) with the first
    /// and last time, for
    /// <see cref="CaptureArtefacts"/>; at most <see cref="MaxAckedUnseenFlows"/> flows.</summary>
    private readonly Dictionary<int, (long Count, long First, long Last)> _ackedUnseenByFlow = new();
    private const int MaxAckedUnseenFlows = 65_536;

    /// <summary>Stages run so far, in order, when tracing (tests): null otherwise.</summary>
    internal List<Stage>? Trace { get; set; }

    public Engine(AnalysisOptions? options = null, int inputIndex = 0, int firstFlowId = 1) : this(options, inputIndex, firstFlowId, null)
    {
    }

    private Engine(AnalysisOptions? options, int inputIndex, int firstFlowId, ShardNotes? shard)
    {
        options ??= new AnalysisOptions();
        _shard = shard;
        _reassembler = new IpReassembler(options.Reassembly);
        _decoder = new FrameDecoder(_reassembler, new DecodeCounters());
        _flows = new FlowTable(options.Flows, firstFlowId) { InputIndex = inputIndex };
        _tcpAnalysis = options.TcpAnalysis;
        _holdSyns = options.HoldSyns && options.TcpAnalysis && !options.Timelines;
        _log = new FindingLog { RecordEvents = options.FindingEvents, TrackKeys = shard is not null };
        _tcpFindings = new TcpFindingDetector(options.Stalls, _log);
        _mtu = new PathMtuDetector(options.PathMtu, _log);
        _storms = new RetransmissionStormDetector(options.Storms, _log, _mtu);
        StormOptions = options.Storms;
        _dns = new DnsAnalyzer(options.Dns, _log);
        _fragmentation = new FragmentationDetector(options.Fragmentation, _dns, _log);
        if (_tcpAnalysis && options.Smtp.Enabled) _smtp = new SmtpAnalyzer(options.Smtp, _log, _tcpFindings, _mtu) { HoldSyns = _holdSyns };
        _flows.FlowClosing = OnFlowClosing;
        _timelines = options.Timelines ? new Flows.Timeline.TimelineRecorder(options.TimelinePoints) : null;
    }

    /// <summary>A worker of <see cref="ParallelAnalyzer"/>: worker <paramref name="worker"/> of <paramref name="workers"/>
    /// numbers its flows in its own share of the id space and notes where in the input each verdict was raised, each
    /// flow was created and closed, and each incomplete datagram was recorded, so the merge can put the workers'
    /// results in the order one engine would have produced them.</summary>
    internal Engine(AnalysisOptions options, int inputIndex, int worker, int workers) : this(options, inputIndex, worker + 1, new ShardNotes())
    {
        _flows.IdStride = workers;
    }

    /// <summary>What a parallel worker notes for the merge (null for a single engine).</summary>
    internal sealed class ShardNotes
    {
        /// <summary>Index of the input frame being processed.</summary>
        public long Frame;
        /// <summary>Flows are leaving the table by idle expiry (before the frame) or at the end of input (phase base).</summary>
        public bool Expiring, Finishing;
        public int FinishPhase;
        private long _seq;
        /// <summary>Per flow created: its (worker) id and the frame that created it.</summary>
        public readonly List<(int Id, long Frame)> Created = new();
        /// <summary>Per flow closed, in the order it closed: where.</summary>
        public readonly List<RaiseKey> Closed = new();
        /// <summary>Per incomplete datagram recorded, in order: where.</summary>
        public readonly List<RaiseKey> Incomplete = new();
        public RaiseKey Key(int phase, long sub, long sub2 = 0) => new(Frame, phase, sub, _seq++) { Sub2 = sub2 };

        /// <summary>Per second of capture time: the counts the storm detector judges a window on (data segments,
        /// retransmissions, pure SYNs, SYN-ACKs), to tell whether a storm could involve several workers.</summary>
        public readonly Dictionary<long, (long Data, long Retx, long Syns, long SynAcks)> StormSeconds = new();
        public long TcpSegments;
        private long _second = long.MinValue;
        private (long Data, long Retx, long Syns, long SynAcks) _counts;

        public void CountSegment(long now, bool data, bool retx, bool syn, bool synAck)
        {
            TcpSegments++;
            long sec = now >= 0 ? now / 1_000_000_000 : (now + 1) / 1_000_000_000 - 1;
            if (sec != _second) { FlushSecond(); _second = sec; _counts = StormSeconds.GetValueOrDefault(sec); }
            if (data) _counts.Data++;
            if (retx && data) _counts.Retx++;
            if (syn) _counts.Syns++;
            if (synAck) _counts.SynAcks++;
        }

        public void FlushSecond()
        {
            if (_second != long.MinValue) StormSeconds[_second] = _counts;
        }
    }

    private readonly ShardNotes? _shard;
    internal ShardNotes? Shard => _shard;
    internal FindingLog Log => _log;
    internal IpReassembler Reassembler => _reassembler;
    internal SmtpAnalyzer? Smtp => _smtp;
    internal PathMtuDetector PathMtu => _mtu;
    internal long AckedUnseen => _ackedUnseen;
    internal Analysis.Tcp.StormOptions StormOptions { get; private set; } = new();

    public FlowTable Flows => _flows;
    public DecodeCounters Counters => _decoder.Counters;
    public ReassemblyCounters FragmentCounters => _reassembler.Counters;
    public long Decoded => _decoded;
    public long FragmentsHeld => _fragmentsHeld;
    public DnsCounters DnsCounters => _dns.Counters;

    /// <summary>The latest version of every finding so far, in the order they opened.</summary>
    public IReadOnlyList<Finding> Findings => _log.Findings;

    /// <summary>Appends the findings' openings, changes and closings since the previous call (needs
    /// <see cref="AnalysisOptions.FindingEvents"/>) and returns how many findings had events.</summary>
    public int TakeFindingEvents(List<FindingEvent> into) => _log.TakeEvents(into);

    /// <summary>Capture time reached <paramref name="now"/>: once per second of it, the black-hole verdicts whose
    /// numbers changed (resends) get their new version. By capture time, so that a live capture, an offline analysis and
    /// parallel workers publish the same versions.</summary>
    private void Clock(long now)
    {
        if (now > _now) _now = now;
        if (_now < _nextPublish) return;
        _nextPublish = (Math.DivRem(_now, Timestamp.NanosPerSecond, out long rem) + (rem < 0 ? 0 : 1)) * Timestamp.NanosPerSecond;
        if (!_tcpAnalysis) return;
        // A verdict first raised here (its earlier builds had no bounds yet) sorts before the frame's own, as in one engine.
        var position = _log.Position;
        if (_shard is { } sh) _log.Position = sh.Key(RaiseKey.Clock, 0);
        _mtu.PublishChanged();
        _log.Position = position;
    }

    private long _nextPublish = long.MinValue;

    /// <summary>A flow leaves the table (FIN/RST and idle expiry, eviction, end of input): detectors that decide
    /// per flow do it here, before the record can be recycled.</summary>
    private void OnFlowClosing(Flow flow)
    {
        if (_shard is { } sh)
        {
            bool tcp = flow.Protocol == FlowProtocol.Tcp;
            // Idle flows leave in the order they were touched; closed connections by their last packet's time (then touch).
            if (sh.Expiring)
                _log.Position = !tcp ? sh.Key(RaiseKey.ExpireOther, flow.LastFrame)
                    : flow.OnEndedList ? sh.Key(RaiseKey.ExpireEnded, flow.LastSeen.UnixNanoseconds, flow.LastFrame)
                    : sh.Key(RaiseKey.ExpireTcp, flow.LastFrame);
            else if (sh.Finishing) _log.Position = sh.Key(sh.FinishPhase + (tcp ? 0 : 1), flow.LastFrame);
            sh.Closed.Add(_log.Position with { Seq = sh.Key(0, 0).Seq });
        }
        foreach (var stage in CloseStages)
        {
            Trace?.Add(stage);
            switch (stage)
            {
                case Stage.TcpFindings: if (_tcpAnalysis) _tcpFindings.FlowClosing(flow, _now); break;
                case Stage.PathMtu: if (_tcpAnalysis) _mtu.FlowClosing(flow, _now); break;
                case Stage.SmtpClose: _smtp?.FlowClosing(flow, _now); break;
                case Stage.DnsClose: _dns.FlowClosing(flow, _now); break;
                case Stage.FlowFacts: if (_log.Names(flow.Id)) _log.RefreshFlow(FlowFacts.Of(flow)); break;
            }
        }
    }

    public void Process(in RawFrame frame)
    {
        var p = new DecodedPacket();
        long now = frame.Time.UnixNanoseconds;
        Clock(now);
        switch (_decoder.Decode(frame, ref p))
        {
            case DecodeStatus.Ok:
                _decoded++;
                Flow? flow = _flows.Update(ref p, out bool fromClient);
                if (flow is null) break;
                FlowPacket(flow, fromClient, ref p, now);
                break;
            case DecodeStatus.FragmentHeld:
                _fragmentsHeld++;
                break;
        }
        _dns.Tick(now);
        _fragmentation.CollectIncomplete(_reassembler.Incomplete, _flows);
    }

    /// <summary>A parallel worker's own frame (input frame <paramref name="index"/>): what <see cref="Process"/> does,
    /// with idle expiry taken out of the flow table's update so the closes it causes can be placed, and notes for
    /// the merge.</summary>
    internal void ProcessShard(in RawFrame frame, long index)
    {
        var sh = _shard!;
        sh.Frame = index;
        _log.Position = sh.Key(RaiseKey.Own, 0);
        var p = new DecodedPacket();
        long now = frame.Time.UnixNanoseconds;
        Clock(now);
        int incomplete = _reassembler.Incomplete.Count;
        switch (_decoder.Decode(frame, ref p))
        {
            case DecodeStatus.Ok:
                _decoded++;
                if (p.IsTcp || p.IsUdp || p.IsIcmp)
                {
                    sh.Expiring = true;
                    _flows.Expire(p.Time);
                    sh.Expiring = false;
                    _log.Position = sh.Key(RaiseKey.Own, 0);
                }
                long created = _flows.FlowsCreated;
                Flow? flow = _flows.Update(ref p, out bool fromClient);
                if (flow is null) break;
                flow.LastFrame = index;
                if (_flows.FlowsCreated != created) sh.Created.Add((flow.Id, index));
                FlowPacket(flow, fromClient, ref p, now);
                break;
            case DecodeStatus.FragmentHeld:
                _fragmentsHeld++;
                break;
        }
        NoteIncomplete(sh, incomplete, RaiseKey.Own);
        _log.Position = sh.Key(RaiseKey.AfterFrame, long.MinValue);
        _dns.Tick(now);
        _fragmentation.CollectIncomplete(_reassembler.Incomplete, _flows);
    }

    /// <summary>A parallel worker sees another worker's frame: capture time passes for its own state as it would in one
    /// engine (idle flows expire when <paramref name="flowPacket"/>, fragments time out when <paramref name="fragment"/>,
    /// DNS queries time out).</summary>
    internal void AdvanceShard(long now, long index, bool flowPacket, bool fragment)
    {
        var sh = _shard!;
        sh.Frame = index;
        Clock(now);
        var t = new Timestamp(now);
        if (fragment)
        {
            int incomplete = _reassembler.Incomplete.Count;
            _reassembler.Expire(t);
            NoteIncomplete(sh, incomplete, RaiseKey.Own);
        }
        if (flowPacket)
        {
            sh.Expiring = true;
            _flows.Expire(t);
            sh.Expiring = false;
        }
        _log.Position = sh.Key(RaiseKey.AfterFrame, long.MinValue);
        _dns.Tick(now);
        _fragmentation.CollectIncomplete(_reassembler.Incomplete, _flows);
    }

    private void NoteIncomplete(ShardNotes sh, int before, int phase)
    {
        var list = _reassembler.Incomplete;
        for (int i = before; i < list.Count; i++) sh.Incomplete.Add(sh.Key(phase, list[i].FirstSeen.UnixNanoseconds));
    }

    /// <summary>A decoded packet of <paramref name="flow"/>, counted by the flow table: TCP segments through the
    /// segment stages; ICMP to the path-MTU detector (errors quoting a flow); DNS and reassembled datagrams.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void FlowPacket(Flow flow, bool fromClient, ref DecodedPacket p, long now)
    {
        if (flow.Protocol == FlowProtocol.Tcp) Segment(flow, fromClient, ref p, now);
        else
        {
            if (_tcpAnalysis && flow.Protocol == FlowProtocol.Icmp) _mtu.OnIcmp(ref p, _flows, now);
            DnsAndFragments(flow, fromClient, ref p);
        }
    }

    private void Segment(Flow flow, bool fromClient, ref DecodedPacket p, long now)
    {
        TcpAnalysisFlags ta = 0;
        // A held SYN's flow has its second packet: its state is made (as the SYN left it) and kept from now on.
        if (flow.SynHeld) flow.EndSynHold();
        foreach (var stage in SegmentStages)
        {
            Trace?.Add(stage);
            switch (stage)
            {
                case Stage.StallsBefore: if (_tcpAnalysis) _tcpFindings.BeforeSegment(flow, now); break;
                case Stage.PathMtu: if (_tcpAnalysis) _mtu.OnSegment(flow, fromClient, ref p, now); break;
                case Stage.TcpAnalysis:
                    if (!_tcpAnalysis) break;
                    ta = _tcp.Process(flow, fromClient, ref p);
                    if ((ta & TcpAnalysisFlags.AckLostPacket) != 0)
                    {
                        _ackedUnseen++; // capture-loss evidence (CaptureAnalysis.AckedUnseen)
                        // Per flow, for the findings (CaptureArtefacts): only flows whose handshake is in the capture, as
                        // a flow that started before the capture acknowledges data sent before it.
                        if ((flow.ClientToServer.SynSeen || flow.ServerToClient.SynSeen) &&
                            (_ackedUnseenByFlow.ContainsKey(flow.Id) || _ackedUnseenByFlow.Count < MaxAckedUnseenFlows))
                        {
                            var (n, first, _) = _ackedUnseenByFlow.GetValueOrDefault(flow.Id);
                            _ackedUnseenByFlow[flow.Id] = (n + 1, n == 0 ? now : first, now);
                        }
                    }
                    // A resend that follows an ICMP too-big and fits is path-MTU discovery at work, not loss.
                    if ((ta & TcpAnalysisFlags.AnyRetransmission) != 0 && PathMtuDetector.ExplainedByIcmp(flow, fromClient, p.IpPacketLength, now))
                        ta &= ~TcpAnalysisFlags.AnyRetransmission;
                    break;
                case Stage.Storms:
                    if (!_tcpAnalysis) break;
                    _storms.OnSegment(flow, fromClient, ta, p.PayloadWireLength, p.TcpFlags, p.IpPacketLength, now);
                    if ((p.TcpFlags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn) _storms.OnSyn(p.Src);
                    _shard?.CountSegment(now, p.PayloadWireLength > 0, (ta & TcpAnalysisFlags.AnyRetransmission) != 0,
                        (p.TcpFlags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn, (p.TcpFlags & (TcpFlags.Syn | TcpFlags.Ack)) == (TcpFlags.Syn | TcpFlags.Ack));
                    break;
                case Stage.StallsAfter:
                    if (_tcpAnalysis) _tcpFindings.AfterSegment(flow, _tcp.MadeProgress, (p.TcpFlags & TcpFlags.Rst) != 0, (ta & TcpAnalysisFlags.AnyRetransmission) != 0, now);
                    break;
                case Stage.DnsAndFragments: DnsAndFragments(flow, fromClient, ref p); break;
                case Stage.Smtp: _smtp?.OnSegment(flow, fromClient, in p); break;
                case Stage.Timeline: _timelines?.Record(flow, fromClient, ref p, ta); break;
            }
        }
        // The flow's first packet is the client's pure SYN (no payload, no SACK blocks): the stages above wrote only
        // the TCP analyzer's state for it (a pure SYN carries no ACK, no data, no resend), so the flow keeps the SYN's
        // fields instead and the state is rebuilt, the same, if the flow goes on or is read (README "Memory": a SYN
        // flood from distinct sources). Not with timelines: the TUI reads live flows from its own thread.
        if (_holdSyns && flow.Packets == 1 && fromClient && p.IsBareSyn && p.TcpOptions.SackBlockCount == 0 &&
            flow.TcpIfMade is { OnlySynState: true })
            _flows.HoldSyn(flow, ref p);
    }

    /// <summary>Live capture, while no packet arrives: time passes all the same. Decisions that wait for time (a
    /// hole in a sender's data that never fills, a DNS query without an answer) are taken at <paramref name="now"/>
    /// (Unix nanoseconds, the clock the capture timestamps come from); never moves time backwards.</summary>
    public void Idle(long now)
    {
        if (_now == 0 || now <= _now) return;
        Clock(now);
        if (_shard is { } sh) _log.Position = sh.Key(RaiseKey.AfterFrame, long.MinValue);
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

    /// <summary>End of input: closes reassembly and the flow table and returns the immutable result.</summary>
    public CaptureAnalysis Complete(InputSummary input)
    {
        int endPhase = RaiseKey.End;
        foreach (var stage in Stages.End)
        {
            Trace?.Add(stage);
            if (_shard is { } sh)
            {
                sh.Frame = long.MaxValue;
                _log.Position = sh.Key(endPhase, long.MinValue);
                sh.Finishing = stage == Stage.FlowTable;
                sh.FinishPhase = endPhase;
                endPhase += 2;
            }
            int incomplete = _reassembler.Incomplete.Count;
            switch (stage)
            {
                case Stage.Reassembly:
                    _reassembler.Finish();
                    if (_shard is { } s2) NoteIncomplete(s2, incomplete, endPhase - 2);
                    // Incomplete datagrams are tied to their flows while the flows are still in the table.
                    _fragmentation.CollectIncomplete(_reassembler.Incomplete, _flows);
                    break;
                case Stage.Storms: _storms.Finish(); break;
                case Stage.FlowTable: _flows.Finish(); break;
                case Stage.PathMtu:
                    if (_tcpAnalysis) _mtu.Finish();
                    _smtp?.RefreshBlackHoles(); // the black holes' final numbers into the SMTP words and verdicts
                    break;
                case Stage.Dns: _dns.Finish(_now); break;
                case Stage.Fragmentation: _fragmentation.Finish(_now); break;
            }
            if (_shard is { } s3) s3.Finishing = false;
            YoungGeneration.Check();
        }
        CaptureArtefacts.Mark(_log, input.Drops, _ackedUnseenByFlow);
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
            OffloadFrames = _mtu.OffloadFrames,
            AckedUnseen = _ackedUnseen,
            Dns = _dns.Counters,
            Smtp = _smtp?.Stats,
            Log = _log,
        };
    }
}
