using System.Globalization;
using PathProbe.Flows.Tcp;
using PathProbe.Primitives;
using static PathProbe.Findings.FindingText;

namespace PathProbe.Findings.Kinds;

/// <summary>How a stall (or an outage) ended.</summary>
public enum StallEnd : byte { Ongoing, Recovered, Reset, Closed, IdleTimeout, Evicted, Replaced, CaptureEnded }

/// <summary>The segment resent during a stall: its size, resends (transmissions minus one) and the intervals.</summary>
public sealed record ResendSeries(int Resends, int IpPacketSize, IReadOnlyList<long> IntervalsNanos, bool Backoff, bool Acknowledged)
{
    /// <summary>Sends that were TSO/GSO super-frames (longer than the receiver's MSS), and the largest; sends that were
    /// wire-sized packets. <see cref="IpPacketSize"/> is the wire size whenever one was sent.</summary>
    public int SuperFrameSends { get; init; }
    public int SuperFrameSize { get; init; }
    public int WireSends { get; init; }

    /// <summary>"the same 1,500-byte packet 6 times", or with offload super-frames "the same data: a 7,292-byte TSO
    /// super-frame sent once, then as 1,500-byte segments 6 times".</summary>
    public string Words()
    {
        string Times(int n) => n switch { 1 => "once", 2 => "twice", _ => $"{FindingText.N(n)} times" };
        if (SuperFrameSends == 0) return $"the same {FindingText.N(IpPacketSize)}-byte packet {FindingText.N(Resends)} times";
        if (WireSends == 0)
            return $"the same {FindingText.N(SuperFrameSize)}-byte TSO super-frame {FindingText.N(Resends)} times (segmentation offload on the capture host: " +
                   "on the wire it went as MSS-sized packets, whose size this capture cannot show)";
        return $"the same data: a {FindingText.N(SuperFrameSize)}-byte TSO super-frame sent {Times(SuperFrameSends)}, then resent as " +
               $"{FindingText.N(IpPacketSize)}-byte segments {Times(WireSends)}";
    }
}

/// <summary><c>stall</c>: no progress for longer than max(1 s, 3 RTO) while something was owed.</summary>
public sealed record StallVerdict : Verdict
{
    public override FindingKind Kind => FindingKind.Stall;
    public override string Identifier => $"{StallKindName(StallKind)} {Peer}";
    public override Severity Severity => StallKind == global::PathProbe.Flows.Tcp.StallKind.Application || Recovered ? Severity.Warning : Severity.Critical;
    public override Timestamp Time => Start;

    public required StallKind StallKind { get; init; }
    /// <summary>The side that waited to send (its data was owed, or for an application stall the side that spoke last).</summary>
    public required bool SenderIsClient { get; init; }
    public required Timestamp Start { get; init; }
    public required long DurationNanos { get; init; }
    public StallEnd End { get; init; }
    public bool Recovered => End == StallEnd.Recovered;
    public long OutstandingBytes { get; init; }
    public long WindowProbes { get; init; }
    public ResendSeries? Series { get; init; }
    public SmtpPosition? At { get; init; }

    public FlowFacts Flow => Flows[0];
    /// <summary>The other host: who never acknowledged (or who was waited for).</summary>
    public IpAddress Peer => SenderIsClient ? Flow.Server.Ip : Flow.Client.Ip;
    public Endpoint SenderEndpoint => SenderIsClient ? Flow.Client : Flow.Server;
    public Endpoint ReceiverEndpoint => SenderIsClient ? Flow.Server : Flow.Client;

    public static string StallKindName(StallKind k) => k switch
    {
        StallKind.ZeroWindow => "zero-window",
        StallKind.RtoBackoff => "rto-backoff",
        _ => "application",
    };

    public static string EndName(StallEnd e) => e switch
    {
        StallEnd.Recovered => "recovered",
        StallEnd.Reset => "reset",
        StallEnd.Closed => "closed",
        StallEnd.IdleTimeout => "idle-timeout",
        StallEnd.Evicted => "evicted",
        StallEnd.Replaced => "replaced",
        StallEnd.CaptureEnded => "capture-ended",
        _ => "ongoing",
    };

