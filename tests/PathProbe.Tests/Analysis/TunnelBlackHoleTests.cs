using PathProbe.Findings;
using PathProbe.Findings.Kinds;
using PathProbe.Pipeline;
using PathProbe.Reports;
using PathProbe.Tests.Golden;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Analysis;

/// <summary>
/// The MRU 1424 incident seen on a tunnel: captures/smtp-mru1424-sender.pcap with every frame wrapped in GRE, VXLAN or
/// PPPoE (<see cref="TunnelWrapper"/>; the wrapped files are committed as captures/smtp-mru1424-sender-KIND.pcap, so the
/// golden and tshark cross-check tests run on them too). The diagnosis must not change: the same findings with the same
/// numbers, the same path-MTU range, the same flows, and the encapsulation noted on each flow.
/// </summary>
public sealed class TunnelBlackHoleTests
{
    private static string Plain => Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap");
    private static string Wrapped(TunnelKind kind) => Path.Combine(TestPaths.Captures, $"smtp-mru1424-sender-{TunnelWrapper.Suffix(kind)}.pcap");

    [Theory]
    [InlineData(TunnelKind.Gre)]
    [InlineData(TunnelKind.Vxlan)]
    [InlineData(TunnelKind.Pppoe)]
    public void WrappedCapture_IsReproducible(TunnelKind kind)
    {
        byte[] built = TunnelWrapper.Wrap(Plain, kind);
        if (Environment.GetEnvironmentVariable("PATHPROBE_UPDATE_GOLDEN") == "1") File.WriteAllBytes(Wrapped(kind), built);
        Assert.True(File.Exists(Wrapped(kind)), $"{Wrapped(kind)} is missing: run PATHPROBE_UPDATE_GOLDEN=1 bash scripts/test.sh");
        Assert.Equal(File.ReadAllBytes(Wrapped(kind)), built);
    }

    [Theory]
    [InlineData(TunnelKind.Gre)]
    [InlineData(TunnelKind.Vxlan)]
    [InlineData(TunnelKind.Pppoe)]
    public void Analyze_BlackHoleInTunnel_SameVerdictAsPlain(TunnelKind kind)
    {
        var plain = FileAnalyzer.Analyze(Plain);
        var tunnelled = FileAnalyzer.Analyze(Wrapped(kind));
        var (layers, overhead) = TunnelWrapper.Expected(kind);

        // Every finding, with its classifying evidence and its summary, is the same (only the file name differs).
        Assert.Equal(GoldenFindingsTests.Render(plain).Split('\n').Skip(1), GoldenFindingsTests.Render(tunnelled).Split('\n').Skip(1));
        var hole = Assert.Single(tunnelled.Findings, f => f.Kind == FindingKind.MtuBlackhole);
        var plainHole = Assert.Single(plain.Findings, f => f.Kind == FindingKind.MtuBlackhole);
        Assert.Equal(Range(plainHole), Range(hole));
        Assert.Equal((1004, 1499), Range(hole));
        Assert.Equal(plainHole.Flows, hole.Flows);

        // What differs is the advice: the encapsulation's MTU (1500 less its overhead) lies in the proven range
        // 1004..1499, so the fixes hold the path to it (PPPoE 1492, GRE 1476, VXLAN 1450) and say why.
        var plan = hole.Verdict<BlackHoleVerdict>().Fixes!;
        var plainPlan = plainHole.Verdict<BlackHoleVerdict>().Fixes!;
        Assert.Null(plainPlan.Link);
        Assert.Equal(964, plainPlan.Mss);
        Assert.Equal(1500 - overhead, plan.PacketSize);
        Assert.Equal(1500 - overhead - 40, plan.Mss);
        Assert.True(plan.SizeFromLink);
        Assert.Equal(layers.Split('/'), plan.Link!.Layers);
        Assert.Equal(overhead, plan.Link.Overhead);
        Assert.EndsWith($"maxseg size set {plan.Mss}", BlackHoleWriter.FixCommand(hole.Verdict<BlackHoleVerdict>()));
        Assert.StartsWith(kind == TunnelKind.Pppoe
            ? "this link is PPPoE: MTU 1492, MSS 1452"
            : $"this path is a {(kind == TunnelKind.Gre ? "GRE" : "VXLAN")} over IPv4 tunnel: MTU {1500 - overhead}, MSS {1460 - overhead}", hole.Advice);
        var evidence = FindingJson.Evidence(hole);
        Assert.Equal(layers.Split('/'), evidence.GetProperty("encapsulation").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(overhead, evidence.GetProperty("encapsulationOverhead").GetInt32());
        Assert.Equal(1500 - overhead, evidence.GetProperty("innerMtu").GetInt32());
        Assert.False(FindingJson.Evidence(plainHole).TryGetProperty("innerMtu", out _));

        // The same flows, with the inner packets' sizes, and each direction noting the tunnel.
        Assert.Equal(plain.Flows.Count, tunnelled.Flows.Count);
        foreach (var (p, t) in plain.Flows.OrderBy(f => f.Id).Zip(tunnelled.Flows.OrderBy(f => f.Id)))
        {
            Assert.Equal(p.ClientEndpoint, t.ClientEndpoint);
            Assert.Equal(p.ServerEndpoint, t.ServerEndpoint);
            Assert.Equal(p.EndReason, t.EndReason);
            foreach (var (pd, td) in new[] { (p.ClientToServer, t.ClientToServer), (p.ServerToClient, t.ServerToClient) })
            {
                Assert.Equal(pd.Packets, td.Packets);
                Assert.Equal(pd.PayloadBytes, td.PayloadBytes);
                Assert.Equal(pd.MaxIpPacket, td.MaxIpPacket);
                Assert.Equal(pd.MaxSegment, td.MaxSegment);
                Assert.Equal(pd.Mss, td.Mss);
                Assert.Equal(layers, td.Encap.ToString());
                Assert.Equal(overhead, td.Encap.MtuOverhead);
                Assert.Equal(0, td.EncapChanges);
                // The tunnel packet's size is known too: the inner packet plus what an IP tunnel puts in front.
                Assert.Equal(kind == TunnelKind.Pppoe ? 0 : pd.MaxIpPacket + overhead, td.MaxOuterIpPacket);
            }
        }
        Assert.Equal(plain.Input.Packets, tunnelled.Decode.Decapsulated);
        Assert.Equal(0, tunnelled.Decode.MalformedTotal + tunnelled.Decode.UndecodedTotal);

        // The report says so: the Tunnels line and the flow table's ENCAP column.
        var text = new StringWriter();
        TextReport.Write(text, [tunnelled]);
        string report = text.ToString();
        Assert.Contains($"Tunnels    {plain.Input.Packets} packets decapsulated", report);
        Assert.Contains($"{layers} +{overhead}", report);
        Assert.Contains("PATH-MTU BLACK HOLE", report);
    }

    private static (int, int) Range(Finding f)
    {
        var v = f.Verdict<BlackHoleVerdict>();
        return (v.Min, v.Max);
    }
}
