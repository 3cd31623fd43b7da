using PathProbe.Advice;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Advice;

/// <summary>The fix generator's rules: which size, never below the family's minimum, never from offload artefacts,
/// every command concrete and undone exactly. That the commands work is proven in namespaces
/// (tests/PathProbe.Probe.Tests/MtuFixNamespaceTests).</summary>
public sealed class MtuFixGeneratorTests
{
    private static readonly IpAddress Client = IpAddress.Parse("198.51.100.10"), Server = IpAddress.Parse("203.0.113.25");
    private static readonly IpAddress Client6 = IpAddress.Parse("2001:db8:1::10"), Server6 = IpAddress.Parse("2001:db8:2::25");

    private static MtuFixPlan Sender(MtuEvidence e, bool v6 = false) =>
        MtuFixGenerator.Generate(MtuFixRequest.ForVantage(FixSite.Sender, v6 ? Client6 : Client, v6 ? Server6 : Server, e));

    [Fact]
    public void LargestDelivered_GivesTheMssAndSaysHowToPinIt()
    {
        var plan = Sender(new MtuEvidence { LargestDelivered = 1004, SmallestLost = 1500 });
        Assert.Equal(1004, plan.PacketSize);
        Assert.Equal(964, plan.Mss);
        Assert.False(plan.Exact);
        Assert.Contains("between 1004 and 1499 bytes", plan.SizeBasis);
        Assert.Contains("`pathprobe probe 203.0.113.25` run on 198.51.100.10", plan.SizeBasis);
    }

    [Fact]
    public void ExactMtuFromTheProbe_WinsOverTheLowerBound()
    {
        var plan = Sender(new MtuEvidence { LargestDelivered = 1004, SmallestLost = 1500, ExactMtu = 1404, ExactSource = MtuSource.Probe });
        Assert.Equal(1404, plan.PacketSize);
        Assert.Equal(1364, plan.Mss);
        Assert.True(plan.Exact);
        Assert.Contains("measured exactly", plan.SizeBasis);
    }

    [Fact]
    public void ExactMtuFromIcmp_NamesTheHop_AndTunnelOverheadIsSubtracted()
    {
        var plan = Sender(new MtuEvidence { ExactMtu = 1500, ExactSource = MtuSource.Icmp, IcmpFrom = IpAddress.Parse("192.0.2.1"), Overhead = 24 });
        Assert.Equal(1476, plan.PacketSize);
        Assert.Equal(1436, plan.Mss);
        Assert.Contains("192.0.2.1 announced a 1500-byte MTU", plan.SizeBasis);
        Assert.Contains("less 24 bytes of encapsulation", plan.SizeBasis);
    }

    private static readonly LinkEncapsulation Pppoe = new("PPPoE", ["pppoe"], 8, IpTunnel: false);
    private static readonly LinkEncapsulation Gre = new("GRE over IPv4", ["ipv4", "gre"], 24, IpTunnel: true);
    private static readonly LinkEncapsulation Vxlan = new("VXLAN over IPv4", ["ipv4", "vxlan", "eth"], 50, IpTunnel: true);

    public static TheoryData<string, int, int> Links => new()
    {
        { "pppoe", 1492, 1452 }, { "gre", 1476, 1436 }, { "vxlan", 1450, 1410 },
    };

    private static LinkEncapsulation LinkOf(string name) => name switch { "pppoe" => Pppoe, "gre" => Gre, _ => Vxlan };

    [Theory]
    [MemberData(nameof(Links))]
    public void Encapsulation_InsideTheProvenRange_ItsMtuIsTheSize(string name, int size, int mss)
    {
        var plan = Sender(new MtuEvidence { LargestDelivered = 1004, SmallestLost = 1500, Link = LinkOf(name) });
        Assert.Equal(size, plan.PacketSize);
        Assert.Equal(mss, plan.Mss);
        Assert.True(plan.SizeFromLink);
        Assert.False(plan.Exact);
        Assert.Same(LinkOf(name), plan.Link);
        // Every fix uses it: the nft and iptables clamps, the route's locked MTU, the receiver's advmss.
        Assert.EndsWith($"tcp option maxseg size set {mss}", plan.First(FixSite.Sender)!.Commands[^1]);
        Assert.Contains($"--set-mss {mss}", plan.Fixes.Single(f => f.At == FixSite.Sender && f.Tool == FixTool.Iptables).Commands[0]);
        Assert.EndsWith($"mtu lock {size}", plan.Fixes.Single(f => f.At == FixSite.Sender && f.Tool == FixTool.Ip).Commands[0]);
        Assert.EndsWith($"advmss {mss}", plan.Fixes.Single(f => f.At == FixSite.Receiver && f.Tool == FixTool.Ip).Commands[0]);
        // The basis says what the size rests on, and the proven fallback.
        Assert.Contains($"MTU {size}, MSS {mss}", plan.SizeBasis);
        Assert.Contains("MSS 964 (1004-byte packets) is proven to get through", plan.SizeBasis);
        Assert.Contains("`pathprobe probe 203.0.113.25` run on 198.51.100.10", plan.SizeBasis);
        Assert.Contains($"MTU {size}", plan.Fixes.Single(f => f.At == FixSite.Router && f.Tool == FixTool.Nft).Does);
    }

