using System.Globalization;
using PathProbe.Primitives;

namespace PathProbe.Advice;

/// <summary>
/// Turns path-MTU evidence into fixes that make large packets fit, for each place they can be applied, as exact shell
/// commands (no placeholders) with their undo. Pure: no I/O, no findings.
/// </summary>
/// <remarks>
/// What each fix changes, and why these and not others (all tried in network namespaces, see the probe tests):
/// <list type="bullet">
/// <item>At the sender, the size of its own segments is set by the MSS the receiver advertises, so the fix rewrites the
/// MSS option in SYN and SYN-ACK packets arriving from the receiver (prerouting), or gives the route to the receiver a
/// locked MTU. Clamping the sender's own outgoing SYN (the old advice) only shrinks the receiver's segments.</item>
/// <item>At the receiver, the fix lowers the MSS in its own outgoing SYN-ACK (output) or sets the route's
/// <c>advmss</c> toward the sender.</item>
/// <item>On the router, <c>rt mtu</c> / <c>--clamp-mss-to-pmtu</c> clamp forwarded SYNs to the smaller of the route
/// MTUs toward the destination and back toward the source (nft_rt.c, xt_TCPMSS.c), so one rule serves both directions.</item>
/// </list>
/// nft rules live in their own table (<c>inet pathprobe</c>), one chain per fix, so undo deletes exactly that chain;
/// iptables rules carry the comment <c>pathprobe</c>; routes carry <c>proto 201</c>, so <c>ip route del ... proto 201</c>
/// never removes a route the administrator made. Both nft and the iptables TCPMSS target only ever lower an MSS.
/// </remarks>
public static class MtuFixGenerator
{
    public const string NftTable = "pathprobe";
    /// <summary>The routing protocol number that marks PathProbe's routes (unassigned in iproute2's rt_protos).</summary>
    public const int RouteProtocol = 201;
    /// <summary>More addresses than this on one side: the nft and iptables fixes match no address on that side (every
    /// host), and no route fix is given.</summary>
    public const int MaxListedAddresses = 16;

    private const string SynMatchNft = "'tcp flags & (syn | rst) == syn'";
    private const string SynMatchIptables = "-p tcp --tcp-flags SYN,RST SYN -m comment --comment pathprobe";
    private const string RouteLookup =
        "awk '{ for (i = 1; i < NF; i++) if ($i == \"via\" || $i == \"dev\") printf \"%s %s \", $i, $(i + 1) }'";

    public static MtuFixPlan Generate(MtuFixRequest request)
    {
        var senders = request.Senders.Distinct().Order().ToList();
        var receivers = request.Receivers.Distinct().Order().ToList();
        if (senders.Count == 0 || receivers.Count == 0) throw new ArgumentException("a fix needs at least one sender and one receiver", nameof(request));
        bool v4 = senders[0].IsV4;
        if (senders.Concat(receivers).Any(a => a.IsV4 != v4)) throw new ArgumentException("senders and receivers must be one address family", nameof(request));

        var (size, exact, fromLink, sizeBasis) = ChooseSize(request.Evidence, v4, senders[0], receivers[0]);
        int mss = size - (v4 ? 40 : 60);
        var p = new Parts(v4, senders, receivers, size, mss, request.Evidence.Link);

        var order = new List<FixSite> { request.Vantage };
        foreach (var s in new[] { FixSite.Sender, FixSite.Receiver, FixSite.Router }) if (s != request.Vantage) order.Add(s);
        var fixes = new List<MtuFix>();
        foreach (var site in order)
        {
            switch (site)
            {
                case FixSite.Sender: AddSender(fixes, p, sizeBasis); break;
                case FixSite.Receiver: AddReceiver(fixes, p, sizeBasis); break;
                default: AddRouter(fixes, p, sizeBasis); break;
            }
        }
        return new MtuFixPlan(size, mss, exact, sizeBasis, fixes) { Link = request.Evidence.Link, SizeFromLink = fromLink };
    }

