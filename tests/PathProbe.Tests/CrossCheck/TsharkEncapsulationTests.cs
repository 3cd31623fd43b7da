using System.Globalization;
using PathProbe.Flows;
using PathProbe.Pipeline;
using PathProbe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Tests.CrossCheck;

/// <summary>
/// Captures others made of PPPoE, QinQ, MPLS, GRE, VXLAN, Geneve, ERSPAN and IP-in-IP traffic, against tshark: the
/// packet count, and per TCP and UDP conversation the frames in each direction (<c>tshark -q -z conv,tcp -z conv,udp</c>)
/// and the exact frame bytes (from per-packet fields, because the table rounds). tshark lists the UDP conversation a
/// VXLAN/Geneve/MPLS-in-UDP/GRE-in-UDP tunnel itself runs on as well as the conversations inside; PathProbe accounts
/// tunnelled packets to the inner flows only, so tunnel transport conversations are left out of tshark's side.
/// </summary>
/// <remarks>
/// The captures come from tcpdump's test suite in ../shared/corpus/tcpdump/tests (a test whose capture is not there is
/// skipped, saying so) and from any directory listed in <c>PATHPROBE_EXTRA_CAPTURES</c> (colon-separated; every
/// capture there in which tshark sees an encapsulation is checked). tshark is told that UDP 8472 is VXLAN, as
/// PathProbe assumes for a valid VXLAN header on the Linux default port.
/// </remarks>
public sealed class TsharkEncapsulationTests(ITestOutputHelper output)
{
    /// <summary>tcpdump's captures of the encapsulations PathProbe decodes (tests/ at the corpus commit).</summary>
    public static TheoryData<string> TcpdumpCaptures => new()
    {
        "802.1ad_QinQ.pcap", "pppoe.pcap", "pppoes.pcap", "pptp.pcap", "mpls-traceroute.pcap", "mpls-ldp-hello.pcap",
        "mpls-over-udp.pcap", "mpls-label-heapoverflow.pcap", "various_gre.pcap", "wccp_redirect_gre.pcap",
        "gre-heapoverflow-1.pcap", "gre-heapoverflow-2.pcap", "vxlan.pcap", "vxlan_port_8472.pcap", "geneve.pcap",
        "erspan-type-ii-1.pcap", "gso-ipv4-vxlan-ipv4.pcap", "gso-ipv6-vxlan-ipv6.pcap", "ipv4_tcp_http_xml.pcap",
        "bad-ipv4-version-pgm-heapoverflow.pcap",
    };

    [SkippableTheory]
    [MemberData(nameof(TcpdumpCaptures))]
    public void Analyze_TcpdumpEncapsulationCapture_MatchesTshark(string name)
    {
        string? corpus = TestPaths.Corpus;
        if (corpus is null) throw new SkipException("../shared/corpus is absent: the tcpdump captures cannot be checked");
        string path = Path.Combine(corpus, "tcpdump", "tests", name);
        if (!File.Exists(path))
            throw new SkipException($"{name} is not in ../shared/corpus/tcpdump/tests (the corpus holds a subset of tcpdump's tests/; " +
                                    "the file is in the-tcpdump-group/tcpdump at the corpus commit)");
        Check(path);
    }

