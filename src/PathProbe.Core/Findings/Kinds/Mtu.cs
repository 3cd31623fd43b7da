using PathProbe.Primitives;
using static PathProbe.Findings.FindingText;

namespace PathProbe.Findings.Kinds;

/// <summary>What one flow direction shows of a black hole (aligned with <see cref="Verdict.Flows"/>).</summary>
public sealed record BlackHoleFlow
{
    public required bool FromClient { get; init; }
    public int SenderMss { get; init; }
    public int ReceiverMss { get; init; }
    /// <summary>IP size of a full-size segment (smaller MSS + headers), 0 when unknown.</summary>
    public int FullSize { get; init; }
    /// <summary>No handshake in the capture: <see cref="FullSize"/> is inferred from the missing data (a whole number of
    /// segments of a 1,500-byte packet), not from the MSS.</summary>
    public bool FullSizeInferred { get; init; }
    public int IpHeader { get; init; } = 20;
    public int TcpHeader { get; init; } = 20;
    public int DeliveredMax { get; init; }
    public int ArrivedMax { get; init; }
    /// <summary>Smallest size never delivered (resent at that size), 0 when none.</summary>
    public int LostMin { get; init; }
    /// <summary>The lost packet was resent with back-off (4 or more transmissions).</summary>
    public bool ResentWithBackoff { get; init; }
    public bool SmallerDeliveredAfterLoss { get; init; }
    public Timestamp? FirstLoss { get; init; }
    public Timestamp? RecoveredAt { get; init; }
    public int RecoveredSize { get; init; }
    public int SettledAt { get; init; }
    public int IcmpTooBig { get; init; }
    public bool IcmpIgnored { get; init; }
    // Receiver's vantage: the gap.
    public long MissingBytes { get; init; }
    public Timestamp? GapOpened { get; init; }
    public Timestamp? GapFilled { get; init; }
    public int BeyondGapSize { get; init; }
    public int FilledWithMax { get; init; }
    public long TimeLostNanos { get; init; }
    public SmtpPosition? At { get; init; }
    public bool Recovered => RecoveredAt is not null || GapFilled is not null;
    /// <summary>The flow left the table (its evidence is final).</summary>
    public bool Closed { get; init; }
}

public enum Confidence : byte { Medium, High }

/// <summary><c>mtu-blackhole</c>: a path that silently drops IP packets above a size, one verdict per peer and
/// vantage with every flow that shows it.</summary>
public sealed record BlackHoleVerdict : Verdict
{
    public override FindingKind Kind => FindingKind.MtuBlackhole;
    public override string Identifier => $"{(ReceiverVantage ? "receiver" : "sender")} {Peer}";
    public override Severity Severity => AllRecovered ? Severity.Warning : Severity.Critical;
    public override Timestamp Time => Since;

    public required bool ReceiverVantage { get; init; }
    public required IpAddress Peer { get; init; }
    /// <summary>The path MTU lies in [Min, Max] (IP bytes).</summary>
    public required int Min { get; init; }
    public required int Max { get; init; }
    /// <summary>False when no packet is proven to get through (the capture started in the middle of the stall):
    /// <see cref="Min"/> is then the family's minimum (576 IPv4, 1280 IPv6), an assumption, not a measurement.</summary>
    public bool MinProven { get; init; } = true;
    /// <summary>Sender's vantage: the smallest size lost; receiver's: the full size that never arrived.</summary>
    public required int LostSize { get; init; }
    public required Timestamp Since { get; init; }
    public long TimeLostNanos { get; init; }
    public bool AllRecovered { get; init; }
    public bool IcmpSeen { get; init; }
    public bool IcmpIgnored { get; init; }
    public Confidence Confidence { get; init; }
    public IReadOnlyList<string> Reasons { get; init; } = [];
    public IReadOnlyList<IpAddress> Senders { get; init; } = [];
    public IReadOnlyList<IpAddress> Receivers { get; init; } = [];
    public required IReadOnlyList<BlackHoleFlow> Details { get; init; }
    public long FlowsNotListed { get; init; }
    public long PeersNotReported { get; init; }
    /// <summary>Resends of the lost packet in each flow (its longest series), summed over the listed flows.</summary>
    public long Resends
    {
        get
        {
            long n = 0;
            for (int i = 0; i < Flows.Count; i++) n += Flows[i].Resends.Of(Details[i].FromClient);
            return n;
        }
    }