    /// <summary>The IP packet size the fixes hold the path to, and why: an exact MTU (probe, ICMP) first; else the MTU an
    /// encapsulation the packets were seen in leaves on an Ethernet link (PPPoE 1492, GRE 1476, VXLAN 1450), when the
    /// evidence brackets it; else the largest packet proven delivered; never below the minimum every path of the family
    /// carries.</summary>
    private static (int Size, bool Exact, bool FromLink, string Basis) ChooseSize(MtuEvidence e, bool v4, IpAddress sender, IpAddress receiver)
    {
        int headers = v4 ? 40 : 60, ipHeader = v4 ? 20 : 40;
        int floor = v4 ? 576 : 1280;
        string family = v4 ? "IPv4" : "IPv6";
        string minimum = v4 ? "the size every IPv4 host must accept (RFC 791)" : "the IPv6 minimum MTU (RFC 8200)";
        string pin = $"pin the exact size with `pathprobe probe {receiver}` run on {sender}, and apply the fixes it prints";
        string MssText(int s) => $"MSS {s - headers} = {s} minus {headers} bytes of {family} and TCP headers";

        if (e.ExactMtu is int exactMtu && exactMtu - e.Overhead > 0)
        {
            int size = exactMtu - e.Overhead;
            string overhead = e.Overhead > 0 ? $", less {e.Overhead} bytes of encapsulation: {size} bytes" : "";
            string raised = "";
            if (size < floor)
            {
                raised = $"; that is below {floor}, {minimum}, so the fixes use {floor} and the hop itself must be repaired";
                size = floor;
            }
            string basis = e.ExactSource == MtuSource.Icmp
                ? $"{(e.IcmpFrom is { } hop ? hop.ToString() : "a router")} announced a {exactMtu}-byte MTU toward {receiver} in {(v4 ? "ICMP 'fragmentation needed'" : "ICMPv6 'packet too big'")}{overhead}{raised}; {MssText(size)}; confirm it with `pathprobe probe {receiver}` run on {sender}"
                : $"the path from {sender} to {receiver} carries IP packets of at most {exactMtu} bytes, measured exactly with don't-fragment probes (`pathprobe probe {receiver}`){overhead}{raised}; {MssText(size)}";
            return (size, true, false, basis);
        }

        int? delivered = e.LargestDelivered;
        string ignored = "";
        if (delivered is int d && e.AdvertisedMss is int adv and > 0 && d > adv + ipHeader + 60)
        {
            ignored = $" (a {d}-byte packet, larger than the advertised MSS {adv} allows, was segmentation offload on the capture host, no evidence)";
            delivered = null;
        }
        string linkNote = "";
        if (e.Link is { Overhead: > 0 } link)
        {
            // The encapsulation explains the hole when its MTU lies between what got through and what was lost: 1500-byte
            // packets lost and 1004-byte ones delivered on a PPPoE link is the classic 1492.
            int inner = link.InnerMtu;
            bool aboveDelivered = delivered is not int dl || dl <= inner;
            bool belowLost = e.SmallestLost is not int ls || ls > inner;
            if (aboveDelivered && belowLost && inner >= floor)
            {
                string proven = delivered is int dl2 ? $"{dl2}-byte packets are proven to get through" : "no size is proven to get through";
                string lostAt = e.SmallestLost is int ls2 ? $" and {ls2}-byte ones are lost" : "";
                string fallback = delivered is int dl3 && dl3 >= floor ? $"MSS {dl3 - headers} ({dl3}-byte packets) is proven to get through, or " : "";
                return (inner, false, true,
                    $"{link.Sentence(v4)}; {proven}{lostAt} from {sender} to {receiver}{ignored}, which fits that; the size rests on " +
                    $"the {link.Name} overhead, not on a packet seen delivered: if mail still stalls with it, a hop beyond has a smaller MTU still: {fallback}{pin}");
            }
            if (delivered is int bigger && bigger > inner)
                linkNote = $" ({link.Name} is on the path, but its {link.Overhead} bytes do not explain the hole: {bigger}-byte packets got through, more than the {inner} bytes it leaves on a {link.LinkMtu}-byte link, so its underlay carries larger frames)";
            else if (e.SmallestLost is int smaller && smaller <= inner)
                linkNote = $" ({link.Name} is on the path, but {smaller}-byte packets are lost, within the {inner} bytes it leaves on a {link.LinkMtu}-byte link: another hop has a smaller MTU)";
        }
        if (delivered is int got && got >= floor)
        {
            string upper = e.SmallestLost is int l && l > got
                ? $"the path MTU is between {got} and {l - 1} bytes, so segments may be up to {l - 1 - got} bytes smaller than they could be"
                : "the exact path MTU is not known";
            return (got, false, false,
                $"{got}-byte packets are the largest proven to get through from {sender} to {receiver}{ignored}{linkNote}; {MssText(got)}; {upper}: {pin}");
        }
        string lostText = e.SmallestLost is int lost && lost > (delivered ?? 0) ? $" ({lost}-byte packets are lost)" : "";
        string why = delivered is int small
            ? $"no packet larger than {small} bytes is proven to get through from {sender} to {receiver}{lostText}{ignored}"
            : $"no packet size is proven to get through from {sender} to {receiver}{lostText}{ignored}";
        return (floor, false, false, $"{why}{linkNote}, so the fixes use {floor} bytes, {minimum}; {MssText(floor)}: safe but small: {pin}");
    }