    public static IEnumerable<object[]> ExtraCaptures()
    {
        string? dirs = Environment.GetEnvironmentVariable("PATHPROBE_EXTRA_CAPTURES");
        if (string.IsNullOrEmpty(dirs)) return [["(none: PATHPROBE_EXTRA_CAPTURES is not set)"]];
        return dirs.Split(':', StringSplitOptions.RemoveEmptyEntries).Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d)).Where(f => f.EndsWith(".pcap") || f.EndsWith(".pcapng"))
            .Order().Select(f => new object[] { f });
    }

    [SkippableTheory]
    [MemberData(nameof(ExtraCaptures))]
    public void Analyze_ExtraEncapsulationCapture_MatchesTshark(string path)
    {
        if (!File.Exists(path)) throw new SkipException("set PATHPROBE_EXTRA_CAPTURES=DIR[:DIR...] to check more captures of tunnels against tshark");
        string tshark = Tshark();
        string protocols = TestPaths.RunTool(tshark, "-n", "-r", path, "-T", "fields", "-e", "frame.protocols");
        if (!protocols.Split('\n').Any(IsEncapsulated)) throw new SkipException($"{Path.GetFileName(path)}: tshark sees no encapsulation in it");
        Check(path);
    }

    private static string Tshark() =>
        TestPaths.Tool("tshark") ?? throw new SkipException("tshark is not installed (apt-get install tshark); cross-check not run");

    /// <summary>tshark's protocol path has a layer PathProbe decapsulates.</summary>
    internal static bool IsEncapsulated(string frameProtocols)
    {
        var p = frameProtocols.Trim().Split(':');
        for (int i = 0; i < p.Length; i++)
        {
            if (p[i] is "vlan" or "ieee8021ad" or "mpls" or "pppoes" or "pppoed" or "gre" or "vxlan" or "geneve" or "erspan" or "cmd") return true;
            if (i > 0 && p[i - 1] is "ip" or "ipv6" && p[i] is "ip" or "ipv6") return true; // IP-in-IP (not ICMP quotes: icmp sits between)
        }
        return false;
    }

    private void Check(string path)
    {
        string tshark = Tshark();
        string[] decodeAs = ["-d", "udp.port==8472,vxlan"];
        var analysis = FileAnalyzer.Analyze(path);
        output.WriteLine($"{Path.GetFileName(path)}: {analysis.Input.Packets} packets; decoded {analysis.Decoded}, not IP {analysis.Decode.NotIp}, " +
                         $"malformed {analysis.Decode.MalformedTotal}, not decoded {analysis.Decode.UndecodedTotal}, decapsulated {analysis.Decode.Decapsulated}");

        long tsharkPackets = TestPaths.RunTool(tshark, ["-n", "-r", path, .. decodeAs, "-T", "fields", "-e", "frame.number"])
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).LongLength;
        Assert.Equal(tsharkPackets, analysis.Input.Packets);

        // The UDP conversations tunnels run on: every UDP header followed by VXLAN, Geneve, MPLS or GRE, at any depth.
        var tunnelTransport = new HashSet<string>();
        foreach (var line in Lines(TestPaths.RunTool(tshark, ["-n", "-r", path, .. decodeAs, "-Y", "vxlan || geneve || (udp && mpls) || (udp && gre)",
                     "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,", "-e", "frame.protocols",
                     "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "udp.srcport", "-e", "udp.dstport"])))
        {
            var c = line.Split('\t');
            string[] layers = c[0].Split(':'), v4Src = c[1].Split(','), v4Dst = c[2].Split(','), v6Src = c[3].Split(','), v6Dst = c[4].Split(',');
            string[] sport = c[5].Split(','), dport = c[6].Split(',');
            int v4 = -1, v6 = -1, udp = -1;
            bool lastV6 = false;
            for (int i = 0; i < layers.Length; i++)
            {
                switch (layers[i])
                {
                    case "ip": v4++; lastV6 = false; break;
                    case "ipv6": v6++; lastV6 = true; break;
                    case "udp":
                        udp++;
                        if (i + 1 < layers.Length && layers[i + 1] is "vxlan" or "geneve" or "mpls" or "gre")
                            tunnelTransport.Add(Pair((lastV6 ? v6Src[v6] : v4Src[v4]) + ":" + sport[udp], (lastV6 ? v6Dst[v6] : v4Dst[v4]) + ":" + dport[udp]));
                        break;
                }
            }
        }

        foreach (var (proto, flowProtocol) in new[] { ("tcp", FlowProtocol.Tcp), ("udp", FlowProtocol.Udp) })
        {
            var expected = new Dictionary<string, (long Left, long Right)>();
            foreach (var (key, conv) in TsharkConversationTests.ParseConvTcp(TestPaths.RunTool(tshark, ["-n", "-r", path, .. decodeAs, "-q", "-z", "conv," + proto])))
            {
                var ends = key.Split(" <-> ");
                string unified = Pair(ends[0], ends[1]);
                if (tunnelTransport.Contains(unified)) continue;
                expected[unified] = unified.StartsWith(ends[0] + " ", StringComparison.Ordinal)
                    ? (conv.FramesFromLeft, conv.FramesFromRight)
                    : (conv.FramesFromRight, conv.FramesFromLeft);
            }
            var actual = new Dictionary<string, (long Left, long Right)>();
            foreach (var f in analysis.Flows.Where(f => f.Protocol == flowProtocol))
            {
                string c = Plain(f.ClientEndpoint), s = Plain(f.ServerEndpoint), key = Pair(c, s);
                bool clientLeft = key.StartsWith(c + " ", StringComparison.Ordinal);
                actual.TryGetValue(key, out var v);
                actual[key] = clientLeft
                    ? (v.Left + f.ClientToServer.Packets, v.Right + f.ServerToClient.Packets)
                    : (v.Left + f.ServerToClient.Packets, v.Right + f.ClientToServer.Packets);
            }
            output.WriteLine($"  {proto}: tshark {string.Join(", ", expected.Select(kv => $"{kv.Key} {kv.Value}"))}");
            output.WriteLine($"  {proto}: pathprobe {string.Join(", ", actual.Select(kv => $"{kv.Key} {kv.Value}"))}");
            Assert.Equal(expected.OrderBy(kv => kv.Key), actual.OrderBy(kv => kv.Key));
        }

        // Exact frame bytes per direction: frames whose innermost transport is TCP or UDP (not ICMP errors quoting one).
        var exact = new Dictionary<string, long>();
        foreach (var line in Lines(TestPaths.RunTool(tshark, ["-n", "-r", path, .. decodeAs, "-Y", "(tcp || udp) && !icmp && !icmpv6",
                     "-T", "fields", "-E", "separator=/t", "-E", "occurrence=l", "-e", "frame.protocols", "-e", "ip.src", "-e", "ipv6.src",
                     "-e", "tcp.srcport", "-e", "udp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport", "-e", "udp.dstport", "-e", "frame.len"])))
        {
            var c = line.Split('\t');
            var layers = c[0].Split(':');
            int lastTcp = Array.LastIndexOf(layers, "tcp"), lastUdp = Array.LastIndexOf(layers, "udp");
            bool tcp = lastTcp > lastUdp;
            // A tunnel whose inside tshark did not take to a TCP/UDP header (ARP in VXLAN, ...): no flow on either side.
            if (!tcp && lastUdp + 1 < layers.Length && layers[lastUdp + 1] is "vxlan" or "geneve" or "mpls" or "gre") continue;
            // The innermost IP header decides which address fields hold it (IPv6 in IPv4 has both).
            bool v6 = Array.LastIndexOf(layers, "ipv6") > Array.LastIndexOf(layers, "ip");
            string src = (v6 ? c[2] : c[1]) + ":" + (tcp ? c[3] : c[4]), dst = (v6 ? c[6] : c[5]) + ":" + (tcp ? c[7] : c[8]);
            string k = (tcp ? "tcp " : "udp ") + src + " > " + dst;
            exact[k] = exact.GetValueOrDefault(k) + long.Parse(c[9], CultureInfo.InvariantCulture);
        }
        var ours = new Dictionary<string, long>();
        foreach (var f in analysis.Flows.Where(f => f.Protocol != FlowProtocol.Icmp))
        {
            string proto = f.Protocol == FlowProtocol.Tcp ? "tcp " : "udp ";
            string c2s = proto + Plain(f.ClientEndpoint) + " > " + Plain(f.ServerEndpoint), s2c = proto + Plain(f.ServerEndpoint) + " > " + Plain(f.ClientEndpoint);
            if (f.ClientToServer.FrameBytes > 0) ours[c2s] = ours.GetValueOrDefault(c2s) + f.ClientToServer.FrameBytes;
            if (f.ServerToClient.FrameBytes > 0) ours[s2c] = ours.GetValueOrDefault(s2c) + f.ServerToClient.FrameBytes;
        }
        Assert.Equal(exact.OrderBy(kv => kv.Key), ours.OrderBy(kv => kv.Key));
    }

    private static IEnumerable<string> Lines(string s) => s.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static string Plain(string endpoint) => endpoint.Replace("[", "").Replace("]", "");

    /// <summary>A conversation key independent of the order tshark or PathProbe lists its ends in.</summary>
    private static string Pair(string a, string b) => string.CompareOrdinal(a, b) <= 0 ? a + " <-> " + b : b + " <-> " + a;
}
