using PathProbe.Primitives;
using static PathProbe.Findings.FindingText;

namespace PathProbe.Findings.Kinds;

public enum StormClass : byte { PathFault, Loss, Flood }

/// <summary>
/// <c>retransmission-storm</c>: retransmissions above the thresholds in a sliding window. Its counts are sums of the
/// listed flows' own numbers, over the directions that retransmitted (<see cref="Directions"/>); only the window
/// peak and the SYN counts are the window's.
/// </summary>
public sealed record StormVerdict : Verdict
{
    public override FindingKind Kind => FindingKind.RetransmissionStorm;
    public override string Identifier => Start.UnixNanoseconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
    public override Severity Severity => Class switch
    {
        StormClass.Flood => Severity.Critical,
        StormClass.PathFault => UnacknowledgedFlows > 0 ? Severity.Critical : Severity.Warning,
        _ => Share >= 0.1 ? Severity.Warning : Severity.Info,
    };
    public override Timestamp Time => Start;

    public required StormClass Class { get; init; }
    public required Timestamp Start { get; init; }
    public required Timestamp End { get; init; }
    /// <summary>Per listed flow (same order as <see cref="Verdict.Flows"/>): which directions retransmitted.</summary>
    public required IReadOnlyList<(bool C2s, bool S2c)> Directions { get; init; }
    public long PeakRetransmissionsPerWindow { get; init; }
    public long WindowNanos { get; init; }
    public long HalfOpenConnections { get; init; }
    public long SynSources { get; init; }
    public int LargestIpPacket { get; init; }
    /// <summary>Listed flows in a path-MTU black hole, and flows that kept resending data never acknowledged.</summary>
    public int BlackHoledFlows { get; init; }
    public int UnacknowledgedFlows { get; init; }
    public int FlowsNotListed { get; init; }
    /// <summary>Where each listed flow's application dialogue was when its first retransmission was noted (same order as Flows).</summary>
    public IReadOnlyList<SmtpPosition?> Positions { get; init; } = [];

    private long Sum(Func<FlowFacts, Pair> pick)
    {
        long n = 0;
        for (int i = 0; i < Flows.Count; i++)
        {
            var p = pick(Flows[i]);
            if (Directions[i].C2s) n += p.C2s;
            if (Directions[i].S2c) n += p.S2c;
        }
        return n;
    }

    public long Retransmissions => Sum(f => f.Retransmissions);
    public long DataSegments => Sum(f => f.DataSegments);
    public long FullSize => Sum(f => f.FullSizeRetransmissions);
    public long Small => Retransmissions - FullSize;
    public long Fast => Sum(f => f.FastRetransmissions);
    /// <summary>Duplicate ACKs sent by the receivers of the retransmitting directions.</summary>
    public long DuplicateAcks
    {
        get
        {
            long n = 0;
            for (int i = 0; i < Flows.Count; i++)
            {
                if (Directions[i].C2s) n += Flows[i].DuplicateAcks.S2c;
                if (Directions[i].S2c) n += Flows[i].DuplicateAcks.C2s;
            }
            return n;
        }
    }
    public double Share => DataSegments == 0 ? 0 : (double)Retransmissions / DataSegments;

    /// <summary>Retransmissions per peer (the receiver of the retransmitted data), most first.</summary>
    public IReadOnlyList<(IpAddress Peer, long Retransmissions)> Peers
    {
        get
        {
            var d = new Dictionary<IpAddress, long>();
            for (int i = 0; i < Flows.Count; i++)
            {
                if (Directions[i].C2s) d[Flows[i].Server.Ip] = d.GetValueOrDefault(Flows[i].Server.Ip) + Flows[i].Retransmissions.C2s;
                if (Directions[i].S2c) d[Flows[i].Client.Ip] = d.GetValueOrDefault(Flows[i].Client.Ip) + Flows[i].Retransmissions.S2c;
            }
            return d.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value)).ToList();
        }
    }

    public static string ClassName(StormClass c) => c switch { StormClass.Flood => "flood", StormClass.PathFault => "path-fault", _ => "loss" };
}

