using System.Globalization;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Flows.Tcp;
using PathProbe.Primitives;
using static PathProbe.Findings.FindingText;

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

/// <summary>
/// Turns TCP state into findings: <c>stall</c> (rto-backoff, zero-window, application), <c>connect-timeout</c> and
/// <c>connect-refused</c>. Checked when a segment arrives after a long silence and when the flow closes; no work per
/// packet beyond a subtraction and a comparison.
/// </summary>
public sealed class TcpFindingDetector(StallOptions options, Action<Finding> report)
{
    private readonly long _minThreshold = (long)options.MinimumThreshold.TotalNanoseconds;

    /// <summary>Before the segment is analysed: if the flow has been silent (no progress) for longer than the
    /// threshold, remember what was owed at that point.</summary>
    public void BeforeSegment(Flow flow, long now)
    {
        var c = flow.Tcp!;
        if (c.Stalled || c.LastProgressTime == 0) return;
        long silent = now - c.LastProgressTime;
        if (silent > _minThreshold && silent > Threshold(c)) Open(flow, c);
    }

    /// <summary>After the segment: progress ends a stall (recovered); a RST ends it unrecovered.</summary>
    public void AfterSegment(Flow flow, bool madeProgress, bool reset, long now)
    {
        var c = flow.Tcp!;
        if (!c.Stalled) return;
        if (madeProgress) Emit(flow, c, now, recovered: true, ended: null);
        else if (reset) Emit(flow, c, now, recovered: false, ended: "reset");
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
        if (!c.Stalled && c.LastProgressTime != 0 && now - c.LastProgressTime > Threshold(c) && !Closed(flow)) Open(flow, c);
        if (c.Stalled) Emit(flow, c, now, recovered: false, ended: flow.EndReason == FlowEnd.Open ? "capture ended" : EndText(flow.EndReason));
    }

    private long Threshold(TcpConnectionState c) =>
        Math.Max(_minThreshold, (long)(options.RtoMultiple * Math.Max(c.Client.Rtt.RtoNanos, c.Server.Rtt.RtoNanos)));

    private static bool Closed(Flow f) => f.ClientToServer.RstSeen || f.ServerToClient.RstSeen || (f.ClientToServer.FinSeen && f.ServerToClient.FinSeen);

    // ---- stall bookkeeping (kept in the connection state while open) --------------------------------------------
    private void Open(Flow flow, TcpConnectionState c)
    {
        if (Closed(flow)) return;
        // Connect attempts are connect-timeout's business.
        if (c.Handshake is TcpHandshake.SynSent && !c.SynAckSeen) return;
        long outC = TcpAnalyzer.OutstandingBytes(c.Client, c.Server), outS = TcpAnalyzer.OutstandingBytes(c.Server, c.Client);
        c.Stalled = true;
        c.StallStart = c.LastProgressTime;
        c.StallSenderIsClient = outC >= outS;
        c.StallOutstanding = Math.Max(outC, outS);
        // Where the dialogue was (e.g. "DATA after 354 (transaction 1, 22.7 kB of the message sent)"): once per stall.
        c.StallPhase = flow.App?.Phase;
        c.StallPosition = flow.App?.DescribePosition() is { } pos ? SafeText.Clean(pos, 200) : null;
        if (c.Server.Window == 0 || c.Client.Window == 0)
        {
            // A closed window blocks the other side even when everything sent so far was acknowledged.
            c.StallKind = StallKind.ZeroWindow;
            c.StallSenderIsClient = c.Server.Window == 0;
        }
        else if (c.StallOutstanding > 0) c.StallKind = StallKind.RtoBackoff;
        else
        {
            c.StallKind = StallKind.Application;
            c.StallSenderIsClient = c.Client.LastDataTime >= c.Server.LastDataTime; // the side that spoke last waits
        }
    }