    private sealed record Parts(bool V4, List<IpAddress> Senders, List<IpAddress> Receivers, int Size, int Mss, LinkEncapsulation? Link)
    {
        public string NftFamily => V4 ? "ip" : "ip6";
        public string Iptables => V4 ? "iptables" : "ip6tables";
        public string IpRoute => V4 ? "ip route" : "ip -6 route";
        public string RouteGet => V4 ? "ip -o route get" : "ip -o -6 route get";
        public string HostPrefix => V4 ? "/32" : "/128";
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Names(List<IpAddress> a) =>
        a.Count == 1 ? a[0].ToString() : a.Count <= 3 ? string.Join(", ", a) : $"{a.Count} hosts ({a[0]} … {a[^1]})";

    /// <summary>An nft chain name for the fix (identifier characters only).</summary>
    private static string Chain(string prefix, List<IpAddress> others) =>
        others.Count > MaxListedAddresses
            ? prefix + "_all"
            : prefix + "_" + others[0].ToString().Replace('.', '_').Replace(':', '_') + (others.Count > 1 ? $"_and_{others.Count - 1}" : "");

    private static string NftMatch(string family, string field, List<IpAddress> a) =>
        a.Count > MaxListedAddresses ? ""
        : a.Count == 1 ? $"{family} {field} {a[0]} "
        : $"{family} {field} '{{ {string.Join(", ", a)} }}' ";

    private static string IptMatch(string flag, List<IpAddress> a) =>
        a.Count > MaxListedAddresses ? "" : $"{flag} {string.Join(",", a)} ";

    private static MtuFix Nft(FixSite at, Parts p, string chain, string hook, string matches, string value, string does, string why) => new(
        at, FixTool.Nft,
        new[]
        {
            $"nft add table inet {NftTable}",
            $"nft add chain inet {NftTable} {chain} '{{ type filter hook {hook} priority -150; policy accept; }}'",
            $"nft add rule inet {NftTable} {chain} {matches}{SynMatchNft} tcp option maxseg size set {value}",
        },
        new[]
        {
            $"nft flush chain inet {NftTable} {chain}",
            $"nft delete chain inet {NftTable} {chain}",
            $"nft list table inet {NftTable} | grep -q 'chain ' || nft delete table inet {NftTable}",
        },
        does, $"{does} {why}");

    private static MtuFix Ipt(FixSite at, Parts p, string chain, string matches, string target, string does, string why)
    {
        string rule = $"-t mangle {{0}} {chain} {matches}{SynMatchIptables} -j TCPMSS {target}";
        return new(at, FixTool.Iptables,
            new[] { $"{p.Iptables} {string.Format(CultureInfo.InvariantCulture, rule, "-I")}" },
            new[] { $"{p.Iptables} {string.Format(CultureInfo.InvariantCulture, rule, "-D")}" },
            does, $"{does} {why}");
    }

    private static MtuFix? Route(FixSite at, Parts p, List<IpAddress> toward, string metric, string does, string why)
    {
        if (toward.Count > MaxListedAddresses) return null;
        var add = toward.Select(a =>
            $"{p.IpRoute} add {a}{p.HostPrefix} $({p.RouteGet} {a} | {RouteLookup}) proto {RouteProtocol} {metric}").ToList();
        var del = toward.Select(a => $"{p.IpRoute} del {a}{p.HostPrefix} proto {RouteProtocol}").ToList();
        return new MtuFix(at, FixTool.Ip, add, del, does, $"{does} {why}");
    }

    private const string NftUndoText = "undo deletes that chain, and the table when nothing else is left in it";
    private const string IptUndoText = "undo deletes exactly that rule (iptables-nft keeps the empty built-in chain, which changes nothing)";