public sealed class StormWriter : FindingWriter<StormVerdict>
{
    protected override string One(StormVerdict v)
    {
        string what = v.Class switch
        {
            StormClass.Flood => "SYN flood: many half-open connections",
            StormClass.PathFault => "retransmission storm caused by a path fault (not an attack)",
            _ => "retransmission storm from congestion or random loss (not an attack)",
        };
        var peers = v.Peers;
        string peerText = peers.Count == 0 ? "" : peers.Count == 1 ? $" toward {peers[0].Peer}" : $" toward {Count(peers.Count, "peer")}";
        int flows = v.Flows.Count + v.FlowsNotListed;
        string retransmitted = $"{N(v.Retransmissions)} of {N(v.DataSegments)} data segments retransmitted ({Percent(v.Share)}) " +
                               $"over {Sec(v.End.UnixNanoseconds - v.Start.UnixNanoseconds)} in {Count(flows, "flow")}{peerText}";
        // A flood is its unanswered SYNs; data resent beside it is said only when there is some.
        string s = v.Class != StormClass.Flood ? $"{what}: {retransmitted}"
            : $"{what}: {N(v.HalfOpenConnections)} SYNs never answered (SYNs less SYN-ACKs), from {Count(v.SynSources, "source")}" +
              (v.Retransmissions > 0 ? $"; besides, {retransmitted}" : "");
        string pos = SmtpWords.Positions(v.Positions.Select(p => (p, (FlowFacts?)null)));
        if (pos.Length > 0) s += $"; the mail sessions were {pos}";
        return s + (v.Flows.Count > 0 ? $" ({FlowList(v.Flows.Select(f => f.Id).ToList())})" : "");
    }

    /// <summary>Why the classification holds, in words (the tokens are the JSON's <c>reasons</c>).</summary>
    public static IEnumerable<(string Token, string Text)> Reasons(StormVerdict v)
    {
        int flows = v.Flows.Count;
        switch (v.Class)
        {
            case StormClass.Flood:
                yield return ("half-open-connections", $"{N(v.HalfOpenConnections)} connection attempts were never answered, from {Count(v.SynSources, "source")}");
                yield return ("syn-flood", "this is a SYN flood (many half-open connections), an attack pattern, not a retransmission storm");
                break;
            case StormClass.PathFault:
                if (v.BlackHoledFlows > 0)
                    yield return ("black-hole", $"{N(v.BlackHoledFlows)} of {Count(flows, "flow")} {(v.BlackHoledFlows == 1 ? "is" : "are")} in a path-MTU black hole (see mtu-blackhole): packets above a size are dropped silently, smaller ones get through");
                yield return (v.Small == 0 ? "only-full-size-resent" : "mostly-full-size-resent",
                    $"{N(v.FullSize)} of {N(v.Retransmissions)} retransmissions were full-size packets (up to {N(v.LargestIpPacket)} bytes)" + (v.Small == 0 ? "; no small packet needed resending" : $", {N(v.Small)} smaller"));
                yield return ("never-acknowledged", $"{N(v.UnacknowledgedFlows)} of {Count(flows, "flow")} kept resending data that was never acknowledged");
                yield return ("timeouts", $"{N(v.Retransmissions - v.Fast)} were timeout (RTO) retransmissions, {N(v.Fast)} fast retransmissions; the receivers sent {N(v.DuplicateAcks)} duplicate ACKs");
                yield return ("size-dependent-loss", "size-dependent loss is a path fault (an MTU/MRU black hole), not an attack: the retransmissions come from the senders' own TCP stacks");
                break;
            default:
                yield return ("all-sizes-resent", $"retransmissions spread over packet sizes: {N(v.FullSize)} full-size, {N(v.Small)} smaller");
                yield return ("receivers-asked", $"{N(v.Fast)} fast retransmissions and {N(v.DuplicateAcks)} duplicate ACKs: the receivers saw later data and asked for the missing segments");
                if (v.UnacknowledgedFlows == 0) yield return ("all-acknowledged", "every resent segment was eventually acknowledged");
                yield return ("congestion-or-loss", "this is congestion or random loss on the path, not an attack");
                break;
        }
    }

    protected override string? Advice(IReadOnlyList<StormVerdict> items) => items[0].Class switch
    {
        StormClass.Flood => "treat it as an attack: enable SYN cookies (net.ipv4.tcp_syncookies=1), rate-limit new connections per source, and involve the upstream provider",
        StormClass.PathFault => "do not block the senders: find the hop that drops large packets, fix its MTU/MRU or clamp the MSS on the router " +
                                "whose interface has the small MTU, with nft: `" + RouterClamp(items[0], PathProbe.Advice.FixTool.Nft) + "` or iptables: `" +
                                RouterClamp(items[0], PathProbe.Advice.FixTool.Iptables) + "` (the mtu-blackhole finding, when there is one, gives the fixes at each host and their undo), and let ICMP 'fragmentation needed' / 'packet too big' through",
        _ => "look for congestion or a lossy link on the path (interface errors, full queues, duplex mismatch); TCP recovers, but throughput suffers",
    };

