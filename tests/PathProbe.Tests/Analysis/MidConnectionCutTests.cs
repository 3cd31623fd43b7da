using System.Buffers.Binary;
using PathProbe.Findings;
using PathProbe.Findings.Kinds;
using PathProbe.Pipeline;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Analysis;

/// <summary>
/// Captures that start mid-connection (issue 13 item 2): the bundled black-hole captures are cut at every packet from
/// the stalled flow's SYN on, and each cut must give the same verdict as the whole capture (an mtu-blackhole from the
/// same vantage with the same upper bound, a lower bound that is a real size, never 0, and an MSS in the advice that
/// is at least the family minimum) for as long as the cut still holds the evidence a black hole rests on: three
/// transmissions of the lost full-size segment (the sender's vantage; two sends can be a peer that went away), or the
/// packet that arrived beyond the missing data and the receiver's ACK (the receiver's). Later cuts must not give a
/// black hole with another bound. Benign lossy captures cut the same way must never give a black hole.
/// </summary>
public sealed class MidConnectionCutTests
{
    public static IEnumerable<object[]> BlackHoles() =>
        new[] { "smtp-mru1424-sender", "smtp-mru1424-timeout", "smtp-icmp-filtered", "smtp-retrans-storm-blackhole",
                "smtp-mru1424-probing-sender", "smtp-mru1424-receiver" }.Select(n => new object[] { n });

    public static IEnumerable<object[]> Benign() =>
        new[] { "smtp-random-loss", "smtp-zero-window", "smtp-healthy-ipv4", "smtp-healthy-ipv6", "smtp-icmp-too-big-ipv4",
                "smtp-icmp-too-big-ipv6", "smtp-552-size" }.Select(n => new object[] { n });