    private void Emit(Flow flow, TcpConnectionState c, long now, bool recovered, string? ended)
    {
        c.Stalled = false;
        if (c.StallsReported >= options.MaxPerFlow) { c.StallsNotReported++; return; }
        c.StallsReported++;

        long start = c.StallStart, duration = now - start;
        var sender = c.StallSenderIsClient ? c.Client : c.Server;
        var receiver = c.StallSenderIsClient ? c.Server : c.Client;
        string senderName = c.StallSenderIsClient ? $"client {flow.ClientEndpoint}" : $"server {flow.ServerEndpoint}";
        string receiverName = c.StallSenderIsClient ? $"server {flow.ServerEndpoint}" : $"client {flow.ClientEndpoint}";
        var series = sender.Series.IsEmpty || sender.Series.Last < start ? default : sender.Series;
        var ev = new Evidence
        {
            { "stallKind", KindName(c.StallKind) },
            { "start", new Timestamp(start) },
            { "durationSeconds", Math.Round(duration / 1e9, 6) },
            { "recovered", recovered },
        };
        if (ended is not null) ev.Add("ended", ended);
        if (c.StallPhase is not null) ev.Add("phase", c.StallPhase);
        if (c.StallPosition is not null) ev.Add("position", c.StallPosition);
        string summary;
        Severity severity;
        switch (c.StallKind)
        {
            case StallKind.ZeroWindow:
                ev.Add("outstandingBytes", c.StallOutstanding);
                ev.Add("waiting", senderName);
                // Linux probes a closed window with an empty segment below the window, which Wireshark (and so
                // PathProbe) classifies as a keep-alive; both count as probes here.
                long probes = sender.Counters.ZeroWindowProbes + sender.Counters.KeepAlives;
                ev.Add("windowProbes", probes);
                summary = $"{receiverName} kept its receive window closed for {Sec(duration)}; {senderName} waited with data to send" +
                          (probes > 0 ? $" and probed the window {probes} times" : "") + Outcome(recovered, ended);
                severity = recovered ? Severity.Warning : Severity.Critical;
                break;
            case StallKind.RtoBackoff:
                ev.Add("outstandingBytes", c.StallOutstanding);
                ev.Add("waiting", senderName);
                if (series.Resends > 0)
                {
                    var retx = new Evidence
                    {
                        { "resends", series.Resends },
                        { "ipPacketSize", series.IpPacketSize },
                        { "intervalsSeconds", series.IntervalsSeconds().Select(d => Math.Round(d, 3)).ToList() },
                        { "backoff", series.LooksLikeBackoff },
                        { "acknowledged", series.Acknowledged },
                    };
                    ev.Add("retransmissions", retx);
                    summary = $"no progress for {Sec(duration)}: {senderName} resent the same {series.IpPacketSize}-byte packet {series.Resends} times" +
                              (series.LooksLikeBackoff ? $" with RTO back-off ({Intervals(series)})" : "") +
                              (series.Acknowledged ? "" : $" and {receiverName} never acknowledged it") + Outcome(recovered, ended);
                }
                else
                {
                    ev.Add("retransmissionsSeen", 0);
                    summary = $"no progress for {Sec(duration)} with {c.StallOutstanding} bytes of {senderName}'s data missing here " +
                              $"(a hole in its sequence space) and no retransmission arriving: the data is lost before this capture point{Outcome(recovered, ended)}";
                }
                severity = recovered ? Severity.Warning : Severity.Critical;
                break;
            default:
                ev.Add("waiting", senderName);
                summary = $"{senderName} waited {Sec(duration)} for {receiverName} to send something (no data outstanding){Outcome(recovered, ended)}";
                severity = Severity.Warning;
                break;
        }
        if (c.StallPosition is not null) summary = $"{summary} [in {c.StallPosition}]";
        report(new Finding
        {
            Kind = "stall",
            Severity = severity,
            Flows = new[] { flow.Id },
            Time = new Timestamp(start),
            Summary = summary,
            Evidence = ev,
            Advice = c.StallKind switch
            {
                StallKind.ZeroWindow => "the receiver is not reading: check the receiving application's load, disk and queue on the host that advertised the zero window",
                StallKind.RtoBackoff => "the same packet is lost again and again: if only large packets are lost (compare the resent packet's size with the largest that got through) the path has an MTU/MRU black hole: lower the MTU or clamp the MSS toward that peer and let ICMP 'fragmentation needed' / 'packet too big' through; otherwise check the path for drops (interface errors, firewall state, rate limits)",
                _ => "the connection is idle while one side waits: check the other side's application (for SMTP, slow replies mean tarpitting, greylisting, or DNS timeouts on the server)",
            },
        });
    }