    [Fact]
    public void Pppoe_SaysTheClassicSentence()
    {
        var plan = Sender(new MtuEvidence { LargestDelivered = 1004, SmallestLost = 1500, Link = Pppoe });
        Assert.StartsWith("this link is PPPoE: MTU 1492, MSS 1452 (PPPoE takes 8 bytes of a 1500-byte Ethernet MTU)", plan.SizeBasis);
        Assert.Contains("its PPPoE interface must have MTU 1492", plan.Fixes.Single(f => f.At == FixSite.Router && f.Tool == FixTool.Nft).Does);
        var v6 = Sender(new MtuEvidence { LargestDelivered = 1300, SmallestLost = 1500, Link = Pppoe }, v6: true);
        Assert.Equal(1432, v6.Mss); // 1492 - 40 - 20
        Assert.StartsWith("this link is PPPoE: MTU 1492, MSS 1432", v6.SizeBasis);
    }

    [Theory]
    [InlineData("IPv4 in IPv4", 20, "this path is an IPv4 in IPv4 tunnel: MTU 1480, MSS 1440")]
    [InlineData("MPLS over IPv4", 32, "this path is an MPLS over IPv4 tunnel: MTU 1468, MSS 1428")]
    [InlineData("GRE over IPv6", 44, "this path is a GRE over IPv6 tunnel: MTU 1456, MSS 1416")]
    public void IpTunnel_Sentence(string name, int overhead, string sentence)
    {
        var plan = Sender(new MtuEvidence { LargestDelivered = 1004, SmallestLost = 1500, Link = new(name, ["ipv4"], overhead, IpTunnel: true) });
        Assert.StartsWith(sentence, plan.SizeBasis);
    }

    [Fact]
    public void Encapsulation_FromTheReceiversVantage_SameSize()
    {
        var plan = MtuFixGenerator.Generate(MtuFixRequest.ForVantage(FixSite.Receiver, Server, Client,
            new MtuEvidence { LargestDelivered = 1004, SmallestLost = 1500, Link = Pppoe }));
        Assert.Equal(1452, plan.Mss);
        Assert.Equal(FixSite.Receiver, plan.Fixes[0].At);
        Assert.EndsWith("tcp option maxseg size set 1452", plan.Fixes[0].Commands[^1]);
    }

    [Fact]
    public void Encapsulation_ThatDoesNotExplainTheHole_TheEvidenceDecides()
    {
        // 1480-byte packets got through a GRE tunnel: its underlay carries more than 1500 bytes, so GRE is not the hole.
        var bigger = Sender(new MtuEvidence { LargestDelivered = 1480, SmallestLost = 1500, Link = Gre });
        Assert.Equal(1480, bigger.PacketSize);
        Assert.False(bigger.SizeFromLink);
        Assert.Contains("do not explain the hole: 1480-byte packets got through", bigger.SizeBasis);
        // 1400-byte packets are lost on a PPPoE link: a hop beyond has a smaller MTU than PPPoE's 1492.
        var smaller = Sender(new MtuEvidence { LargestDelivered = 1004, SmallestLost = 1400, Link = Pppoe });
        Assert.Equal(1004, smaller.PacketSize);
        Assert.False(smaller.SizeFromLink);
        Assert.Contains("1400-byte packets are lost, within the 1492 bytes it leaves", smaller.SizeBasis);
        // An exact MTU (ICMP, the probe) still wins: it was measured, the overhead is a rule.
        var exact = Sender(new MtuEvidence { LargestDelivered = 1004, SmallestLost = 1500, ExactMtu = 1400, ExactSource = MtuSource.Probe, Link = Pppoe });
        Assert.Equal(1400, exact.PacketSize);
        Assert.False(exact.SizeFromLink);
    }

    [Theory]
    [InlineData(null, 1280, 1220)]   // nothing proven: the IPv6 minimum
    [InlineData(1124, 1280, 1220)]   // below the minimum: raised
    [InlineData(1400, 1400, 1340)]
    public void Ipv6_NeverBelow1280(int? delivered, int size, int mss)
    {
        var plan = Sender(new MtuEvidence { LargestDelivered = delivered, SmallestLost = 1500 }, v6: true);
        Assert.Equal(size, plan.PacketSize);
        Assert.Equal(mss, plan.Mss);
        Assert.EndsWith($"maxseg size set {mss}", plan.First(FixSite.Sender)!.Commands[^1]);
        Assert.EndsWith($"mtu lock {size}", plan.Fixes.Single(f => f.At == FixSite.Sender && f.Tool == FixTool.Ip).Commands[0]);
    }

