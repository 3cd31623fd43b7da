using PathProbe.Findings;
using PathProbe.Findings.Kinds;
using PathProbe.Flows;
using PathProbe.Flows.Tcp;
using PathProbe.Primitives;

namespace PathProbe.Analysis.Tcp;

public sealed class StallOptions
{
    /// <summary>A flow is stalled when it makes no progress for longer than this or <see cref="RtoMultiple"/> RTOs,
    /// whichever is larger, while something is owed.</summary>
    public TimeSpan MinimumThreshold { get; init; } = TimeSpan.FromSeconds(1);
    public double RtoMultiple { get; init; } = 3;
    /// <summary>Stall findings per flow at most (further stalls are counted).</summary>
    public int MaxPerFlow { get; init; } = 5;
}

/// <summary>Read-only view of the stall detector for other detectors: the outage a flow ended in.</summary>
public interface IStallView
{
    /// <summary>The flow's latest stall when it never recovered (still open, or ended by a reset, the end of the
    /// capture, ...), else null.</summary>
    StallVerdict? Outage(Flow flow);
    /// <summary>The flow's latest stall as it began or last changed (open or ended), and where the finding log keeps
    /// it (<c>default</c> when it was beyond the per-flow limit); null when the flow never stalled. No allocation.</summary>
    StallVerdict? Latest(Flow flow, out VerdictHandle handle);
}

/// <summary>
/// Turns TCP state into verdicts: <c>stall</c> (rto-backoff, zero-window, application), <c>connect-timeout</c> and
/// <c>connect-refused</c>. A stall is raised when it is recognised (ongoing), updated when the stalled data is resent,
/// and closed when the flow recovers, resets or ends. Checked when a segment arrives after a long silence and when
/// the flow closes; no work per packet beyond a subtraction and a comparison.
/// </summary>
public sealed class TcpFindingDetector(StallOptions options, FindingLog log) : IStallView
{
    private readonly long _minThreshold = (long)options.MinimumThreshold.TotalNanoseconds;

    /// <summary>Before the segment is analysed: if the flow has been silent (no progress) for longer than the
    /// threshold, a stall began at the last progress.</summary>
    public void BeforeSegment(Flow flow, long now)
    {
        var c = flow.Tcp!;
        if (c.Stall.Open || c.LastProgressTime == 0) return;
        long silent = now - c.LastProgressTime;
        if (silent > _minThreshold && silent > Threshold(c)) Open(flow, c, now);
    }

    /// <summary>After the segment: progress ends a stall (recovered; for data being resent, only progress of that
    /// data: the peer sending something else does not end the outage); a RST ends it unrecovered; a resend updates it.</summary>
    public void AfterSegment(Flow flow, bool madeProgress, bool reset, bool resent, long now)
    {
        var c = flow.Tcp!;
        if (!c.Stall.Open) return;
        ref var st = ref c.StallToWrite;
        if (madeProgress && (st.Kind != StallKind.RtoBackoff || SenderDataMoved(c))) Close(flow, c, now, StallEnd.Recovered);
        else if (reset) Close(flow, c, now, StallEnd.Reset);
        else if (resent && st.Handle.IsValid) log.Update(st.Handle, st.Last = Build(flow, c, now, StallEnd.Ongoing));
    }

    /// <summary>The flow leaves the table: connect failures, and a stall still in progress at <paramref name="now"/>.</summary>
    public void FlowClosing(Flow flow, long now)
    {
        if (flow.Protocol != FlowProtocol.Tcp || flow.Tcp is null) return;
        var c = flow.Tcp;
        if (c.SynCount > 0 && !c.SynAckSeen && flow.ServerToClient.Packets == 0 || c.RefusedByReset)
        {
            ConnectFailure(flow, c, now);
            return;
        }
        if (!c.Stall.Open && c.LastProgressTime != 0 && now - c.LastProgressTime > Threshold(c) && !Closed(flow)) Open(flow, c, now);
        if (c.Stall.Open) Close(flow, c, now, flow.EndReason switch
        {
            FlowEnd.Fin => StallEnd.Closed,
            FlowEnd.Reset => StallEnd.Reset,
            FlowEnd.IdleTimeout => StallEnd.IdleTimeout,
            FlowEnd.Evicted => StallEnd.Evicted,
            FlowEnd.Reused => StallEnd.Replaced,
            _ => StallEnd.CaptureEnded,
        });
    }

    public StallVerdict? Outage(Flow flow) =>
        flow.Tcp?.Stall.Last is { Recovered: false } v && flow.Tcp.Stall.Last.Flows[0].Id == flow.Id ? v : null;

    public StallVerdict? Latest(Flow flow, out VerdictHandle handle)
    {
        handle = flow.Tcp?.Stall.Handle ?? default;
        return flow.Tcp?.Stall.Last;
    }

