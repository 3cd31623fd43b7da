using PathProbe.Decoding;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Flows.Streams;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;
using PathProbe.Findings.Kinds;

namespace PathProbe.Analysis.Smtp;

/// <summary>
/// Decodes SMTP on TCP flows inside the engine loop and turns the sessions into findings (<c>smtp-deferral</c>,
/// <c>smtp-reject</c>, <c>smtp-aborted</c>, <c>smtp-slow-reply</c>) when each flow closes.
/// </summary>
/// <remarks>
/// <para>A flow is SMTP when its server port is 25, 465 (implicit TLS, RFC 8314), 587 or 2525 (decided on the flow's
/// first packet), or when the first payload of the server, before the client has sent any, starts with a 220
/// banner (RFC 5321 4.2). The banner test looks at one packet per flow, so other flows cost a type check and a few
/// comparisons per packet.</para>
/// <para>Per segment of an SMTP flow the work is the reassembler and the session's line scanner: no allocation in
/// steady state (message bodies are scanned, not kept). Bounds: <see cref="SmtpOptions.MaxConcurrentFlows"/> sessions
/// at once, one <see cref="StreamBudget"/> for all out-of-order buffering, and the session's own
/// <see cref="SmtpLimits"/>; what they cut off is counted in <see cref="Stats"/>.</para>
/// </remarks>
public sealed partial class SmtpAnalyzer
{
    private readonly SmtpOptions _options;
    private readonly FindingLog _log;
    private readonly Tcp.IStallView? _stalls;
    private readonly Mtu.IPathMtuView? _mtu;
    private readonly StreamBudget _budget;
    // Reassemblers of sessions that closed, started over, for the next sessions (bounded: SpareStreams).
    private readonly Stack<TcpStreamReassembler> _spareStreams = new();
    internal const int SpareStreams = 512;
    private readonly SmtpStats _stats = new();
    private int _live;
    private readonly PendingSyn _pending;

    /// <summary>A flow to an SMTP port whose first packet is the client's pure SYN (no payload) holds
    /// <see cref="PendingSyn"/> instead of a session until it is read (its second packet, its close, a report): a
    /// session costs about 1 KB, and a SYN flood to port 25 would otherwise hold <see cref="SmtpOptions.MaxConcurrentFlows"/>
    /// of them for flows that never carry a byte (README "Memory"). Off when another thread reads live flows (the TUI).</summary>
    internal bool HoldSyns { get; init; }

    public SmtpAnalyzer(SmtpOptions options, FindingLog log, Tcp.IStallView? stalls = null, Mtu.IPathMtuView? mtu = null)
    {
        _options = options;
        _log = log;
        _stalls = stalls;
        _mtu = mtu;
        _budget = new StreamBudget(options.StreamBudgetBytes);
        _pending = new PendingSyn(this);
    }

    /// <summary>The session of a flow whose SYN was held (<see cref="HoldSyns"/>): made as the SYN made it, with the
    /// SYN's time and sequence number, which the flow keeps (<see cref="DirectionStats.First"/>,
    /// <see cref="DirectionStats.BaseSeq"/>); the reassembler reads no other field of a pure SYN.</summary>
    private sealed class PendingSyn(SmtpAnalyzer owner) : PendingApplication
    {
        internal override IFlowApplication Create(Flow flow) => Create(flow, spares: true);

        /// <summary>The session as the SYN made it; <paramref name="spares"/>: with the analyzer's spare reassemblers
        /// (on the analyzer's thread only: a closed SYN's session is made when a report reads it).</summary>
        internal SmtpFlowState Create(Flow flow, bool spares)
        {
            var syn = flow.ClientToServer.First;
            var state = owner.NewState(flow, syn, SmtpDetection.Port, startedMidSession: false, spares);
            state.Connection.OnSegment(fromClient: true, flow.ClientToServer.BaseSeq, 0, default, 0, TcpFlags.Syn, syn);
            state.Track();
            return state;
        }
    }

    public SmtpStats Stats
    {
        get
        {
            _stats.BudgetRefusals = _budget.Refusals;
            _stats.PeakBufferedBytes = _budget.Peak;
            return _stats;
        }
    }

    public static bool IsSmtpPort(ushort port) => port is 25 or 465 or 587 or 2525;

