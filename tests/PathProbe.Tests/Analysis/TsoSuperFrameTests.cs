using PathProbe.Findings;
using PathProbe.Findings.Kinds;
using PathProbe.Pipeline;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Analysis;

/// <summary>
/// Offload super-frames (issue 13 item 7), on a real capture taken with TSO/GSO on at the sender
/// (Data/smtp-tso-superframe.pcap, recorded by Data/record-tso.sh in namespaces: an MRU black hole behind a router):
/// the client handed two 7,292-byte super-frames to its NIC and then resent the first segment's data as 1,500-byte
/// packets six times. The stall says exactly that, and no super-frame is used as a packet size on the wire: not in the
/// resend series, not in the MTU range, not in the MSS advice.
/// </summary>
public sealed class TsoSuperFrameTests
{
    private static CaptureAnalysis Analyze() =>
        FileAnalyzer.Analyze(Path.Combine(TestPaths.RepoRoot, "tests", "PathProbe.Tests", "Analysis", "Data", "smtp-tso-superframe.pcap"));

    [Fact]
    public void Analyze_TsoCapture_StallSaysSuperFrameThenWireSizedResends()
    {
        var a = Analyze();
        Assert.Equal(2, a.OffloadFrames);
        var stall = Assert.Single(a.Findings, f => f.Kind == FindingKind.Stall);
        Assert.Contains("resent the same data: a 7,292-byte TSO super-frame sent once, then resent as 1,500-byte segments 6 times", stall.Summary);
        var series = FindingJson.Evidence(stall).GetProperty("flows")[0].GetProperty("series");
        Assert.Equal(1500, series.GetProperty("ipPacketSize").GetInt32());
        Assert.Equal(1, series.GetProperty("superFrameSends").GetInt32());
        Assert.Equal(7292, series.GetProperty("superFrameSize").GetInt32());
        Assert.Equal(6, series.GetProperty("resends").GetInt32());
        var aborted = Assert.Single(a.Findings, f => f.Kind == FindingKind.SmtpAborted);
        Assert.Contains("a 7,292-byte TSO super-frame sent once, then resent as 1,500-byte segments 6 times", aborted.Summary);
    }

    [Fact]
    public void Analyze_TsoCapture_NoSuperFrameAsEvidenceOfAPacketSize()
    {
        var a = Analyze();
        var bh = Assert.Single(a.Findings, f => f.Kind == FindingKind.MtuBlackhole).Verdict<BlackHoleVerdict>();
        Assert.Equal(1500, bh.LostSize);
        Assert.Equal(1499, bh.Max);
        Assert.InRange(bh.Min, 576, 1499);
        Assert.NotNull(bh.Fixes);
        Assert.InRange(bh.Fixes!.Mss, 536, 1460);
        Assert.InRange(bh.Fixes.PacketSize, 576, 1500);
        foreach (var f in a.Findings.Where(f => f.Kind is FindingKind.MtuBlackhole or FindingKind.MssMismatch or FindingKind.RetransmissionStorm))
        {
            Assert.DoesNotContain("7,292", f.Summary);
            Assert.DoesNotContain("7292", f.Advice ?? "");
        }
        // The flow's longest series in the JSON gives the size on the wire too.
        var json = new MemoryStream();
        PathProbe.Reports.JsonReport.Write(json, [a]);
        using var doc = System.Text.Json.JsonDocument.Parse(json.ToArray());
        var flow = doc.RootElement.GetProperty("flows")[0];
        var longest = flow.GetProperty("tcp").GetProperty("c2s").GetProperty("longestRetransmissionSeries");
        Assert.Equal(1500, longest.GetProperty("ipPacketSize").GetInt32());
        Assert.Equal(1, longest.GetProperty("superFrameSends").GetInt32());
    }
}
