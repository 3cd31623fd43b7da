using System.Text.Json.Nodes;
using PathProbe.Probe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Probe.Tests;

/// <summary>
/// <c>pathprobe probe</c> run as a user would, in the client namespace of client — router — mail server (a real SMTP
/// server on port 25), against the five cases of issue 14. Every size it reports is checked against
/// <c>ping -M do -s</c> (<c>ping -6 -M do</c>) in the same test: that size passes and one byte more does not.
/// </summary>
public sealed class ProbeNamespaceTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pathprobe-probe-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string DropEchoRequests = """
        table inet pathprobe_test_echo {
          chain in {
            type filter hook input priority 0;
            icmp type echo-request drop
            icmpv6 type echo-request drop
          }
        }
        """;

    /// <summary>The router sends no ICMP too-big: the classic PMTUD black hole.</summary>
    private const string DropTooBig = """
        table inet pathprobe_test_icmp {
          chain out {
            type filter hook output priority 0;
            icmp type destination-unreachable icmp code frag-needed drop
            icmpv6 type packet-too-big drop
          }
        }
        """;

    private (int Exit, JsonObject Doc) Probe(Topology net, string target)
    {
        var start = DateTime.UtcNow;
        var (exit, doc) = PathProbeCli.Probe(net.Client, target, "--timeout", "0.5");
        output.WriteLine($"probe {target}: exit {exit}, {doc["probes"]!.AsArray().Count} probes, {(DateTime.UtcNow - start).TotalSeconds:0.0} s: " +
                         $"verdict {doc["verdict"]}, pathMtu {doc["pathMtu"]}, icmp {doc["icmp"]!.ToJsonString()}");
        output.WriteLine("  sizes: " + string.Join(" ", doc["probes"]!.AsArray().Select(p =>
            $"{p!["size"]}{((bool)p["arrived"]! ? "+" : p["icmp"] is JsonObject i ? $"!{i["mtu"]}" : "-")}{((string)p["method"]! == "tcp" ? "t" : "")}")));
        Assert.InRange(doc["probes"]!.AsArray().Count, 1, 64);
        return (exit, doc);
    }

    /// <summary>The reference: ping with don't-fragment, after flushing the client's cached path MTU.</summary>
    private static bool Ping(Topology net, string target, int ipSize)
    {
        bool v6 = target.Contains(':');
        Topology.Exec(net.Client, v6 ? "ip -6 route flush cache" : "ip route flush cache");
        int payload = ipSize - (v6 ? 48 : 28);
        var (exit, _, _) = Shell.Run("ip", ["netns", "exec", net.Client, "ping", v6 ? "-6" : "-4", "-n", "-M", "do", "-s", payload.ToString(),
            "-c", "2", "-i", "0.2", "-W", "1", target], check: false);
        return exit == 0;
    }

    private void AssertPingAgrees(Topology net, string target, int pathMtu)
    {
        Assert.True(Ping(net, target, pathMtu), $"ping -M do: a {pathMtu}-byte packet should reach {target}");
        Assert.False(Ping(net, target, pathMtu + 1), $"ping -M do: a {pathMtu + 1}-byte packet should not reach {target}");
        output.WriteLine($"ping -M do agrees: {pathMtu} passes, {pathMtu + 1} does not");
    }

    // (a) The router's interface toward the client has MTU 1400, the client's 1500: frames larger than the router's
    // interface takes are dropped on arrival, without ICMP (veth admits IP packets up to MTU + 4). Measured with ICMP
    // echo, and with TCP SYNs to the mail port when the server drops echo requests.
    [SkippableTheory]
    [InlineData(Topology.ServerV4, false)]
    [InlineData(Topology.ServerV4, true)]
    [InlineData(Topology.ServerV6, false)]
    public void MruBlackHole_ExactLargestPacketAndBlackHole(string target, bool echoFiltered)
    {
        Requires.MailNamespaces("ping");
        using var net = new Topology(routerClientMtu: 1400);
        _ = new MailServer(net, _dir);
        if (echoFiltered) Topology.Nft(net.Server, DropEchoRequests);

        var (exit, doc) = Probe(net, target);

        Assert.Equal(1, exit);
        Assert.Equal("black-hole", (string?)doc["verdict"]);
        Assert.True((bool)doc["blackHole"]!);
        Assert.False((bool)doc["icmp"]!["seen"]!);
        Assert.True((bool)doc["exact"]!);
        Assert.Equal(echoFiltered ? "tcp" : "icmp", (string?)doc["method"]);
        Assert.Equal("open", (string?)doc["port"]!["state"]);
        int mtu = (int)doc["pathMtu"]!;
        Assert.InRange(mtu, 1400, 1404);
        Assert.Equal(mtu + 1, (int)doc["smallestFailed"]!);
        Assert.Equal(1500, (int)doc["localMtu"]!);
        Assert.Equal(mtu - (target.Contains(':') ? 60 : 40), (int)doc["mss"]!);
        var fixes = PathProbeCli.Fixes(doc["fixes"]);
        Assert.Equal(["sender/nft", "sender/iptables", "sender/ip", "receiver/nft", "receiver/iptables", "receiver/ip", "router/nft", "router/iptables"],
            fixes.Select(f => f.ToString()));
        if (echoFiltered) Topology.Exec(net.Server, "nft delete table inet pathprobe_test_echo");
        AssertPingAgrees(net, target, mtu);
    }

    // (b) The router's next hop has MTU 1400 and the router says so: path-MTU discovery works.
    [SkippableFact]
    public void NextHopMtu_IcmpAllowed_AnnouncedMtuAndHop()
    {
        Requires.MailNamespaces("ping");
        using var net = new Topology(routerServerMtu: 1400, serverMtu: 1400);
        _ = new MailServer(net, _dir);

        var (exit, doc) = Probe(net, Topology.ServerV4);

        Assert.Equal(0, exit);
        Assert.Equal("icmp-announced", (string?)doc["verdict"]);
        Assert.False((bool)doc["blackHole"]!);
        Assert.Equal(1400, (int)doc["pathMtu"]!);
        Assert.True((bool)doc["exact"]!);
        Assert.True((bool)doc["icmp"]!["seen"]!);
        Assert.Equal(1400, (int)doc["icmp"]!["mtu"]!);
        Assert.Equal(Topology.RouterV4, (string?)doc["icmp"]!["from"]);
        Assert.Contains(doc["probes"]!.AsArray(), p => (string?)p!["icmp"]?["type"] == "frag-needed" && (int)p["icmp"]!["mtu"]! == 1400);
        Assert.Empty(doc["fixes"]!.AsArray());
        Assert.Equal("open", (string?)doc["port"]!["state"]);
        AssertPingAgrees(net, Topology.ServerV4, 1400);
    }

    // (c) The same path, but the router's ICMP fragmentation-needed is dropped by nftables: a black hole at 1400.
    [SkippableFact]
    public void NextHopMtu_IcmpFiltered_ExactSizeAndBlackHole()
    {
        Requires.MailNamespaces("ping");
        using var net = new Topology(routerServerMtu: 1400, serverMtu: 1400);
        _ = new MailServer(net, _dir);
        Topology.Nft(net.Router, DropTooBig);

        var (exit, doc) = Probe(net, Topology.ServerV4);

        Assert.Equal(1, exit);
        Assert.Equal("black-hole", (string?)doc["verdict"]);
        Assert.True((bool)doc["blackHole"]!);
        Assert.Equal(1400, (int)doc["pathMtu"]!);
        Assert.True((bool)doc["exact"]!);
        Assert.False((bool)doc["icmp"]!["seen"]!);
        Assert.Null(doc["icmp"]!["mtu"]);
        Assert.Equal(1360, (int)doc["mss"]!);
        AssertPingAgrees(net, Topology.ServerV4, 1400);
    }

    // (d) IPv6: Packet Too Big allowed (PMTUD works), then filtered on the router (black hole); 1280 respected.
    [SkippableFact]
    public void Ipv6_PacketTooBigAllowedThenFiltered()
    {
        Requires.MailNamespaces("ping");
        using var net = new Topology(routerServerMtu: 1400, serverMtu: 1400);
        _ = new MailServer(net, _dir);

        var (exit, doc) = Probe(net, Topology.ServerV6);
        Assert.Equal(0, exit);
        Assert.Equal("icmp-announced", (string?)doc["verdict"]);
        Assert.Equal(1400, (int)doc["pathMtu"]!);
        Assert.Equal(1400, (int)doc["icmp"]!["mtu"]!);
        Assert.Equal(Topology.RouterV6, (string?)doc["icmp"]!["from"]);
        Assert.Contains(doc["probes"]!.AsArray(), p => (string?)p!["icmp"]?["type"] == "packet-too-big");
        AssertPingAgrees(net, Topology.ServerV6, 1400);

        Topology.Nft(net.Router, DropTooBig);
        Topology.Exec(net.Client, "ip -6 route flush cache");
        (exit, doc) = Probe(net, Topology.ServerV6);
        Assert.Equal(1, exit);
        Assert.Equal("black-hole", (string?)doc["verdict"]);
        Assert.True((bool)doc["blackHole"]!);
        Assert.Equal(1400, (int)doc["pathMtu"]!);
        Assert.False((bool)doc["icmp"]!["seen"]!);
        Assert.Equal(1340, (int)doc["mss"]!);
        Assert.All(doc["probes"]!.AsArray(), p => Assert.InRange((int)p!["size"]!, 64, 1500));
        AssertPingAgrees(net, Topology.ServerV6, 1400);
    }

    // (e) A host that answers nothing (every packet dropped on arrival): unreachable, exit 2, a handful of probes.
    [SkippableFact]
    public void HostThatDoesNotAnswer_Unreachable()
    {
        Requires.MailNamespaces("ping");
        using var net = new Topology();
        _ = new MailServer(net, _dir);
        Topology.Nft(net.Server, """
            table inet pathprobe_test_silent {
              chain in {
                type filter hook input priority 0; policy drop;
              }
            }
            """);

        var (exit, doc) = Probe(net, Topology.ServerV4);

        Assert.Equal(2, exit);
        Assert.Equal("unreachable", (string?)doc["verdict"]);
        Assert.False((bool)doc["blackHole"]!);
        Assert.Null(doc["pathMtu"]);
        Assert.Null(doc["method"]);
        Assert.Empty(doc["fixes"]!.AsArray());
        Assert.All(doc["probes"]!.AsArray(), p => Assert.False((bool)p!["arrived"]!));
        Assert.Equal(4, doc["probes"]!.AsArray().Count); // two echo requests, two SYNs
        Assert.False(Ping(net, Topology.ServerV4, 84), "ping should get no answer either");
    }

    // The fix the probe prints, applied on the client, lets the stalled mail through; its undo restores the rules.
    [SkippableFact]
    public void MruBlackHole_FixTheProbePrints_DeliversTheStalledMail()
    {
        Requires.MailNamespaces("ping", "swaks");
        using var net = new Topology(routerClientMtu: 1400);
        var mail = new MailServer(net, _dir);
        Assert.False(mail.Send(net, Topology.ServerV4, 4, out _), "the mail with the attachment should stall in the black hole");

        var (_, doc) = Probe(net, Topology.ServerV4);
        var fix = PathProbeCli.Fixes(doc["fixes"]).First();
        Assert.Equal("sender/nft", fix.ToString());
        string before = Topology.Exec(net.Client, "nft list ruleset");
        Topology.Exec(net.Client, string.Join("\n", fix.Commands));
        Assert.True(mail.Send(net, Topology.ServerV4, 15, out var transcript), "the mail should be delivered with the fix:\n" + transcript[^Math.Min(600, transcript.Length)..]);
        Topology.Exec(net.Client, string.Join("\n", fix.Undo));
        Assert.Equal(before, Topology.Exec(net.Client, "nft list ruleset"));
    }
}