    private static void AddSender(List<MtuFix> fixes, Parts p, string sizeBasis)
    {
        string s = Names(p.Senders), r = Names(p.Receivers);
        string scope = p.Receivers.Count > MaxListedAddresses ? "every host" : r;
        string effect = $"so {s} sends at most {p.Size}-byte packets to {scope}; it applies to new connections";
        string why = $"Why MSS {p.Mss}: {sizeBasis}.";
        string chain = Chain("mss_from", p.Receivers);
        fixes.Add(Nft(FixSite.Sender, p, chain, "prerouting",
            NftMatch(p.NftFamily, "saddr", p.Receivers) + NftMatch(p.NftFamily, "daddr", p.Senders), I(p.Mss),
            $"On {s} (the sender): rewrites the MSS that {scope} advertises in its SYN and SYN-ACK as they arrive to {p.Mss}, {effect}. " +
            $"The rule is chain {chain} of table inet {NftTable}; {NftUndoText}.", why));
        fixes.Add(Ipt(FixSite.Sender, p, "PREROUTING", IptMatch("-s", p.Receivers) + IptMatch("-d", p.Senders), $"--set-mss {p.Mss}",
            $"On {s} (the sender): the same clamp with {p.Iptables} (mangle PREROUTING, TCPMSS, comment pathprobe), {effect}; {IptUndoText}.", why));
        if (Route(FixSite.Sender, p, p.Receivers, $"mtu lock {p.Size}",
                $"On {s} (the sender): a host route to {r} with its MTU locked at {p.Size} bytes, so TCP (and everything else this host " +
                $"sends there) fits; `{p.RouteGet}` fills in the gateway and interface this host uses today when the command runs. " +
                $"The route is tagged proto {RouteProtocol}, so undo removes only it; the command fails and changes nothing if a route to exactly " +
                $"{r}{p.HostPrefix} with the default metric already exists.", $"Why {p.Size} bytes: {sizeBasis}.") is { } route)
            fixes.Add(route);
    }

    private static void AddReceiver(List<MtuFix> fixes, Parts p, string sizeBasis)
    {
        string s = Names(p.Senders), r = Names(p.Receivers);
        string scope = p.Senders.Count > MaxListedAddresses ? "every host" : s;
        string effect = $"so {scope} sends at most {p.Size}-byte packets to it; it applies to new connections";
        string why = $"Why MSS {p.Mss}: {sizeBasis}.";
        string chain = Chain("mss_to", p.Senders);
        fixes.Add(Nft(FixSite.Receiver, p, chain, "output",
            NftMatch(p.NftFamily, "saddr", p.Receivers) + NftMatch(p.NftFamily, "daddr", p.Senders), I(p.Mss),
            $"On {r} (the receiver): lowers the MSS in this host's own SYN-ACK (and SYN) to {scope} to {p.Mss}, {effect}. " +
            $"The rule is chain {chain} of table inet {NftTable}; {NftUndoText}.", why));
        fixes.Add(Ipt(FixSite.Receiver, p, "OUTPUT", IptMatch("-s", p.Receivers) + IptMatch("-d", p.Senders), $"--set-mss {p.Mss}",
            $"On {r} (the receiver): the same clamp with {p.Iptables} (mangle OUTPUT, TCPMSS, comment pathprobe), {effect}; {IptUndoText}.", why));
        if (Route(FixSite.Receiver, p, p.Senders, $"advmss {p.Mss}",
                $"On {r} (the receiver): a host route to {s} that advertises MSS {p.Mss} in this host's SYN-ACK, {effect}; " +
                $"`{p.RouteGet}` fills in the gateway and interface this host uses today when the command runs. The route is tagged " +
                $"proto {RouteProtocol}, so undo removes only it; the command fails and changes nothing if a route to exactly " +
                $"{s}{p.HostPrefix} with the default metric already exists.", why) is { } route)
            fixes.Add(route);
    }

    private static void AddRouter(List<MtuFix> fixes, Parts p, string sizeBasis)
    {
        string where = $"On the router whose interface has the small MTU or MRU (between {Names(p.Senders)} and {Names(p.Receivers)})";
        if (p.Link is { Overhead: > 0 } link && p.Size == link.InnerMtu)
            where += link.IpTunnel
                ? $", here the end of the {link.Name} tunnel: its tunnel interface must have MTU {link.InnerMtu}, {link.Overhead} bytes below the {link.LinkMtu} of the link under it"
                : $", here the router on the {link.Name} link: its {link.Name} interface must have MTU {link.InnerMtu}, {link.Overhead} bytes below the {link.LinkMtu} of the Ethernet under it";
        string how = "clamps the MSS of every forwarded SYN and SYN-ACK to fit the smaller MTU of its routes toward the destination and back " +
                     "toward the source, so it is right for every connection through it without naming hosts. It works where this router's own " +
                     "interface has the small MTU (`ip link` shows it); if all its interfaces say 1500 while the device beyond drops larger frames, " +
                     $"first set that interface's MTU to {p.Size} (`ip link set dev IFACE mtu {p.Size}`)";
        string why = $"The size it must allow: {sizeBasis}.";
        fixes.Add(Nft(FixSite.Router, p, "mss_forward", "forward", "", "rt mtu",
            $"{where}: {how}. The rule is chain mss_forward of table inet {NftTable}; {NftUndoText}.", why));
        fixes.Add(Ipt(FixSite.Router, p, "FORWARD", "", "--clamp-mss-to-pmtu",
            $"{where}: the same with {p.Iptables} (mangle FORWARD, TCPMSS --clamp-mss-to-pmtu, comment pathprobe): {how}; {IptUndoText}.", why));
    }
}