    /// <summary>Every decoded TCP segment of every flow, after the TCP analysis of the segment.</summary>
    public void OnSegment(Flow flow, bool fromClient, in DecodedPacket p)
    {
        var app = flow.App; // read once: a held SYN's pending application is made here
        if (app is SmtpFlowState s)
        {
            s.Connection.OnPacket(in p, fromClient);
            s.Track();
            if (_stalls is not null) s.TrackStall(_stalls.Latest(flow, out var stallHandle), stallHandle);
            if (s.Candidate) SettleCandidate(flow, s);
            // A session closed by FIN or RST frees its slot at once (its flow stays in the table until it expires).
            if (s.Counted && s.Session.CloseReason is not null) { s.Counted = false; _live--; }
            return;
        }
        if (app is not null) return;

        var detection = SmtpDetection.Port;
        if (IsSmtpPort(flow.ServerPort))
        {
            if (flow.Packets != 1) return; // decided on the first packet: a flow not taken then is never taken
        }
        else if (p.PayloadWireLength == 0) return;
        else if (!fromClient)
        {
            // The server's first payload, before the client sent any, is a greeting.
            if (flow.ServerToClient.PayloadBytes != p.PayloadWireLength || flow.ClientToServer.PayloadBytes != 0 || !IsBanner(p.Payload)) return;
            detection = SmtpDetection.Banner;
        }
        else
        {
            // The client's first payload, before the server sent any, starts a proxy exchange: SMTP may follow it.
            if (flow.ClientToServer.PayloadBytes != p.PayloadWireLength || flow.ServerToClient.PayloadBytes != 0 ||
                SmtpSession.ProxyPreambleStart(p.Payload) is null) return;
            detection = SmtpDetection.Proxy;
        }

        if (_live >= _options.MaxConcurrentFlows)
        {
            if (detection != SmtpDetection.Proxy) _stats.FlowsNotDecoded++;
            return;
        }
        if (HoldSyns && detection == SmtpDetection.Port && fromClient && p.IsBareSyn)
        {
            _live++;
            Count(flow, detection);
            flow.App = _pending;
            return;
        }
        var state = NewState(flow, flow.Start, detection, startedMidSession: !flow.ClientToServer.SynSeen && !flow.ServerToClient.SynSeen);
        _live++;
        flow.App = state;
        if (detection != SmtpDetection.Proxy) Count(flow, detection);
        state.Connection.OnPacket(in p, fromClient);
        state.Track();
    }

    /// <summary>A flow's session from <paramref name="start"/>, counted among the analyzer's (a held SYN's is made
    /// as its SYN would have made it).</summary>
    private SmtpFlowState NewState(Flow flow, Timestamp start, SmtpDetection detection, bool startedMidSession, bool spares = true) =>
        new(new SmtpConnection(start, implicitTls: flow.ServerPort == 465, _options.Limits, Stream(spares), Stream(spares)), detection)
        {
            Counted = true,
            StartedMidSession = startedMidSession,
        };

    private TcpStreamReassembler Stream(bool spares) =>
        spares && _spareStreams.Count > 0 ? _spareStreams.Pop() : new TcpStreamReassembler(_budget);

    /// <summary>The session's reassemblers go to the next sessions (<see cref="SpareStreams"/> at most wait); what the
    /// session found stays.</summary>
    private void Release(SmtpFlowState s) => s.Connection.Release(_spareStreams, SpareStreams);

    private void Count(Flow flow, SmtpDetection detection)
    {
        _stats.Flows++;
        if (detection == SmtpDetection.Banner) _stats.FlowsByBanner++;
        if (detection == SmtpDetection.Proxy) _stats.FlowsBehindProxy++;
        if (detection != SmtpDetection.Port) flow.Application ??= "smtp";
    }

    /// <summary>A proxy exchange on another port: SMTP once the server's first bytes after it are a greeting; not
    /// SMTP (the flow is let go) when the proxy refused or something else came through the tunnel.</summary>
    private void SettleCandidate(Flow flow, SmtpFlowState s)
    {
        var session = s.Session;
        bool failed = session.Proxy is { State: SmtpProxyState.Failed };
        if (session.BannerAfterProxy is true && !failed)
        {
            s.Candidate = false;
            Count(flow, SmtpDetection.Proxy);
            return;
        }
        if (!failed && session.BannerAfterProxy is null) return;
        s.Candidate = false;
        s.Done = true;
        if (s.Counted) { s.Counted = false; _live--; }
        Release(s);
        flow.App = null;
    }

    /// <summary>"220" then a space, a hyphen, or a control character (RFC 5321 4.2: Reply-code [ SP textstring ] CRLF;
    /// a banner "220&lt;ESC&gt;..." is still a greeting, shown escaped).</summary>
    internal static bool IsBanner(ReadOnlySpan<byte> payload) =>
        payload.Length >= 4 && payload[0] == (byte)'2' && payload[1] == (byte)'2' && payload[2] == (byte)'0' &&
        SmtpSession.IsReplySeparator(payload[3]);