    public static string EndWords(StallEnd e) => e switch
    {
        StallEnd.Reset => "reset",
        StallEnd.Closed => "closed",
        StallEnd.IdleTimeout => "idle timeout",
        StallEnd.Evicted => "evicted",
        StallEnd.Replaced => "replaced by a new connection",
        StallEnd.CaptureEnded => "capture ended",
        _ => "still stalled",
    };
}

public sealed class StallWriter : FindingWriter<StallVerdict>
{
    private static string Side(bool client, Endpoint e) => $"{(client ? "client" : "server")} {e}";

    protected override string One(StallVerdict v)
    {
        string sender = Side(v.SenderIsClient, v.SenderEndpoint), receiver = Side(!v.SenderIsClient, v.ReceiverEndpoint);
        string d = Sec(v.DurationNanos);
        string s = v.StallKind switch
        {
            StallKind.ZeroWindow => $"{receiver} kept its receive window closed for {d}; {sender} waited with data to send" +
                                    (v.WindowProbes > 0 ? $" and probed the window {N(v.WindowProbes)} times" : ""),
            StallKind.RtoBackoff when v.Series is { } r =>
                $"no progress for {d}: {sender} resent {r.Words()}" +
                (r.Backoff ? $" with RTO back-off ({Intervals(r)})" : "") + (r.Acknowledged ? "" : $" and {receiver} never acknowledged it"),
            StallKind.RtoBackoff => $"no progress for {d} with {N(v.OutstandingBytes)} bytes of {sender}'s data missing here " +
                                    "(a hole in its sequence space) and no retransmission arriving: the data is lost before this capture point",
            _ => $"{sender} waited {d} for {receiver} to send something (no data outstanding)",
        };
        s += Outcome(v.End);
        if (v.At is { } at) s += $" [in {SmtpWords.Position(at, v.Recovered ? null : v.Flow)}]";
        return s;
    }

    protected override string Many(IReadOnlyList<StallVerdict> items, Finding f)
    {
        var first = items[0];
        int flows = f.Flows.Count;
        string d = SecRange(items.Select(v => v.DurationNanos));
        string senders = items.All(v => v.SenderIsClient) ? "each client" : items.All(v => !v.SenderIsClient) ? "each server" : "each sender";
        string s = first.StallKind switch
        {
            StallKind.ZeroWindow => $"{Count(flows, "flow")} with {first.Peer}: the receiver kept its window closed for {d} while the sender waited with data",
            StallKind.RtoBackoff when items.All(v => v.Series is not null) =>
                $"{Count(flows, "flow")} toward {first.Peer} made no progress for {d}: {senders} resent the same " +
                $"{NRange(items.Select(v => (long)v.Series!.IpPacketSize))}-byte packet {NRange(items.Select(v => (long)v.Series!.Resends))} times" +
                (items.Any(v => v.Series!.SuperFrameSends > 0)
                    ? $" (first sent as TSO super-frames of up to {N(items.Max(v => (long)v.Series!.SuperFrameSize))} bytes, segmentation offload on the capture host)" : "") +
                (items.All(v => v.Series!.Backoff) ? " with RTO back-off" : "") +
                (items.All(v => !v.Series!.Acknowledged) ? $" and {first.Peer} never acknowledged it" : ""),
            StallKind.RtoBackoff => $"{Count(flows, "flow")} from {first.Peer}: no progress for {d} with the sender's data missing here and no retransmission arriving",
            _ => $"{Count(flows, "flow")}: one side waited {d} for {first.Peer} to send something (no data outstanding)",
        };
        int recovered = items.Count(v => v.Recovered), ongoing = items.Count(v => v.End == StallEnd.Ongoing);
        var ends = items.Where(v => !v.Recovered && v.End != StallEnd.Ongoing).Select(v => StallVerdict.EndWords(v.End)).Distinct().ToList();
        s += recovered == items.Count ? "; every flow resumed"
            : recovered == 0 && ongoing == 0 ? $"; none resumed ({string.Join(", ", ends)})"
            : $"; {N(recovered)} resumed" + (ongoing > 0 ? $", {N(ongoing)} still stalled" : "") + (ends.Count > 0 ? $", the others never did ({string.Join(", ", ends)})" : "");
        string pos = SmtpWords.Positions(items.Select(v => (v.At, v.Recovered ? null : (FlowFacts?)v.Flow)));
        if (pos.Length > 0) s += $" [{pos}]";
        return s + $" ({FlowList(f.Flows)})";
    }

