using PathProbe.Flows;
using PathProbe.Flows.Tcp;
using PathProbe.Pipeline;
using PathProbe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Tests.CrossCheck;

/// <summary>
/// PathProbe's TCP expert analysis against tshark's on every bundled capture: per flow and direction, the counts of
/// each tcp.analysis.* kind must be equal.
/// </summary>
public sealed class TsharkTcpAnalysisTests(ITestOutputHelper output)
{
    /// <summary>The tshark fields compared, with the flag PathProbe counts for each.</summary>
    internal static readonly (string Field, TcpAnalysisFlags Kind)[] Kinds =
    {
        ("tcp.analysis.retransmission", TcpAnalysisFlags.Retransmission),
        ("tcp.analysis.fast_retransmission", TcpAnalysisFlags.FastRetransmission),
        ("tcp.analysis.spurious_retransmission", TcpAnalysisFlags.SpuriousRetransmission),
        ("tcp.analysis.out_of_order", TcpAnalysisFlags.OutOfOrder),
        ("tcp.analysis.duplicate_ack", TcpAnalysisFlags.DuplicateAck),
        ("tcp.analysis.lost_segment", TcpAnalysisFlags.LostPacket),
        ("tcp.analysis.ack_lost_segment", TcpAnalysisFlags.AckLostPacket),
        ("tcp.analysis.zero_window", TcpAnalysisFlags.ZeroWindow),
        ("tcp.analysis.zero_window_probe", TcpAnalysisFlags.ZeroWindowProbe),
        ("tcp.analysis.zero_window_probe_ack", TcpAnalysisFlags.ZeroWindowProbeAck),
        ("tcp.analysis.window_full", TcpAnalysisFlags.WindowFull),
        ("tcp.analysis.window_update", TcpAnalysisFlags.WindowUpdate),
        ("tcp.analysis.keep_alive", TcpAnalysisFlags.KeepAlive),
        ("tcp.analysis.keep_alive_ack", TcpAnalysisFlags.KeepAliveAck),
    };

    public static IEnumerable<object[]> Captures() => TsharkConversationTests.Captures();

    [SkippableTheory]
    [MemberData(nameof(Captures))]
    public void Analyze_BundledCapture_TcpAnalysisCountsEqualTshark(string name)
    {
        string? tshark = TestPaths.Tool("tshark");
        if (tshark is null) throw new SkipException($"tshark is not installed (apt-get install tshark); cross-check not run");
        string path = Path.Combine(TestPaths.Captures, name);
        var expected = TsharkCounts(tshark, path);
        var actual = PathProbeCounts(FileAnalyzer.Analyze(path));

        var mismatches = new List<string>();
        foreach (var key in expected.Keys.Union(actual.Keys).OrderBy(k => k))
        {
            expected.TryGetValue(key, out var e);
            actual.TryGetValue(key, out var a);
            e ??= new long[Kinds.Length];
            a ??= new long[Kinds.Length];
            for (int i = 0; i < Kinds.Length; i++)
            {
                if (e[i] != 0 || a[i] != 0) output.WriteLine($"{key} {Kinds[i].Field}: tshark {e[i]}, pathprobe {a[i]}");
                if (e[i] != a[i]) mismatches.Add($"{key} {Kinds[i].Field}: tshark {e[i]}, pathprobe {a[i]}");
            }
        }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    /// <summary>Key: "sender endpoint > receiver endpoint #occurrence" per direction of each conversation.</summary>
    internal static Dictionary<string, long[]> TsharkCounts(string tshark, string path)
    {
        var args = new List<string> { "-n", "-r", path, "-Y", "tcp && !icmp && !icmpv6", "-T", "fields", "-E", "separator=/t",
            "-E", "occurrence=l", // the innermost IP header of tunnelled packets
            "-e", "tcp.stream", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport" };
        foreach (var (field, _) in Kinds) { args.Add("-e"); args.Add(field); }
        var result = new Dictionary<string, long[]>();
        var streamEndpoints = new Dictionary<string, (string A, string B, int Occurrence)>();
        var occurrences = new Dictionary<string, int>();
        foreach (var line in TestPaths.RunTool(tshark, args.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var c = line.Split('\t');
            string src = (c[1].Length > 0 ? c[1] : c[2]) + ":" + c[3], dst = (c[4].Length > 0 ? c[4] : c[5]) + ":" + c[6];
            if (!streamEndpoints.TryGetValue(c[0], out var s))
            {
                string pair = string.CompareOrdinal(src, dst) < 0 ? src + "|" + dst : dst + "|" + src;
                int occ = occurrences.GetValueOrDefault(pair);
                occurrences[pair] = occ + 1;
                s = (src, dst, occ);
                streamEndpoints[c[0]] = s;
            }
            string key = $"{src} > {dst} #{s.Occurrence}";
            if (!result.TryGetValue(key, out var counts)) result[key] = counts = new long[Kinds.Length];
            for (int i = 0; i < Kinds.Length; i++) if (c[7 + i].Length > 0) counts[i]++;
        }
        return result;
    }

    internal static Dictionary<string, long[]> PathProbeCounts(CaptureAnalysis analysis)
    {
        var result = new Dictionary<string, long[]>();
        var occurrences = new Dictionary<string, int>();
        foreach (var f in analysis.Flows.Where(f => f.Protocol == FlowProtocol.Tcp).OrderBy(f => f.Id))
        {
            string cl = Plain(f.ClientEndpoint), sv = Plain(f.ServerEndpoint);
            string pair = string.CompareOrdinal(cl, sv) < 0 ? cl + "|" + sv : sv + "|" + cl;
            int occ = occurrences.GetValueOrDefault(pair);
            occurrences[pair] = occ + 1;
            Add(result, $"{cl} > {sv} #{occ}", f.Tcp!.Client.Counters, f.ClientToServer.Packets);
            Add(result, $"{sv} > {cl} #{occ}", f.Tcp!.Server.Counters, f.ServerToClient.Packets);
        }
        return result;
    }

    private static void Add(Dictionary<string, long[]> result, string key, TcpCounters k, long packets)
    {
        if (packets == 0) return;
        var counts = new long[Kinds.Length];
        for (int i = 0; i < Kinds.Length; i++) counts[i] = k.Get(Kinds[i].Kind);
        result[key] = counts;
    }

    private static string Plain(string endpoint) => endpoint.Replace("[", "").Replace("]", "");
}