    /// <summary>The flow leaves the table (after the TCP detectors have decided on it): the session is finished or
    /// aborted with the TCP layer's reason, its buffers are released, and its findings are reported.</summary>
    public void FlowClosing(Flow flow, long now)
    {
        if (flow.PendingApp == _pending)
        {
            // The SYN is all the flow had: its session is made when the report reads it, closed as below. Such a session
            // raises no finding (no reply, not connected), so nothing is lost by not making it now: a SYN flood to
            // port 25 otherwise makes and drops a session of about 800 bytes for every flow the table lets go.
            _live--;
            var synStall = _stalls?.Outage(flow);
            flow.App = new ClosedSyn(this, now, synStall, _mtu?.BlackHoleOf(flow, synStall?.SenderIsClient ?? true));
            return;
        }
        if (flow.App is not SmtpFlowState s || s.Done) return;
        if (s.Candidate)
        {
            // The flow ended before the tunnel showed SMTP: it is not reported as SMTP.
            s.Candidate = false;
            s.Done = true;
            if (s.Counted) { s.Counted = false; _live--; }
            Release(s);
            flow.App = null;
            return;
        }
        if (s.Counted) { s.Counted = false; _live--; }
        var stall = _stalls?.Outage(flow);
        VerdictHandle holeHandle = default;
        var hole = _mtu?.BlackHoleOf(flow, stall?.SenderIsClient ?? true, out holeHandle);
        var (tcpEnd, resetBy, end) = Close(flow, s, now, stall, hole);
        if (hole is not null) RememberHole(HoleUse.OfSession(holeHandle, hole, s, tcpEnd, resetBy, stall, flow.End, end.UnixNanoseconds - flow.End.UnixNanoseconds));
        if (s.Connection.ClientStream.Abandoned) _stats.StreamsAbandoned++;
        if (s.Connection.ServerStream.Abandoned) _stats.StreamsAbandoned++;
        Release(s);

        ReportFindings(flow, s, stall, hole, resetBy, tcpEnd, end);
    }

    // ---- black holes that changed after a session closed ----------------------------------------------------------

    /// <summary>A black hole a closed session's words or verdict name, as it was then: its numbers (the largest size
    /// known to get through, the smallest lost) may change as later flows toward the same peer show more, and one fact
    /// has one number everywhere (<see cref="RefreshBlackHoles"/>). Either the session's end in words
    /// (<see cref="SmtpFlowState.EndDetail"/>, with what it was made from) or a verdict that carries the black hole.</summary>
    private readonly record struct HoleUse(VerdictHandle Hole, BlackHoleVerdict Was, VerdictHandle Verdict, SmtpFlowState? State,
        SmtpTcpEnd End, string? ResetBy, StallVerdict? Stall, Timestamp Last, long CaptureEndedAfter)
    {
        /// <summary>A verdict raised with the black hole in it.</summary>
        public static HoleUse OfVerdict(VerdictHandle hole, BlackHoleVerdict was, VerdictHandle verdict) =>
            new(hole, was, verdict, null, default, null, null, default, 0);

        /// <summary>A session's end in words, with what <see cref="SmtpAbortedWriter.EndDetail"/> made them from.</summary>
        public static HoleUse OfSession(VerdictHandle hole, BlackHoleVerdict was, SmtpFlowState state, SmtpTcpEnd end,
            string? resetBy, StallVerdict? stall, Timestamp last, long captureEndedAfter) =>
            new(hole, was, default, state, end, resetBy, stall, last, captureEndedAfter);
    }

    private readonly List<HoleUse> _holeUses = new();

    /// <summary>Sessions and verdicts remembered for <see cref="RefreshBlackHoles"/> at most (the report's default flow
    /// limit): a live capture of many days behind a black hole does not grow this without bound; beyond it, a session's
    /// words keep the numbers of its close.</summary>
    internal const int MaxHoleUses = 100_000;

    private void RememberHole(in HoleUse use)
    {
        if (_holeUses.Count < MaxHoleUses) _holeUses.Add(use);
    }

