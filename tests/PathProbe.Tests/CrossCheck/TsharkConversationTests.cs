using System.Globalization;
using System.Text.RegularExpressions;
using PathProbe.Flows;
using PathProbe.Pipeline;
using PathProbe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Tests.CrossCheck;

/// <summary>
/// PathProbe's packet and flow accounting against tshark's on every bundled capture: total packets, per-TCP-conversation
/// frames and bytes in each direction (tshark -q -z conv,tcp), and IP fragment counts.
/// </summary>
public sealed partial class TsharkConversationTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Captures() =>
        TestPaths.BundledCaptures().Select(f => new object[] { Path.GetFileName(f) });

    [SkippableFact]
    public void BundledCaptures_Exist()
    {
        Assert.NotEmpty(TestPaths.BundledCaptures());
    }

    [SkippableTheory]
    [MemberData(nameof(Captures))]
    public void Analyze_BundledCapture_MatchesTsharkConversations(string name)
    {
        string? tshark = TestPaths.Tool("tshark");
        if (tshark is null) throw new SkipException($"tshark is not installed (apt-get install tshark); cross-check not run");
        string path = Path.Combine(TestPaths.Captures, name);

        var analysis = FileAnalyzer.Analyze(path);
        Assert.Null(analysis.Input.Error);

        // Total packets.
        long tsharkPackets = TestPaths.RunTool(tshark, "-n", "-r", path, "-T", "fields", "-e", "frame.number")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).LongLength;
        Assert.Equal(tsharkPackets, analysis.Input.Packets);

        // Per conversation: tshark prints "A <-> B  framesB>A bytesB>A  framesA>B bytesA>B ...".
        var expected = ParseConvTcp(TestPaths.RunTool(tshark, "-n", "-r", path, "-q", "-z", "conv,tcp"));
        var actual = new Dictionary<string, (long fromLeft, long bytesFromLeft, long fromRight, long bytesFromRight)>();
        foreach (var f in analysis.Flows.Where(f => f.Protocol == FlowProtocol.Tcp))
        {
            // Sum flows that share endpoints (port reuse), as tshark's conversation table does.
            string k1 = Key(f.ClientEndpoint, f.ServerEndpoint), k2 = Key(f.ServerEndpoint, f.ClientEndpoint);
            if (expected.ContainsKey(k2))
            {
                actual.TryGetValue(k2, out var v);
                actual[k2] = (v.fromLeft + f.ServerToClient.Packets, v.bytesFromLeft + f.ServerToClient.FrameBytes,
                              v.fromRight + f.ClientToServer.Packets, v.bytesFromRight + f.ClientToServer.FrameBytes);
            }
            else
            {
                actual.TryGetValue(k1, out var v);
                actual[k1] = (v.fromLeft + f.ClientToServer.Packets, v.bytesFromLeft + f.ClientToServer.FrameBytes,
                              v.fromRight + f.ServerToClient.Packets, v.bytesFromRight + f.ServerToClient.FrameBytes);
            }
        }
        Assert.Equal(expected.Keys.OrderBy(k => k), actual.Keys.OrderBy(k => k));
        foreach (var (k, e) in expected)
        {
            var a = actual[k];
            output.WriteLine($"{k}: tshark {e.FramesFromLeft}/{e.BytesFromLeft} <-> {e.FramesFromRight}/{e.BytesFromRight}; pathprobe {a.fromLeft}/{a.bytesFromLeft} <-> {a.fromRight}/{a.bytesFromRight}");
            Assert.Equal(e.FramesFromLeft, a.fromLeft);
            Assert.Equal(e.FramesFromRight, a.fromRight);
            Assert.True(e.BytesFromLeft.Matches(a.bytesFromLeft), $"{k} bytes left->right: tshark {e.BytesFromLeft}, pathprobe {a.bytesFromLeft}");
            Assert.True(e.BytesFromRight.Matches(a.bytesFromRight), $"{k} bytes right->left: tshark {e.BytesFromRight}, pathprobe {a.bytesFromRight}");
        }

        // Exact bytes per direction from tshark's per-packet fields (the conversation table rounds large counts).
        var exact = new Dictionary<string, long>();
        foreach (var line in TestPaths.RunTool(tshark, "-n", "-r", path, "-Y", "tcp && !icmp && !icmpv6", "-T", "fields", "-E", "separator=/t",
                     "-E", "occurrence=l", // the innermost IP header of tunnelled packets
                     "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport", "-e", "frame.len")
                     .Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var c = line.Split('\t');
            string from = (c[0].Length > 0 ? c[0] : c[1]) + ":" + c[2], to = (c[3].Length > 0 ? c[3] : c[4]) + ":" + c[5];
            exact[from + " > " + to] = exact.GetValueOrDefault(from + " > " + to) + long.Parse(c[6], CultureInfo.InvariantCulture);
        }
        var ours = new Dictionary<string, long>();
        foreach (var f in analysis.Flows.Where(f => f.Protocol == FlowProtocol.Tcp))
        {
            string c2s = Plain(f.ClientEndpoint) + " > " + Plain(f.ServerEndpoint), s2c = Plain(f.ServerEndpoint) + " > " + Plain(f.ClientEndpoint);
            if (f.ClientToServer.FrameBytes > 0) ours[c2s] = ours.GetValueOrDefault(c2s) + f.ClientToServer.FrameBytes;
            if (f.ServerToClient.FrameBytes > 0) ours[s2c] = ours.GetValueOrDefault(s2c) + f.ServerToClient.FrameBytes;
        }
        Assert.Equal(exact.OrderBy(kv => kv.Key), ours.OrderBy(kv => kv.Key));

        // Fragments: frames carrying an IPv4 or IPv6 fragment (not the quoted headers inside ICMP errors),
        // and datagrams tshark reassembled.
        long tsharkFragments = CountFrames(tshark, path, "(ip.flags.mf == 1 || ip.frag_offset > 0 || ipv6.fraghdr.more == 1 || ipv6.fraghdr.offset > 0) && !icmp && !icmpv6");
        long tsharkReassembled = CountFrames(tshark, path, "(ip.fragment.count || ipv6.fragment.count) && !icmp && !icmpv6");
        output.WriteLine($"fragments: tshark {tsharkFragments} (reassembled {tsharkReassembled}); pathprobe {analysis.Fragments.Fragments} (reassembled {analysis.Fragments.Completed})");
        Assert.Equal(tsharkFragments, analysis.Fragments.Fragments);
        Assert.Equal(tsharkReassembled, analysis.Fragments.Completed);
    }

    private static long CountFrames(string tshark, string path, string filter) =>
        TestPaths.RunTool(tshark, "-n", "-r", path, "-Y", filter, "-T", "fields", "-e", "frame.number")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).LongLength;

    /// <summary>tshark writes IPv6 endpoints without brackets ("2001:db8::25:25"); PathProbe with them.</summary>
    private static string Key(string left, string right) => Plain(left) + " <-> " + Plain(right);

    private static string Plain(string endpoint) => endpoint.Replace("[", "").Replace("]", "");

    /// <summary>A byte count as tshark prints it: exact ("2886 bytes") or rounded to a unit ("12 kB").</summary>
    public readonly record struct TsharkBytes(double Value, long Unit)
    {
        /// <summary>tshark 4.0 truncates to the unit ("292 kB" for 292601 bytes); newer versions may round.</summary>
        public bool Matches(long actual) => Unit == 1 ? actual == (long)Value : actual >= (Value - 1) * Unit && actual < (Value + 1) * Unit;
        public override string ToString() => Unit == 1 ? $"{Value} bytes" : $"{Value}×{Unit}";
    }

    public sealed record Conversation(long FramesFromLeft, TsharkBytes BytesFromLeft, long FramesFromRight, TsharkBytes BytesFromRight);

    [GeneratedRegex(@"^(\S+)\s+<->\s+(\S+)\s+(\d[\d,]*)\s+([\d.,]+)\s+(bytes|kB|MB|GB)\s+(\d[\d,]*)\s+([\d.,]+)\s+(bytes|kB|MB|GB)\s")]
    private static partial Regex ConvLine();

    internal static Dictionary<string, Conversation> ParseConvTcp(string text)
    {
        var result = new Dictionary<string, Conversation>();
        foreach (var line in text.Split('\n'))
        {
            var m = ConvLine().Match(line);
            if (!m.Success) continue;
            // Columns: "<-" (right to left) first, then "->" (left to right).
            var conv = new Conversation(
                FramesFromLeft: long.Parse(m.Groups[6].Value.Replace(",", ""), CultureInfo.InvariantCulture),
                BytesFromLeft: ParseBytes(m.Groups[7].Value, m.Groups[8].Value),
                FramesFromRight: long.Parse(m.Groups[3].Value.Replace(",", ""), CultureInfo.InvariantCulture),
                BytesFromRight: ParseBytes(m.Groups[4].Value, m.Groups[5].Value));
            string key = Key(m.Groups[1].Value, m.Groups[2].Value);
            if (result.TryGetValue(key, out var prev))
                throw new InvalidOperationException($"conversation {key} listed twice; sum not supported for rounded units");
            result[key] = conv;
        }
        return result;
    }

    private static TsharkBytes ParseBytes(string number, string unit) => new(
        double.Parse(number.Replace(",", ""), CultureInfo.InvariantCulture),
        unit switch { "kB" => 1000, "MB" => 1_000_000, "GB" => 1_000_000_000, _ => 1 });
}