    /// <summary>The fixes at each place they can be applied, with their undo and basis (Advice/MtuFixGenerator).</summary>
    public Advice.MtuFixPlan? Fixes { get; init; }
}

public sealed class BlackHoleWriter : FindingWriter<BlackHoleVerdict>
{
    protected override string One(BlackHoleVerdict v)
    {
        var first = v.Details[0];
        var ff = v.Flows[0];
        int n = v.Flows.Count;
        string flowsText = n == 1 ? $"flow {ff.Id}" : $"all {n} flows";
        string phase = SmtpWords.Positions(v.Details.Select((d, i) => (d.At, d.Recovered ? null : (FlowFacts?)v.Flows[i])));
        string conf = v.Confidence == Confidence.High ? "high" : "medium";
        if (v.ReceiverVantage)
        {
            string who = v.Senders.Count == 1 ? v.Senders[0].ToString() : $"{v.Senders.Count} hosts ({Addresses(v.Senders)})";
            int segs = first.FullSize - first.IpHeader - first.TcpHeader;
            string holeText = segs > 0 && first.MissingBytes % segs == 0
                ? $"{N(first.MissingBytes)} bytes ({Count(first.MissingBytes / segs, "full-size segment")}) of its data never arrived"
                : $"{N(first.MissingBytes)} bytes of its data never arrived";
            string mssText = first.SenderMss > 0 || first.ReceiverMss > 0
                ? $"MSS {N(Math.Min(Nz(first.SenderMss), Nz(first.ReceiverMss)))}"
                : first.FullSizeInferred ? "no handshake in the capture: the size is inferred from the missing data" : "MSS not seen";
            return $"path-MTU black hole on the way from {who}: it may send {N(first.FullSize)}-byte packets ({mssText}), " +
                   $"yet nothing larger than {N(v.Min)} bytes ever arrived here; {holeText} while a {N(first.BeyondGapSize)}-byte packet sent after them did" +
                   (v.AllRecovered && first.GapFilled is { } filled && first.GapOpened is { } opened
                       ? $", and the gap was filled {Sec(filled.UnixNanoseconds - opened.UnixNanoseconds)} later by packets of at most {N(first.FilledWithMax)} bytes (the sender shrank its segments)" : "") +
                   $". The drop happens upstream, before this host: the path MTU is between {N(v.Min)} and {N(v.Max)} bytes" +
                   (phase.Length > 0 ? $"; {flowsText} {phase}" : "") + $" (confidence {conf}).";
        }
        string senderText = v.Senders.Count == 1 ? v.Senders[0].ToString() : $"{v.Senders.Count} senders ({Addresses(v.Senders)})";
        long resends = v.Resends;
        return $"path-MTU black hole toward {v.Peer}: {N(v.LostSize)}-byte packets from {senderText} never arrive" +
               (resends > 0 ? $" (resent {N(resends)} times{(v.Details.Any(x => x.ResentWithBackoff) ? " with RTO back-off" : "")}, never acknowledged)" : "") +
               (v.MinProven
                   ? $" while packets up to {N(v.Min)} bytes get through; the path MTU is between {N(v.Min)} and {N(v.Max)} bytes. "
                   : $"; the capture holds no acknowledged packet of this flow above the minimum size, so no size is proven to get through: the path MTU is between {N(v.Min)} (the {(v.Peer.IsV4 ? "IPv4" : "IPv6")} minimum, assumed) and {N(v.Max)} bytes. ") +
               (v.IcmpSeen ? (v.IcmpIgnored ? "ICMP too-big arrived but the sender ignored it. " : "") : "No ICMP 'fragmentation needed' / 'packet too big' came back. ") +
               (n > 1 ? $"All {n} flows stall at their first full-size segment" : $"Flow {ff.Id} stalled") +
               (phase.Length > 0 ? $" {phase}" : "") +
               (v.AllRecovered
                   ? $"; recovered after {Sec(v.TimeLostNanos)} when the sender shrank its segments (PLPMTUD, Linux tcp_mtu_probing): {N(v.Details.Where(x => x.RecoveredSize > 0).Select(x => x.RecoveredSize).DefaultIfEmpty(0).Min())}-byte packets got through" +
                     (v.Details.Max(x => x.SettledAt) is int settled and > 0 ? $" and it settled at {N(settled)} bytes" : "")
                   : $"; {Sec(v.TimeLostNanos)} lost, never recovered") +
               $" (confidence {conf}).";
    }