    [Fact]
    public void Ipv4_NothingProven_Uses576AndSaysItIsSmall()
    {
        // The offload incident: "packets up to 312 bytes get through" gave MSS 536 and "lower the MTU to 312".
        var plan = Sender(new MtuEvidence { LargestDelivered = 312, SmallestLost = 1500 });
        Assert.Equal(576, plan.PacketSize);
        Assert.Equal(536, plan.Mss);
        Assert.Contains("no packet larger than 312 bytes is proven", plan.SizeBasis);
        Assert.Contains("safe but small", plan.SizeBasis);
    }

    [Fact]
    public void OffloadArtefact_AboveTheAdvertisedMss_IsNoEvidence()
    {
        // A 7292-byte "delivered" super-frame cannot have crossed a wire whose receiver advertised MSS 1460.
        var plan = Sender(new MtuEvidence { LargestDelivered = 7292, AdvertisedMss = 1460 });
        Assert.Equal(576, plan.PacketSize);
        Assert.Contains("segmentation offload", plan.SizeBasis);
    }

    [Fact]
    public void Order_VantageFirst_NftThenIptablesThenIp()
    {
        var sender = Sender(new MtuEvidence { LargestDelivered = 1400 });
        Assert.Equal(["Sender/Nft", "Sender/Iptables", "Sender/Ip", "Receiver/Nft", "Receiver/Iptables", "Receiver/Ip", "Router/Nft", "Router/Iptables"],
            sender.Fixes.Select(f => $"{f.At}/{f.Tool}"));
        var receiver = MtuFixGenerator.Generate(MtuFixRequest.ForVantage(FixSite.Receiver, Server, Client, new MtuEvidence { LargestDelivered = 1400 }));
        Assert.Equal(FixSite.Receiver, receiver.Fixes[0].At);
        Assert.Equal(FixSite.Sender, receiver.Fixes[3].At);
    }

    [Fact]
    public void SenderFix_RewritesWhatThePeerAdvertises_NotTheSendersOwnSyn()
    {
        var fix = Sender(new MtuEvidence { LargestDelivered = 1400 }).First(FixSite.Sender)!;
        Assert.Equal(FixTool.Nft, fix.Tool);
        Assert.Equal(
        [
            "nft add table inet pathprobe",
            "nft add chain inet pathprobe mss_from_203_0_113_25 '{ type filter hook prerouting priority -150; policy accept; }'",
            "nft add rule inet pathprobe mss_from_203_0_113_25 ip saddr 203.0.113.25 ip daddr 198.51.100.10 'tcp flags & (syn | rst) == syn' tcp option maxseg size set 1360",
        ], fix.Commands);
        Assert.Equal(
        [
            "nft flush chain inet pathprobe mss_from_203_0_113_25",
            "nft delete chain inet pathprobe mss_from_203_0_113_25",
            "nft list table inet pathprobe | grep -q 'chain ' || nft delete table inet pathprobe",
        ], fix.Undo);
    }

    [Fact]
    public void ReceiverAndRouterFixes_OwnSynAckAndForwardedSyns()
    {
        var plan = Sender(new MtuEvidence { LargestDelivered = 1400 });
        var recvIpt = plan.Fixes.Single(f => f.At == FixSite.Receiver && f.Tool == FixTool.Iptables);
        Assert.Equal(["iptables -t mangle -I OUTPUT -s 203.0.113.25 -d 198.51.100.10 -p tcp --tcp-flags SYN,RST SYN -m comment --comment pathprobe -j TCPMSS --set-mss 1360"], recvIpt.Commands);
        Assert.Equal(["iptables -t mangle -D OUTPUT -s 203.0.113.25 -d 198.51.100.10 -p tcp --tcp-flags SYN,RST SYN -m comment --comment pathprobe -j TCPMSS --set-mss 1360"], recvIpt.Undo);
        var recvIp = plan.Fixes.Single(f => f.At == FixSite.Receiver && f.Tool == FixTool.Ip);
        Assert.EndsWith("proto 201 advmss 1360", recvIp.Commands[0]);
        Assert.StartsWith("ip route add 198.51.100.10/32 $(ip -o route get 198.51.100.10 | awk", recvIp.Commands[0]);
        Assert.Equal(["ip route del 198.51.100.10/32 proto 201"], recvIp.Undo);
        var sendIp = plan.Fixes.Single(f => f.At == FixSite.Sender && f.Tool == FixTool.Ip);
        Assert.EndsWith("proto 201 mtu lock 1400", sendIp.Commands[0]);
        var router = plan.Fixes.Where(f => f.At == FixSite.Router).ToList();
        Assert.EndsWith("'tcp flags & (syn | rst) == syn' tcp option maxseg size set rt mtu", router[0].Commands[^1]);
        Assert.Contains("--clamp-mss-to-pmtu", router[1].Commands[0]);
    }