    private static string Outcome(StallEnd e) => e switch
    {
        StallEnd.Recovered => "; then the flow resumed",
        StallEnd.Ongoing => "",
        _ => $"; it never resumed ({StallVerdict.EndWords(e)})",
    };

    internal static string Intervals(ResendSeries s) =>
        string.Join(", ", s.IntervalsNanos.Select(d => (d / 1e9).ToString("0.##", CultureInfo.InvariantCulture))) + " s";

    protected override string? Advice(IReadOnlyList<StallVerdict> items) => items[0].StallKind switch
    {
        StallKind.ZeroWindow => "the receiver is not reading: check the receiving application's load, disk and queue on the host that advertised the zero window",
        StallKind.RtoBackoff => "the same packet is lost again and again: if only large packets are lost (compare the resent packet's size with the largest that got through) the path has an MTU/MRU black hole: lower the MTU or clamp the MSS toward that peer and let ICMP 'fragmentation needed' / 'packet too big' through; otherwise check the path for drops (interface errors, firewall state, rate limits)",
        _ => "the connection is idle while one side waits: check the other side's application (for SMTP, slow replies mean tarpitting, greylisting, or DNS timeouts on the server)",
    };

    protected override void Evidence(EvidenceWriter w, IReadOnlyList<StallVerdict> items, Finding f)
    {
        var first = items[0];
        w.Token(EvidenceKeys.StallKind, StallVerdict.StallKindName(first.StallKind));
        w.Address(EvidenceKeys.Peer, first.Peer);
        w.Bool(EvidenceKeys.Recovered, items.All(v => v.Recovered));
        w.List(EvidenceKeys.Flows);
        foreach (var v in items)
        {
            w.Item();
            w.Flow(v.Flow);
            Item(w, v);
            w.End();
        }
        w.EndList();
    }

    /// <summary>The facts of one stall (also the <c>stall</c> object of <c>smtp-aborted</c>).</summary>
    internal static void Item(EvidenceWriter w, StallVerdict v)
    {
        w.Token(EvidenceKeys.StallKind, StallVerdict.StallKindName(v.StallKind));
        w.Token(EvidenceKeys.Direction, v.SenderIsClient ? "c2s" : "s2c");
        w.Token(EvidenceKeys.Waiting, v.SenderIsClient ? "client" : "server");
        w.Time(EvidenceKeys.Start, v.Start);
        w.Seconds(EvidenceKeys.Duration, v.DurationNanos);
        w.Token(EvidenceKeys.Ended, StallVerdict.EndName(v.End));
        w.Bool(EvidenceKeys.Recovered, v.Recovered);
        if (v.StallKind != StallKind.Application) w.Int(EvidenceKeys.OutstandingBytes, v.OutstandingBytes);
        if (v.StallKind == StallKind.ZeroWindow) w.Int(EvidenceKeys.WindowProbes, v.WindowProbes);
        if (v.Series is { } s)
        {
            w.Object(EvidenceKeys.Series);
            w.Int(EvidenceKeys.Resends, s.Resends);
            w.Int(EvidenceKeys.IpPacketSize, s.IpPacketSize);
            if (s.SuperFrameSends > 0)
            {
                w.Int(EvidenceKeys.SuperFrameSends, s.SuperFrameSends);
                w.Int(EvidenceKeys.SuperFrameSize, s.SuperFrameSize);
            }
            w.SecondsList(EvidenceKeys.Intervals, s.IntervalsNanos);
            w.Bool(EvidenceKeys.Backoff, s.Backoff);
            w.Bool(EvidenceKeys.Acknowledged, s.Acknowledged);
            w.End();
        }
        if (v.At is { } at) w.Position(at, v.Recovered ? null : v.Flow);
    }

    protected override string Conclusion(IReadOnlyList<StallVerdict> items) =>
        $"{items.Count} {string.Join(",", items.Select(v => StallVerdict.EndName(v.End)).Distinct().Order())}";
}

/// <summary><c>connect-timeout</c>: SYNs without an answer.</summary>
public sealed record ConnectTimeoutVerdict : Verdict
{
    public override FindingKind Kind => FindingKind.ConnectTimeout;
    public override string Identifier => Flows[0].Server.ToString();
    public override Severity Severity => Severity.Warning;
    public override Timestamp Time => FirstSyn;
    public required int Syns { get; init; }
    public required Timestamp FirstSyn { get; init; }
    public required Timestamp LastSyn { get; init; }
    public required long WaitedNanos { get; init; }
}