    [Theory]
    [MemberData(nameof(BlackHoles))]
    public void Analyze_BlackHoleCutAtEveryPacket_SameVerdict(string name)
    {
        var frames = Pcap.Read(Path.Combine(TestPaths.Captures, name + ".pcap"));
        var whole = BlackHole(FileAnalyzer.Analyze(Path.Combine(TestPaths.Captures, name + ".pcap")));
        Assert.NotNull(whole);
        var flow = whole!.Flows[0];
        var d = whole.Details[0];
        var sender = d.FromClient ? flow.Client : flow.Server;
        int syn = frames.FindIndex(f => f.Syn && !f.AckFlag && f.Src == flow.Client.Ip.ToString() && f.SrcPort == flow.Client.Port);
        Assert.True(syn >= 0, "the stalled flow's SYN is in the capture");
        int lastWithEvidence = whole.ReceiverVantage
            ? frames.FindLastIndex(f => f.Src == sender.Ip.ToString() && f.SrcPort == sender.Port && f.PayloadLength > 0)
            : LastCutWithResends(frames, sender, whole.LostSize, 3);
        Assert.True(lastWithEvidence > syn);

        var path = Path.Combine(Path.GetTempPath(), $"pp-cut-{Environment.ProcessId}-{name}.pcap");
        try
        {
            for (int k = syn; k < frames.Count; k++)
            {
                Pcap.Write(path, frames, k);
                var a = FileAnalyzer.Analyze(path);
                var v = BlackHole(a);
                string at = $"{name} cut before packet {k + 1} of {frames.Count}";
                if (k <= lastWithEvidence)
                {
                    Assert.True(v is not null, $"{at}: no mtu-blackhole");
                    Assert.Equal(whole.ReceiverVantage, v!.ReceiverVantage);
                    // The same upper bound, and a range that holds the whole capture's (a cut knows less, never more).
                    Assert.True(whole.Max == v.Max && v.Min <= whole.Min && v.Min >= (sender.Ip.IsV4 ? 576 : 1280),
                        $"{at}: {v.Min}..{v.Max}, the whole capture {whole.Min}..{whole.Max}");
                    Assert.True(v.Fixes is null || v.Fixes.Mss >= (sender.Ip.IsV4 ? 536 : 1220), $"{at}: MSS {v.Fixes?.Mss}");
                    var f = a.Findings.First(x => x.Kind == FindingKind.MtuBlackhole);
                    Assert.DoesNotContain("up to 0 bytes", f.Summary);
                    Assert.DoesNotContain("between 0 and", f.Summary);
                    // A capture that starts after the greeting does not say the session waits for it.
                    Assert.True(k <= syn + 3 || !a.Findings.Any(x => x.Summary.Contains("waiting for the server's greeting")),
                        $"{at}: {string.Join(" / ", a.Findings.Select(x => x.Summary))}");
                }
                else if (v is not null) Assert.True(v.Max >= whole.Max && v.Min <= whole.Min, $"{at}: {v.Min}..{v.Max}, the whole capture {whole.Min}..{whole.Max}");
            }
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [MemberData(nameof(Benign))]
    public void Analyze_BenignCaptureCutAtEveryPacket_NoBlackHole(string name)
    {
        var frames = Pcap.Read(Path.Combine(TestPaths.Captures, name + ".pcap"));
        var path = Path.Combine(Path.GetTempPath(), $"pp-cut-{Environment.ProcessId}-{name}.pcap");
        try
        {
            for (int k = 0; k < frames.Count; k++)
            {
                Pcap.Write(path, frames, k);
                var a = FileAnalyzer.Analyze(path);
                Assert.False(a.Findings.Any(f => f.Kind is FindingKind.MtuBlackhole or FindingKind.MssMismatch),
                    $"{name} cut before packet {k + 1}: {string.Join(" / ", a.Findings.Select(f => f.Summary))}");
            }
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Analyze_SenderCutAfterGreeting_PhaseUnknownNotWaitingForGreeting()
    {
        var frames = Pcap.Read(Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap"));
        var path = Path.Combine(Path.GetTempPath(), $"pp-cut-{Environment.ProcessId}-phase.pcap");
        try
        {
            // Packet 36 is the first of the message body after the 354 (see captures/README.md).
            Pcap.Write(path, frames, 35);
            var a = FileAnalyzer.Analyze(path);
            var bh = a.Findings.Single(f => f.Kind == FindingKind.MtuBlackhole);
            Assert.Contains("an unknown phase (capture started mid-session)", bh.Summary);
            Assert.Equal("unknown", FindingJson.Evidence(bh).GetProperty("flows")[0].GetProperty("position").GetProperty("phase").GetString());
            Assert.DoesNotContain(a.Findings, f => f.Summary.Contains("waiting for the server's greeting"));
        }
        finally { File.Delete(path); }
    }

    /// <summary>The last cut index that still leaves <paramref name="sends"/> transmissions of one range of the sender's
    /// data at <paramref name="size"/> bytes.</summary>
    private static int LastCutWithResends(List<Pcap.Frame> frames, Endpoint sender, int size, int sends)
    {
        var seen = new Dictionary<uint, int>();
        for (int i = frames.Count - 1; i >= 0; i--)
        {
            var f = frames[i];
            if (f.Src != sender.Ip.ToString() || f.SrcPort != sender.Port || f.IpLength != size || f.PayloadLength == 0) continue;
            seen[f.Seq] = seen.GetValueOrDefault(f.Seq) + 1;
            if (seen[f.Seq] >= sends) return i;
        }
        return -1;
    }

    private static BlackHoleVerdict? BlackHole(CaptureAnalysis a) =>
        a.Findings.FirstOrDefault(f => f.Kind == FindingKind.MtuBlackhole)?.Verdict<BlackHoleVerdict>();

    /// <summary>A classic pcap (Ethernet) read into frames with the TCP facts the cut rules need, and written back from
    /// any frame on.</summary>
    internal static class Pcap
    {
        internal sealed record Frame(byte[] Record, string Src, ushort SrcPort, uint Seq, bool Syn, bool AckFlag, int IpLength, int PayloadLength);

        public static byte[] Header = [];

        public static List<Frame> Read(string path)
        {
            var b = File.ReadAllBytes(path);
            Assert.Equal(0xa1b2c3d4u, BinaryPrimitives.ReadUInt32LittleEndian(b));
            Header = b[..24];
            var frames = new List<Frame>();
            int off = 24;
            while (off + 16 <= b.Length)
            {
                int incl = (int)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(off + 8));
                var rec = b[off..(off + 16 + incl)];
                frames.Add(Parse(rec, rec.AsSpan(16)));
                off += 16 + incl;
            }
            return frames;
        }

        private static Frame Parse(byte[] rec, ReadOnlySpan<byte> f)
        {
            int type = BinaryPrimitives.ReadUInt16BigEndian(f[12..]);
            var ip = f[14..];
            string src;
            int ipLen, ipHeader, proto;
            if (type == 0x0800)
            {
                ipHeader = (ip[0] & 15) * 4; ipLen = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]); proto = ip[9];
                src = new System.Net.IPAddress(ip[12..16]).ToString();
            }
            else if (type == 0x86dd)
            {
                ipHeader = 40; ipLen = 40 + BinaryPrimitives.ReadUInt16BigEndian(ip[4..]); proto = ip[6];
                src = new System.Net.IPAddress(ip[8..24]).ToString();
            }
            else return new Frame(rec, "", 0, 0, false, false, 0, 0);
            if (proto != 6) return new Frame(rec, src, 0, 0, false, false, ipLen, 0);
            var tcp = ip[ipHeader..];
            int tcpHeader = (tcp[12] >> 4) * 4;
            return new Frame(rec, src, BinaryPrimitives.ReadUInt16BigEndian(tcp), BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]),
                (tcp[13] & 0x02) != 0, (tcp[13] & 0x10) != 0, ipLen, ipLen - ipHeader - tcpHeader);
        }

        public static void Write(string path, List<Frame> frames, int from)
        {
            using var s = File.Create(path);
            s.Write(Header);
            for (int i = from; i < frames.Count; i++) s.Write(frames[i].Record);
        }
    }
}