    private static int Nz(int v) => v > 0 ? v : int.MaxValue;

    /// <summary>The one command that makes mail flow again today: the first fix at this vantage (nft).</summary>
    public static string FixCommand(BlackHoleVerdict v) =>
        v.Fixes?.First(v.ReceiverVantage ? PathProbe.Advice.FixSite.Receiver : PathProbe.Advice.FixSite.Sender)?.OneLine ?? "";

    /// <summary>What to repair, the fix that makes mail flow again today (the first fix at this host: nft), where
    /// the other fixes are, and how to pin the exact size with <c>pathprobe probe</c>.</summary>
    protected override string? Advice(IReadOnlyList<BlackHoleVerdict> items)
    {
        var v = items[0];
        bool rv = v.ReceiverVantage;
        string icmpRule = v.Peer.IsV4 ? "ICMP type 3 code 4 ('fragmentation needed')" : "ICMPv6 type 2 ('packet too big')";
        string sender = v.Senders.Count == 1 ? v.Senders[0].ToString() : "the sender";
        string receiver = v.Receivers.Count == 1 ? v.Receivers[0].ToString() : "this host";
        var plan = v.Fixes;
        string pin = plan?.Exact == true
            ? $"confirm the size with `pathprobe probe {receiver}` run on {sender}"
            : rv
                ? $"pin the exact size: `pathprobe probe {receiver}` run on {sender} (from here, `pathprobe probe {sender}` measures only the way back)"
                : $"pin the exact size: `pathprobe probe {v.Peer}`";
        string others = rv ? "at the sender and on the router" : "at the receiver and on the router";
        // A PPPoE link or a tunnel whose overhead explains the hole: say which, and where its MTU is set.
        string? link = plan is { SizeFromLink: true, Link: { } l }
            ? $"{l.Sentence(v.Peer.IsV4)}, and larger packets are dropped on it without a word: " +
              $"{(l.IpTunnel ? "give the tunnel interface at both ends" : $"give the {l.Name} interface of the router on that link")} MTU {l.InnerMtu} and clamp the MSS there (the router fix); "
            : null;
        return (link is not null ? link : rv
                   ? $"a hop between {(v.Senders.Count == 1 ? v.Senders[0].ToString() : "those senders")} and this host drops packets larger than {N(v.Max)} bytes without telling anyone: find it (an MRU or MTU below 1500 on a router, tunnel or VPN in front of this server) and raise its MRU/MTU; "
                   : $"a hop between the sender and {v.Peer} drops packets larger than {N(v.Max)} bytes without telling anyone: raise that hop's MRU/MTU (a router, tunnel or VPN whose receive size is below the sender's MTU); ") +
               (plan is null ? "" :
                   $"until then make segments fit: the first fix at this host clamps the MSS {(rv ? $"this host advertises to {(v.Senders.Count == 1 ? v.Senders[0].ToString() : "those senders")}" : $"{v.Peer} advertises to this host")} to {plan.Mss} " +
                   $"({N(plan.PacketSize)}-byte packets, for new connections); the report lists the fixes at each place (this host, {others}) in nft, iptables and `ip route` forms with their undo, and the JSON evidence `fixes` also what each rests on; ") +
               $"{pin}; " +
               (v.IcmpSeen ? "" : $"make sure routers send, and firewalls let through, {icmpRule}; ") +
               "and enable `sysctl -w net.ipv4.tcp_mtu_probing=1` on Linux senders so they recover from black holes by themselves";
    }