    /// <summary>The router's clamp from the fix generator (the same commands the namespace tests prove), for the
    /// storm's address family: it names no host, so it fits every flow of the storm.</summary>
    private static string RouterClamp(StormVerdict v, PathProbe.Advice.FixTool tool)
    {
        var flow = v.Flows.Count > 0 ? v.Flows[0] : null;
        bool v4 = flow?.Client.Ip.IsV4 ?? true;
        var a = flow?.Client.Ip ?? PathProbe.Primitives.IpAddress.Parse(v4 ? "192.0.2.1" : "2001:db8::1");
        var b = flow?.Server.Ip ?? PathProbe.Primitives.IpAddress.Parse(v4 ? "192.0.2.2" : "2001:db8::2");
        var plan = PathProbe.Advice.MtuFixGenerator.Generate(new PathProbe.Advice.MtuFixRequest
        {
            Vantage = PathProbe.Advice.FixSite.Router, Senders = [a], Receivers = [b], Evidence = new PathProbe.Advice.MtuEvidence(),
        });
        return plan.Fixes.First(x => x.At == PathProbe.Advice.FixSite.Router && x.Tool == tool).OneLine;
    }

    protected override void Evidence(EvidenceWriter w, IReadOnlyList<StormVerdict> items, Finding f)
    {
        var v = items[0];
        w.Token(EvidenceKeys.Classification, StormVerdict.ClassName(v.Class));
        w.Time(EvidenceKeys.Start, v.Start);
        w.Time(EvidenceKeys.End, v.End);
        var sumR = new Pair(Sum(v, x => x.Retransmissions, true), Sum(v, x => x.Retransmissions, false));
        var sumD = new Pair(Sum(v, x => x.DataSegments, true), Sum(v, x => x.DataSegments, false));
        w.Pair(EvidenceKeys.Retransmissions, sumR);
        w.Pair(EvidenceKeys.DataSegments, sumD);
        w.Number(EvidenceKeys.Share, v.Share); // over the directions that retransmitted
        w.Int(EvidenceKeys.FullSizeRetransmissions, v.FullSize);
        w.Int(EvidenceKeys.SmallRetransmissions, v.Small);
        w.Int(EvidenceKeys.FastRetransmissions, v.Fast);
        w.Int(EvidenceKeys.DuplicateAcks, v.DuplicateAcks);
        w.Int(EvidenceKeys.PeakRetransmissionsPerWindow, v.PeakRetransmissionsPerWindow);
        w.Seconds(EvidenceKeys.Window, v.WindowNanos);
        w.Int(EvidenceKeys.HalfOpenConnections, v.HalfOpenConnections);
        w.Int(EvidenceKeys.Sources, v.SynSources);
        w.Tokens(EvidenceKeys.Reasons, Reasons(v).Select(r => r.Token));
        w.List(EvidenceKeys.Peers);
        foreach (var (peer, n) in v.Peers)
        {
            w.Item();
            w.Address(EvidenceKeys.Address, peer);
            w.Pair(EvidenceKeys.Retransmissions, Pair(v, peer));
            w.End();
        }
        w.EndList();
        w.List(EvidenceKeys.Flows);
        for (int i = 0; i < v.Flows.Count; i++)
        {
            w.Item();
            w.Flow(v.Flows[i]);
            if (v.Positions.Count > i && v.Positions[i] is { } at) w.Position(at, null);
            w.End();
        }
        w.EndList();
        if (v.FlowsNotListed > 0) w.Int(EvidenceKeys.FlowsNotListed, v.FlowsNotListed);
    }

    /// <summary>Sum of one direction's number over exactly the listed flows.</summary>
    private static long Sum(StormVerdict v, Func<FlowFacts, Pair> pick, bool c2s)
    {
        long n = 0;
        foreach (var f in v.Flows) n += pick(f).Of(c2s);
        return n;
    }

    private static Pair Pair(StormVerdict v, IpAddress peer)
    {
        long c = 0, s = 0;
        for (int i = 0; i < v.Flows.Count; i++)
        {
            if (v.Directions[i].C2s && v.Flows[i].Server.Ip == peer) c += v.Flows[i].Retransmissions.C2s;
            if (v.Directions[i].S2c && v.Flows[i].Client.Ip == peer) s += v.Flows[i].Retransmissions.S2c;
        }
        return new Pair(c, s);
    }

    protected override string Conclusion(IReadOnlyList<StormVerdict> items) => StormVerdict.ClassName(items[0].Class);
}
