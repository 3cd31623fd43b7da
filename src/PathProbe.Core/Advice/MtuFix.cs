using PathProbe.Primitives;

namespace PathProbe.Advice;

/// <summary>Where a path-MTU fix is applied: the host whose large packets are lost, the host that should receive
/// them, or the router with the small MTU between them.</summary>
public enum FixSite : byte { Sender, Receiver, Router }

/// <summary>The tool a fix's commands use, in the order they are offered: nftables (the default of current Debian
/// and RHEL), iptables, then a route (<c>ip route</c>).</summary>
public enum FixTool : byte { Nft, Iptables, Ip }

/// <summary>Where an exact path MTU came from.</summary>
public enum MtuSource : byte { None, Probe, Icmp }

/// <summary>
/// What is known about the path's MTU, in IP packet bytes (IP header included), for the direction whose large
/// packets are lost (sender → receiver).
/// </summary>
public sealed record MtuEvidence
{
    /// <summary>The largest IP packet proven to get through (acknowledged, or arrived at the receiver).</summary>
    public int? LargestDelivered { get; init; }
    /// <summary>The smallest IP packet proven lost (resent and never acknowledged at that size).</summary>
    public int? SmallestLost { get; init; }
    /// <summary>The exact path MTU when measured (<c>pathprobe probe</c>) or announced by ICMP
    /// fragmentation-needed / Packet Too Big; <see cref="ExactSource"/> says which.</summary>
    public int? ExactMtu { get; init; }
    public MtuSource ExactSource { get; init; }
    /// <summary>The hop that sent the ICMP too-big, when <see cref="ExactSource"/> is <see cref="MtuSource.Icmp"/>.</summary>
    public IpAddress? IcmpFrom { get; init; }
    /// <summary>The MSS the receiver advertised. A packet larger than it (plus headers) cannot have crossed a wire in
    /// one piece: it is segmentation offload on the capture host and is ignored as evidence.</summary>
    public int? AdvertisedMss { get; init; }
    /// <summary>Bytes of encapsulation (GRE 24, VXLAN 50, ...) between the TCP/IP packet and the link whose MTU
    /// <see cref="ExactMtu"/> names; subtracted from it. Sizes proven delivered are the TCP/IP packets themselves.</summary>
    public int Overhead { get; init; }
    /// <summary>The encapsulation the lost packets were seen in (a capture on a PPPoE link or a tunnel's underlay), or
    /// null. When the MTU it leaves on an Ethernet link (<see cref="LinkEncapsulation.InnerMtu"/>) lies between the
    /// largest size delivered and the smallest lost, that is the size the fixes use.</summary>
    public LinkEncapsulation? Link { get; init; }
}

/// <summary>An encapsulation the packets travel in and what it takes from the link's IP MTU: PPPoE 8 bytes, GRE over
/// IPv4 24, VXLAN over IPv4 50 (Decoding/Encapsulation's <c>MtuOverhead</c>).</summary>
/// <param name="Name">In words: "PPPoE", "GRE over IPv4", "VXLAN over IPv4" (Encapsulation.Describe).</param>
/// <param name="Layers">The layer names, outermost first ("ipv4", "gre").</param>
/// <param name="Overhead">Bytes it takes from the link's IP MTU.</param>
/// <param name="IpTunnel">It has an outer IP header (a tunnel across a network) rather than being a link's framing (PPPoE, MPLS).</param>
/// <param name="LinkMtu">The IP MTU of the link it runs on: 1500, Ethernet's.</param>
public sealed record LinkEncapsulation(string Name, IReadOnlyList<string> Layers, int Overhead, bool IpTunnel, int LinkMtu = 1500)
{
    /// <summary>The IP MTU left for the packets inside: 1492 for PPPoE, 1476 for GRE over IPv4, 1450 for VXLAN over IPv4.</summary>
    public int InnerMtu => LinkMtu - Overhead;