    protected override void Evidence(EvidenceWriter w, IReadOnlyList<BlackHoleVerdict> items, Finding f)
    {
        var v = items[0];
        w.Token(EvidenceKeys.Vantage, v.ReceiverVantage ? "receiver" : "sender");
        w.Address(EvidenceKeys.Peer, v.Peer);
        w.Range(EvidenceKeys.PathMtu, v.Min, v.Max);
        if (v.Fixes?.Link is { } link)
        {
            w.Tokens(EvidenceKeys.Encapsulation, link.Layers);
            w.Int(EvidenceKeys.EncapsulationOverhead, link.Overhead);
            w.Int(EvidenceKeys.InnerMtu, link.InnerMtu);
        }
        w.Int(v.ReceiverVantage ? EvidenceKeys.LargestArrived : EvidenceKeys.LargestDelivered, v.MinProven ? v.Min : (long?)null);
        w.Int(v.ReceiverVantage ? EvidenceKeys.FullSize : EvidenceKeys.SmallestLost, v.LostSize);
        long c2s = 0, s2c = 0;
        foreach (var ff in v.Flows) { c2s += ff.Retransmissions.C2s; s2c += ff.Retransmissions.S2c; }
        w.Pair(EvidenceKeys.Retransmissions, new Pair(c2s, s2c));
        if (!v.ReceiverVantage) w.Int(EvidenceKeys.Resends, v.Resends); // the receiver never sees the lost packets
        w.Seconds(EvidenceKeys.TimeLost, v.TimeLostNanos);
        w.Time(EvidenceKeys.Start, v.Since);
        w.Bool(EvidenceKeys.IcmpTooBigSeen, v.IcmpSeen);
        w.Bool(EvidenceKeys.Recovered, v.AllRecovered);
        w.Token(EvidenceKeys.Confidence, v.Confidence == Confidence.High ? "high" : "medium");
        w.Tokens(EvidenceKeys.Reasons, v.Reasons);
        w.Addresses(EvidenceKeys.Senders, v.Senders);
        w.Addresses(EvidenceKeys.Receivers, v.Receivers);
        w.List(EvidenceKeys.Flows);
        for (int i = 0; i < v.Flows.Count; i++)
        {
            var d = v.Details[i];
            var ff = v.Flows[i];
            w.Item();
            w.Flow(ff);
            w.Token(EvidenceKeys.Direction, d.FromClient ? "c2s" : "s2c");
            w.Pair(EvidenceKeys.Mss, new Pair(d.FromClient ? d.SenderMss : d.ReceiverMss, d.FromClient ? d.ReceiverMss : d.SenderMss));
            if (v.ReceiverVantage)
            {
                w.Int(EvidenceKeys.LargestArrived, d.ArrivedMax);
                w.Int(EvidenceKeys.MissingBytes, d.MissingBytes);
                w.Int(EvidenceKeys.BeyondHoleSize, d.BeyondGapSize);
                if (d.GapFilled is { } filled && d.GapOpened is { } opened)
                {
                    w.Seconds(EvidenceKeys.FilledAfter, filled.UnixNanoseconds - opened.UnixNanoseconds);
                    w.Int(EvidenceKeys.FilledWithMax, d.FilledWithMax);
                }
            }
            else
            {
                w.Int(EvidenceKeys.LargestDelivered, d.DeliveredMax);
                if (d.LostMin > 0) w.Int(EvidenceKeys.SmallestLost, d.LostMin);
                w.Int(EvidenceKeys.Resends, ff.Resends.Of(d.FromClient));
                if (d.RecoveredAt is not null) { w.Int(EvidenceKeys.RecoveredWith, d.RecoveredSize); w.Int(EvidenceKeys.SettledAt, d.SettledAt); }
                w.Int(EvidenceKeys.IcmpTooBig, d.IcmpTooBig);
            }
            w.Seconds(EvidenceKeys.TimeLost, d.TimeLostNanos);
            w.Bool(EvidenceKeys.Recovered, d.Recovered);
            if (d.At is { } at) w.Position(at, d.Recovered ? null : ff);
            w.End();
        }
        w.EndList();
        if (v.FlowsNotListed > 0) w.Int(EvidenceKeys.FlowsNotListed, v.FlowsNotListed);
        if (v.PeersNotReported > 0) w.Int(EvidenceKeys.PeersNotReported, v.PeersNotReported);
        w.Text(EvidenceKeys.FixCommand, FixCommand(v));
        if (v.Fixes is { } plan)
        {
            w.List(EvidenceKeys.Fixes);
            foreach (var fix in plan.Fixes)
            {
                w.Item();
                w.Token(EvidenceKeys.At, PathProbe.Advice.MtuFix.SiteName(fix.At));
                w.Token(EvidenceKeys.Tool, PathProbe.Advice.MtuFix.ToolName(fix.Tool));
                w.Texts(EvidenceKeys.Commands, fix.Commands);
                w.Texts(EvidenceKeys.Undo, fix.Undo);
                w.Text(EvidenceKeys.Basis, fix.Basis);
                w.End();
            }
            w.EndList();
        }
    }