    private long Threshold(TcpConnectionState c) =>
        Math.Max(_minThreshold, (long)(options.RtoMultiple * Math.Max(c.Client.Rtt.RtoNanos, c.Server.Rtt.RtoNanos)));

    private static bool Closed(Flow f) => f.ClientToServer.RstSeen || f.ServerToClient.RstSeen || (f.ClientToServer.FinSeen && f.ServerToClient.FinSeen);

    /// <summary>The stalled sender's data was acknowledged beyond where the stall began.</summary>
    private static bool SenderDataMoved(TcpConnectionState c)
    {
        var receiver = c.Stall.SenderIsClient ? c.Server : c.Client;
        return receiver.LastAckTime != 0 && (SeqNum)receiver.LastAck > (SeqNum)c.Stall.AckPoint;
    }

    private void Open(Flow flow, TcpConnectionState c, long now)
    {
        if (Closed(flow)) return;
        // Connect attempts are connect-timeout's business.
        if (c.Handshake is TcpHandshake.SynSent && !c.SynAckSeen) return;
        long outC = TcpAnalyzer.OutstandingBytes(c.Client, c.Server), outS = TcpAnalyzer.OutstandingBytes(c.Server, c.Client);
        ref var st = ref c.StallToWrite;
        st.Open = true;
        st.Start = c.LastProgressTime;
        st.SenderIsClient = outC >= outS;
        st.Outstanding = Math.Max(outC, outS);
        st.At = flow.App?.Position; // where the dialogue was: once per stall
        if (c.Server.Window == 0 || c.Client.Window == 0)
        {
            // A closed window blocks the other side even when everything sent so far was acknowledged.
            st.Kind = StallKind.ZeroWindow;
            st.SenderIsClient = c.Server.Window == 0;
        }
        else if (st.Outstanding > 0) st.Kind = StallKind.RtoBackoff;
        else
        {
            st.Kind = StallKind.Application;
            st.SenderIsClient = c.Client.LastDataTime >= c.Server.LastDataTime; // the side that spoke last waits
        }
        st.AckPoint = (st.SenderIsClient ? c.Server : c.Client).LastAck;
        st.Handle = default;
        st.Last = Build(flow, c, now, StallEnd.Ongoing);
        if (st.Reported >= options.MaxPerFlow) { st.NotReported++; return; }
        st.Reported++;
        st.Handle = log.Raise(st.Last);
    }

    private void Close(Flow flow, TcpConnectionState c, long now, StallEnd end)
    {
        ref var st = ref c.StallToWrite;
        st.Open = false;
        st.Last = Build(flow, c, now, end);
        if (st.Handle.IsValid) log.Update(st.Handle, st.Last);
    }

    private static StallVerdict Build(Flow flow, TcpConnectionState c, long now, StallEnd end)
    {
        ref readonly var st = ref c.Stall;
        var sender = st.SenderIsClient ? c.Client : c.Server;
        var s = sender.Series;
        ResendSeries? series = st.Kind == StallKind.RtoBackoff && !s.IsEmpty && s.Last >= st.Start && s.Resends > 0
            ? new ResendSeries(s.Resends, s.ReportedIpPacketSize, s.IntervalsNanos(), s.LooksLikeBackoff, s.Acknowledged)
            {
                SuperFrameSends = s.SuperFrameSends, SuperFrameSize = s.SuperFrameSize, WireSends = s.SuperFrameSends > 0 ? s.WireSends : 0,
            }
            : null;
        return new StallVerdict
        {
            Flows = [FlowFacts.Of(flow)],
            Ongoing = end == StallEnd.Ongoing,
            StallKind = st.Kind,
            SenderIsClient = st.SenderIsClient,
            Start = new Timestamp(st.Start),
            DurationNanos = Math.Max(0, now - st.Start),
            End = end,
            OutstandingBytes = st.Outstanding,
            // Linux probes a closed window with an empty segment below the window, which Wireshark (and so PathProbe)
            // classifies as a keep-alive; both count as probes here.
            WindowProbes = sender.Counters.ZeroWindowProbes + sender.Counters.KeepAlives,
            Series = series,
            At = st.At,
        };
    }

    private void ConnectFailure(Flow flow, TcpConnectionState c, long now)
    {
        if (c.RefusedByReset)
        {
            log.Raise(new ConnectRefusedVerdict { Flows = [FlowFacts.Of(flow)], Syns = c.SynCount, FirstSyn = new Timestamp(c.FirstSynTime) });
            return;
        }
        // One unanswered SYN right at the end of the capture is not yet a timeout.
        long waited = now - c.FirstSynTime;
        if (c.SynCount < 2 && waited < 3_000_000_000) return;
        log.Raise(new ConnectTimeoutVerdict
        {
            Flows = [FlowFacts.Of(flow)],
            Syns = c.SynCount,
            FirstSyn = new Timestamp(c.FirstSynTime),
            LastSyn = new Timestamp(c.LastSynTime),
            WaitedNanos = waited,
        });
    }
}