    /// <summary>After the path-MTU detector's final versions (end of input): every closed session's end in words and
    /// every SMTP verdict that names a black hole get the black hole's final numbers where they changed since (the
    /// incident: early sessions saw 1,004-byte packets get through, a later one 1,426; the mtu-blackhole finding says
    /// 1,426, and so must smtp-aborted and <c>flows[].smtp.endDetail</c>).</summary>
    public void RefreshBlackHoles()
    {
        foreach (var u in _holeUses)
        {
            if (_log.Get(u.Hole) is not BlackHoleVerdict latest || ReferenceEquals(latest, u.Was) || SameNumbers(latest, u.Was)) continue;
            if (u.State is { } s) s.EndDetail = SmtpAbortedWriter.EndDetail(u.End, u.ResetBy, u.Stall, latest, u.Last, u.CaptureEndedAfter);
            if (u.Verdict.IsValid && _log.Get(u.Verdict) is { } v)
            {
                Verdict? updated = v switch
                {
                    SmtpAbortedVerdict a when a.BlackHole is not null && !SameNumbers(a.BlackHole, latest) => a with { BlackHole = latest },
                    SmtpFailureVerdict f when f.BlackHole is not null && !SameNumbers(f.BlackHole, latest) => f with { BlackHole = latest },
                    _ => null,
                };
                if (updated is not null) _log.Update(u.Verdict, updated);
            }
        }
        _holeUses.Clear();
    }

    /// <summary>What SMTP's words take from a black hole (<see cref="SmtpAbortedWriter.HoleWords"/>, the JSON's
    /// pathMtuBlackHole) is the same.</summary>
    private static bool SameNumbers(BlackHoleVerdict a, BlackHoleVerdict b) =>
        a.ReceiverVantage == b.ReceiverVantage && a.MinProven == b.MinProven && a.LostSize == b.LostSize && a.Min == b.Min;

    /// <summary>A flow whose only packet was the client's SYN has left the table: its session, made when first read, is
    /// the one <see cref="PendingSyn"/> makes, closed at <paramref name="now"/> with the TCP layer's verdicts of then.</summary>
    private sealed class ClosedSyn(SmtpAnalyzer owner, long now, StallVerdict? stall, BlackHoleVerdict? hole) : PendingApplication
    {
        internal override IFlowApplication Create(Flow flow)
        {
            // Made when a report reads it, maybe on another thread than the analyzer's: no spare reassemblers taken or given.
            var s = owner._pending.Create(flow, spares: false);
            s.Counted = false;
            owner.Close(flow, s, now, stall, hole);
            s.Connection.Release();
            return s;
        }
    }

    /// <summary>Ends <paramref name="s"/>'s session with the TCP layer's reason for the flow's end.</summary>
    private (SmtpTcpEnd End, string? ResetBy, Timestamp CaptureEnd) Close(Flow flow, SmtpFlowState s, long now, StallVerdict? stall, BlackHoleVerdict? hole)
    {
        s.Done = true;
        var conn = s.Connection;
        var last = flow.End;
        var end = new Timestamp(Math.Max(now, last.UnixNanoseconds));
        string? resetBy = flow.ServerToClient.RstSeen && !flow.ClientToServer.RstSeen ? "server"
            : flow.ClientToServer.RstSeen && !flow.ServerToClient.RstSeen ? "client" : flow.EndReason == FlowEnd.Reset ? "both" : null;
        SmtpTcpEnd tcpEnd;
        switch (flow.EndReason)
        {
            case FlowEnd.Reset:
                tcpEnd = SmtpTcpEnd.Reset;
                conn.Abort(SmtpAbortedWriter.ResetWords(resetBy), last); // no-op when the RST already aborted it
                break;
            case FlowEnd.Fin:
                tcpEnd = SmtpTcpEnd.Closed;
                conn.Abort("connection closed", last); // no-op when both FINs already closed it
                break;
            case FlowEnd.IdleTimeout:
                tcpEnd = SmtpTcpEnd.IdleTimeout;
                conn.Abort("idle timeout", last);
                break;
            case FlowEnd.Evicted:
                tcpEnd = SmtpTcpEnd.Evicted;
                conn.Abort("not followed further (flow table full)", last);
                break;
            case FlowEnd.Reused:
                tcpEnd = SmtpTcpEnd.Replaced;
                conn.Abort("replaced by a new connection on the same ports", last);
                break;
            default:
                if (stall is not null)
                {
                    tcpEnd = SmtpTcpEnd.Stalled;
                    conn.Abort($"TCP stall, {Findings.Kinds.StallVerdict.StallKindName(stall.StallKind)}", end);
                }
                else
                {
                    tcpEnd = SmtpTcpEnd.CaptureEnded;
                    conn.Finish(end);
                }
                break;
        }
        s.End = (SmtpConnectionEnd)(byte)tcpEnd;
        s.EndDetail = SmtpAbortedWriter.EndDetail(tcpEnd, resetBy, stall, hole, last, end.UnixNanoseconds - last.UnixNanoseconds);
        return (tcpEnd, resetBy, end);
    }
}