    protected override string Conclusion(IReadOnlyList<BlackHoleVerdict> items)
    {
        var v = items[0];
        return $"{v.Min}..{v.Max} {v.Confidence} recovered={v.AllRecovered} flows={v.Flows.Count}";
    }
}

/// <summary><c>mss-mismatch</c>: with a black hole, the MSS a side advertised invites packets the path cannot carry.</summary>
public sealed record MssMismatchVerdict : Verdict
{
    public override FindingKind Kind => FindingKind.MssMismatch;
    public override string Identifier => $"{(ReceiverVantage ? "receiver" : "sender")} {Peer}";
    public override Severity Severity => Severity.Warning;
    public override Timestamp Time => Since;
    public required bool ReceiverVantage { get; init; }
    public required IpAddress Peer { get; init; }
    public required Timestamp Since { get; init; }
    public required int Min { get; init; }
    public required int Max { get; init; }
    /// <summary>As <see cref="BlackHoleVerdict.MinProven"/>.</summary>
    public bool MinProven { get; init; } = true;
    public required Endpoint AdvertisedBy { get; init; }
    public required int AdvertisedMss { get; init; }
    public required int ImpliedPacketSize { get; init; }
    public required int SafeMss { get; init; }
}

public sealed class MssMismatchWriter : FindingWriter<MssMismatchVerdict>
{
    private static int ImpliedHeader(MssMismatchVerdict v) => v.ImpliedPacketSize - v.AdvertisedMss;

    protected override string One(MssMismatchVerdict v) =>
        $"{v.AdvertisedBy} advertises MSS {N(v.AdvertisedMss)}, inviting {N(v.ImpliedPacketSize)}-byte packets, but the path {(v.ReceiverVantage ? "from" : "to")} {v.Peer} carries at most {N(v.Max)} bytes " +
        (v.MinProven ? $"({N(v.Min)} known to get through)" : "(no size proven to get through)") + ": every full-size segment is lost";

    protected override string? Advice(IReadOnlyList<MssMismatchVerdict> items)
    {
        var v = items[0];
        return $"clamp the MSS to {v.SafeMss} (or lower) for this path, as the fixes of the mtu-blackhole finding do (at the sender, the receiver, or " +
               $"`rt mtu` / `--clamp-mss-to-pmtu` on the router whose interface has the small MTU), or lower the MTU toward {v.Peer} to {N(v.SafeMss + ImpliedHeader(v))}";
    }

    protected override void Evidence(EvidenceWriter w, IReadOnlyList<MssMismatchVerdict> items, Finding f)
    {
        var v = items[0];
        w.Address(EvidenceKeys.Peer, v.Peer);
        w.Endpoint(EvidenceKeys.AdvertisedBy, v.AdvertisedBy);
        w.Int(EvidenceKeys.AdvertisedMss, v.AdvertisedMss);
        w.Int(EvidenceKeys.ImpliedPacketSize, v.ImpliedPacketSize);
        w.Range(EvidenceKeys.PathMtu, v.Min, v.Max);
        w.Int(EvidenceKeys.SafeMss, v.SafeMss);
        w.List(EvidenceKeys.Flows);
        foreach (var ff in v.Flows) { w.Item(); w.Flow(ff); w.End(); }
        w.EndList();
    }
}

/// <summary><c>icmp-too-big</c>: ICMPv4 fragmentation-needed or ICMPv6 Packet Too Big, mapped to its flow.</summary>
public sealed record IcmpTooBigVerdict : Verdict
{
    public override FindingKind Kind => FindingKind.IcmpTooBig;
    public override string Identifier => $"{Hop} {Mtu} {Sender.Ip} {Receiver.Ip} {Obeyed}";
    public override Severity Severity => Obeyed == false ? Severity.Warning : Severity.Info;
    public override Timestamp Time => First;
    public required IpAddress Hop { get; init; }
    public required int Mtu { get; init; }
    public required int Messages { get; init; }
    public required Endpoint Sender { get; init; }
    public required Endpoint Receiver { get; init; }
    public required Timestamp First { get; init; }
    public required bool Ipv4 { get; init; }
    /// <summary>Later packets fitted; null when nothing was sent afterwards or the flow is not in the capture.</summary>
    public bool? Obeyed { get; init; }
    public int PacketsAfter { get; init; }
    public int OversizeAfter { get; init; }
    public int LargestAfter { get; init; }
    /// <summary>The quoted packet's flow is not a TCP flow of the capture: its transport and size.</summary>
    public bool FlowKnown { get; init; } = true;
    public string Protocol { get; init; } = "tcp";
    public int QuotedPacketSize { get; init; }
}