public sealed class ConnectTimeoutWriter : FindingWriter<ConnectTimeoutVerdict>
{
    protected override string One(ConnectTimeoutVerdict v)
    {
        long span = v.LastSyn.UnixNanoseconds - v.FirstSyn.UnixNanoseconds;
        return $"{v.Flows[0].Client} sent {Count(v.Syns, "SYN")} to {v.Flows[0].Server}" +
               (v.Syns > 1 ? $" over {Sec(span)}" : "") +
               (v.WaitedNanos - span > 500_000_000 ? $" and got no answer in {Sec(v.WaitedNanos)}" : " and got no answer") +
               ": the host is unreachable or a firewall drops the connection silently";
    }

    protected override string Many(IReadOnlyList<ConnectTimeoutVerdict> items, Finding f) =>
        $"{Count(items.Count, "connection attempt")} to {items[0].Flows[0].Server} ({N(items.Sum(v => (long)v.Syns))} SYNs) got no answer: " +
        $"the host is unreachable or a firewall drops the connection silently ({FlowList(f.Flows)})";

    protected override string? Advice(IReadOnlyList<ConnectTimeoutVerdict> items) =>
        "check the server's address (MX and A records), that it is up, and that firewalls on the path pass TCP to its port; " +
        "a mail server keeps retrying an unreachable MX until its queue lifetime runs out";

    protected override void Evidence(EvidenceWriter w, IReadOnlyList<ConnectTimeoutVerdict> items, Finding f)
    {
        w.Endpoint(EvidenceKeys.Server, items[0].Flows[0].Server);
        w.Int(EvidenceKeys.SynsSent, items.Sum(v => (long)v.Syns));
        w.List(EvidenceKeys.Flows);
        foreach (var v in items)
        {
            w.Item();
            w.Flow(v.Flows[0]);
            w.Int(EvidenceKeys.SynsSent, v.Syns);
            w.Time(EvidenceKeys.FirstSent, v.FirstSyn);
            w.Time(EvidenceKeys.LastSent, v.LastSyn);
            w.Seconds(EvidenceKeys.Waited, v.WaitedNanos);
            w.End();
        }
        w.EndList();
    }
}

/// <summary><c>connect-refused</c>: a SYN answered by RST.</summary>
public sealed record ConnectRefusedVerdict : Verdict
{
    public override FindingKind Kind => FindingKind.ConnectRefused;
    public override string Identifier => Flows[0].Server.ToString();
    public override Severity Severity => Severity.Warning;
    public override Timestamp Time => FirstSyn;
    public required int Syns { get; init; }
    public required Timestamp FirstSyn { get; init; }
}

public sealed class ConnectRefusedWriter : FindingWriter<ConnectRefusedVerdict>
{
    protected override string One(ConnectRefusedVerdict v) =>
        $"{v.Flows[0].Server} refused the connection from {v.Flows[0].Client} (RST in answer to SYN): nothing listens on that port, or a firewall rejects it";

    protected override string Many(IReadOnlyList<ConnectRefusedVerdict> items, Finding f) =>
        $"{items[0].Flows[0].Server} refused {Count(items.Count, "connection")} (RST in answer to SYN): nothing listens on that port, or a firewall rejects it ({FlowList(f.Flows)})";

    protected override string? Advice(IReadOnlyList<ConnectRefusedVerdict> items) =>
        "check that the service runs and listens on that address and port, and that no firewall answers with a reset";

    protected override void Evidence(EvidenceWriter w, IReadOnlyList<ConnectRefusedVerdict> items, Finding f)
    {
        w.Endpoint(EvidenceKeys.Server, items[0].Flows[0].Server);
        w.Int(EvidenceKeys.SynsSent, items.Sum(v => (long)v.Syns));
        w.List(EvidenceKeys.Flows);
        foreach (var v in items)
        {
            w.Item();
            w.Flow(v.Flows[0]);
            w.Int(EvidenceKeys.SynsSent, v.Syns);
            w.Time(EvidenceKeys.FirstSent, v.FirstSyn);
            w.End();
        }
        w.EndList();
    }
}