    [Fact]
    public void Ipv6_UsesIp6FamilyIp6tablesAndHostRoutes()
    {
        var plan = Sender(new MtuEvidence { LargestDelivered = 1400 }, v6: true);
        string all = string.Join("\n", plan.Fixes.SelectMany(f => f.Commands.Concat(f.Undo)));
        Assert.Contains("ip6 saddr 2001:db8:2::25 ip6 daddr 2001:db8:1::10", all);
        Assert.Contains("ip6tables -t mangle -I PREROUTING -s 2001:db8:2::25 -d 2001:db8:1::10", all);
        Assert.Contains("ip -6 route add 2001:db8:2::25/128 $(ip -o -6 route get 2001:db8:2::25", all);
        Assert.DoesNotContain(" ip saddr", all);
    }

    [Fact]
    public void EveryFix_HasAConcreteUndoAndNoPlaceholder()
    {
        foreach (var plan in new[] { Sender(new MtuEvidence { LargestDelivered = 1004 }), Sender(new MtuEvidence(), v6: true) })
        foreach (var f in plan.Fixes)
        {
            Assert.NotEmpty(f.Commands);
            Assert.NotEmpty(f.Undo);
            foreach (var c in f.Commands.Concat(f.Undo))
            {
                Assert.DoesNotContain("PEER", c);
                Assert.DoesNotMatch(@"<[A-Za-z_]+>", c);
                Assert.DoesNotContain("IFACE", c);
            }
            Assert.StartsWith(f.Does, f.Basis);
        }
    }

    [Fact]
    public void ManySenders_ReceiverClampsTowardEveryHost_AndGivesNoRoutePerHost()
    {
        var senders = Enumerable.Range(1, 40).Select(i => IpAddress.Parse($"198.51.100.{i}")).ToList();
        var plan = MtuFixGenerator.Generate(new MtuFixRequest
        {
            Vantage = FixSite.Receiver, Senders = senders, Receivers = [Server], Evidence = new MtuEvidence { LargestDelivered = 1400 },
        });
        var nft = plan.First(FixSite.Receiver)!;
        Assert.Contains("mss_to_all", nft.Commands[1]);
        Assert.DoesNotContain("daddr", nft.Commands[2]);
        Assert.DoesNotContain(plan.Fixes, f => f.At == FixSite.Receiver && f.Tool == FixTool.Ip);
        var few = MtuFixGenerator.Generate(new MtuFixRequest
        {
            Vantage = FixSite.Receiver, Senders = senders.Take(3).ToList(), Receivers = [Server], Evidence = new MtuEvidence { LargestDelivered = 1400 },
        });
        Assert.Contains("ip daddr '{ 198.51.100.1, 198.51.100.2, 198.51.100.3 }'", few.First(FixSite.Receiver)!.Commands[2]);
        Assert.Equal(3, few.Fixes.Single(f => f.At == FixSite.Receiver && f.Tool == FixTool.Ip).Commands.Count);
    }

    [Fact]
    public void MixedFamilies_Rejected() =>
        Assert.Throws<ArgumentException>(() => MtuFixGenerator.Generate(MtuFixRequest.ForVantage(FixSite.Sender, Client, Server6, new MtuEvidence())));

    [Fact]
    public void BundledIncident_BlackHoleCarriesTheFixesAndNamesTheProbe()
    {
        var hole = FileAnalyzer.Analyze(Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap")).Findings.Single(f => f.Name == "mtu-blackhole");
        var fixes = PathProbe.Tests.Support.FindingJson.Evidence(hole).GetProperty("fixes");
        Assert.Equal(8, fixes.GetArrayLength());
        Assert.Equal("sender", fixes[0].GetProperty("at").GetString());
        Assert.Equal("nft", fixes[0].GetProperty("tool").GetString());
        var command = PathProbe.Tests.Support.FindingJson.Evidence(hole).GetProperty("fixCommand").GetString()!;
        Assert.EndsWith("ip saddr 203.0.113.25 ip daddr 198.51.100.10 'tcp flags & (syn | rst) == syn' tcp option maxseg size set 964", command);
        Assert.Contains("pin the exact size: `pathprobe probe 203.0.113.25`", hole.Advice);
        var mss = FileAnalyzer.Analyze(Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap")).Findings.Single(f => f.Name == "mss-mismatch");
        Assert.Contains("lower the MTU toward 203.0.113.25 to 1,004", mss.Advice);
    }
}