    private void ConnectFailure(Flow flow, TcpConnectionState c, long now)
    {
        if (c.RefusedByReset)
        {
            report(new Finding
            {
                Kind = "connect-refused",
                Severity = Severity.Warning,
                Flows = new[] { flow.Id },
                Time = new Timestamp(c.FirstSynTime),
                Summary = $"{flow.ServerEndpoint} refused the connection from {flow.ClientEndpoint} (RST in answer to SYN): nothing listens on that port, or a firewall rejects it",
                Evidence = new Evidence { { "synsSent", c.SynCount }, { "server", flow.ServerEndpoint } },
                Advice = "check that the service runs and listens on that address and port, and that no firewall answers with a reset",
            });
            return;
        }
        // One unanswered SYN right at the end of the capture is not yet a timeout.
        long waited = now - c.FirstSynTime;
        if (c.SynCount < 2 && waited < 3_000_000_000) return;
        var intervals = new List<double>();
        report(new Finding
        {
            Kind = "connect-timeout",
            Severity = Severity.Warning,
            Flows = new[] { flow.Id },
            Time = new Timestamp(c.FirstSynTime),
            Summary = $"{flow.ClientEndpoint} sent {c.SynCount} SYN{(c.SynCount == 1 ? "" : "s")} to {flow.ServerEndpoint}" +
                      (c.SynCount > 1 ? $" over {Sec(c.LastSynTime - c.FirstSynTime)}" : "") +
                      (waited - (c.LastSynTime - c.FirstSynTime) > 500_000_000 ? $" and got no answer in {Sec(waited)}" : " and got no answer") +
                      ": the host is unreachable or a firewall drops the connection silently",
            Evidence = new Evidence
            {
                { "server", flow.ServerEndpoint },
                { "synsSent", c.SynCount },
                { "firstSyn", new Timestamp(c.FirstSynTime) },
                { "lastSyn", new Timestamp(c.LastSynTime) },
                { "waitedSeconds", Math.Round(waited / 1e9, 6) },
            },
            Advice = "check the server's address (MX and A records), that it is up, and that firewalls on the path pass TCP to its port; " +
                     "a mail server keeps retrying an unreachable MX until its queue lifetime runs out",
        });
    }

    private static string Outcome(bool recovered, string? ended) =>
        recovered ? "; then the flow resumed" : ended is null ? "" : $"; it never resumed ({ended})";

    private static string EndText(FlowEnd e) => e switch
    {
        FlowEnd.Fin => "closed", FlowEnd.Reset => "reset", FlowEnd.IdleTimeout => "idle timeout", FlowEnd.Evicted => "evicted", FlowEnd.Reused => "replaced by a new connection",
        _ => "open",
    };

    internal static string KindName(StallKind k) => k switch
    {
        StallKind.ZeroWindow => "zero-window",
        StallKind.RtoBackoff => "rto-backoff",
        _ => "application",
    };

    private static string Intervals(in RetransmissionSeries s) =>
        string.Join(", ", s.IntervalsSeconds().Select(d => d.ToString("0.##", CultureInfo.InvariantCulture))) + " s";
}