public sealed class IcmpTooBigWriter : FindingWriter<IcmpTooBigVerdict>
{
    protected override string One(IcmpTooBigVerdict v)
    {
        if (!v.FlowKnown)
        {
            string what2 = v.Ipv4 ? "ICMP fragmentation needed" : "ICMPv6 Packet Too Big";
            string proto = v.Protocol.StartsWith("protocol-", StringComparison.Ordinal) ? v.Protocol.Replace('-', ' ') : v.Protocol.ToUpperInvariant();
            string ports = v.Sender.Port != 0 || v.Receiver.Port != 0 ? $" ({proto} {v.Sender} → {v.Receiver})" : $" ({proto})";
            return $"{v.Hop} sent {N(v.Messages)} {what2} to {v.Sender.Ip}: packets to {v.Receiver.Ip} must not exceed {N(v.Mtu)} bytes{ports}; " +
                   (v.Protocol == "tcp" ? "the connection is not in the capture, so whether the sender obeyed is unknown" : "the sender's later datagrams must be fragmented or smaller");
        }
        string what = v.Ipv4 ? "ICMP fragmentation needed (type 3 code 4)" : "ICMPv6 Packet Too Big (type 2)";
        string verdict = v.Obeyed is null
            ? "nothing was sent afterwards, so whether the sender obeyed is unknown"
            : v.Obeyed == true
                ? $"the sender obeyed: every later packet was at most {N(v.LargestAfter)} bytes"
                : $"the sender ignored it: {N(v.OversizeAfter)} later packet{(v.OversizeAfter == 1 ? "" : "s")} were still larger (up to {N(v.LargestAfter)} bytes)";
        return $"{v.Hop} sent {v.Messages} {what} to {v.Sender}: packets to {v.Receiver} must not exceed {N(v.Mtu)} bytes; {verdict}";
    }

    protected override string? Advice(IReadOnlyList<IcmpTooBigVerdict> items)
    {
        var v = items[0];
        string type = v.Ipv4 ? "type 3 code 4" : "type 2";
        if (!v.FlowKnown) return $"keep ICMP {type} allowed through every firewall on this path: it is what lets senders adapt to the {N(v.Mtu)}-byte hop";
        return v.Obeyed != false
            ? $"path-MTU discovery works here: the hop {v.Hop} has a {N(v.Mtu)}-byte MTU and says so; keep ICMP {type} allowed through every firewall on this path, or clamp the MSS to {v.Mtu - (v.Ipv4 ? 40 : 60)} to avoid the first lost flight"
            : $"the sender does not act on ICMP too-big: check for a firewall on the sending host that drops incoming ICMP {type}, or clamp the MSS to {v.Mtu - (v.Ipv4 ? 40 : 60)}";
    }

    protected override void Evidence(EvidenceWriter w, IReadOnlyList<IcmpTooBigVerdict> items, Finding f)
    {
        var v = items[0];
        w.Address(EvidenceKeys.Hop, v.Hop);
        w.Int(EvidenceKeys.Mtu, v.Mtu);
        w.Int(EvidenceKeys.Messages, items.Sum(x => (long)x.Messages));
        w.Bool(EvidenceKeys.Obeyed, v.Obeyed);
        w.List(EvidenceKeys.Flows);
        foreach (var x in items)
        {
            w.Item();
            if (x.Flows.Count > 0) w.Flow(x.Flows[0]);
            w.Endpoint(EvidenceKeys.Sender, x.Sender);
            w.Endpoint(EvidenceKeys.Receiver, x.Receiver);
            w.Int(EvidenceKeys.Messages, x.Messages);
            w.Bool(EvidenceKeys.Obeyed, x.Obeyed);
            if (x.FlowKnown)
            {
                w.Int(EvidenceKeys.PacketsAfter, x.PacketsAfter);
                w.Int(EvidenceKeys.OversizeAfter, x.OversizeAfter);
                w.Int(EvidenceKeys.LargestAfter, x.LargestAfter);
            }
            else
            {
                w.Token(EvidenceKeys.Protocol, x.Protocol);
                w.Int(EvidenceKeys.QuotedPacketSize, x.QuotedPacketSize);
            }
            w.End();
        }
        w.EndList();
    }
}