    /// <summary>"an" before names read letter by letter from a vowel sound ("an IPv4 in IPv6", "an MPLS over IPv4").</summary>
    private string Article => Name.Length > 0 && "AEIOUFHLMNRSX".Contains(Name[0]) ? "an" : "a";

    /// <summary>"this link is PPPoE: MTU 1492, MSS 1452" or "this path is a GRE over IPv4 tunnel: MTU 1476, MSS 1436".</summary>
    public string Sentence(bool v4) =>
        $"{(IpTunnel ? $"this path is {Article} {Name} tunnel" : $"this link is {Name}")}: MTU {InnerMtu}, MSS {InnerMtu - (v4 ? 40 : 60)} " +
        $"({Name} takes {Overhead} bytes of a {LinkMtu}-byte {(LinkMtu == 1500 ? "Ethernet " : "")}MTU)";
}

/// <summary>The input of <see cref="MtuFixGenerator"/>: who loses large packets toward whom, seen from where, and
/// the evidence. Senders and receivers are one address family.</summary>
public sealed record MtuFixRequest
{
    /// <summary>Where the evidence was taken (a capture at the sender or the receiver, a probe at the sender). The
    /// fixes at this place are listed first.</summary>
    public required FixSite Vantage { get; init; }
    /// <summary>The hosts whose large packets are lost (usually one: the SMTP client sending the message).</summary>
    public required IReadOnlyList<IpAddress> Senders { get; init; }
    /// <summary>The hosts those packets are for (usually one: the mail server).</summary>
    public required IReadOnlyList<IpAddress> Receivers { get; init; }
    public required MtuEvidence Evidence { get; init; }

    /// <summary>The request for a capture or probe taken at <paramref name="local"/>, which is the sender or the
    /// receiver (<paramref name="vantage"/>) of the lost packets; <paramref name="peer"/> is the other end.</summary>
    public static MtuFixRequest ForVantage(FixSite vantage, IpAddress local, IpAddress peer, MtuEvidence evidence) => new()
    {
        Vantage = vantage,
        Senders = new[] { vantage == FixSite.Receiver ? peer : local },
        Receivers = new[] { vantage == FixSite.Receiver ? local : peer },
        Evidence = evidence,
    };
}

/// <summary>
/// One fix for a path-MTU black hole: shell commands to run as-is (<c>sh -e</c>, as root) on the host <see cref="At"/>,
/// the commands that remove exactly what they added, what the fix does (<see cref="Does"/>), and what it rests on
/// (<see cref="Basis"/>: what it does, then why that size).
/// </summary>
public sealed record MtuFix(FixSite At, FixTool Tool, IReadOnlyList<string> Commands, IReadOnlyList<string> Undo, string Does, string Basis)
{
    /// <summary>The commands as one line to paste into a root shell.</summary>
    public string OneLine => string.Join(" && ", Commands);

    public static string SiteName(FixSite s) => s switch { FixSite.Sender => "sender", FixSite.Receiver => "receiver", _ => "router" };
    public static string ToolName(FixTool t) => t switch { FixTool.Nft => "nft", FixTool.Iptables => "iptables", _ => "ip" };
}

/// <summary>The generator's answer: the IP packet size the fixes hold the path to, the MSS that gives it, why that
/// size, and the fixes in the order to try them.</summary>
public sealed record MtuFixPlan(int PacketSize, int Mss, bool Exact, string SizeBasis, IReadOnlyList<MtuFix> Fixes)
{
    /// <summary>The encapsulation the evidence named (<see cref="MtuEvidence.Link"/>), or null.</summary>
    public LinkEncapsulation? Link { get; init; }
    /// <summary>The size is the MTU <see cref="Link"/> leaves on its link (it fits the evidence).</summary>
    public bool SizeFromLink { get; init; }

    /// <summary>The first fix at <paramref name="site"/> (nft when there is one).</summary>
    public MtuFix? First(FixSite site) => Fixes.FirstOrDefault(f => f.At == site);
}
