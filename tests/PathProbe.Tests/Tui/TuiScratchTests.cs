using PathProbe.Cli.Tui.Model;
using PathProbe.Pipeline;
using PathProbe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Tests.Tui;

public sealed class TuiScratchTests(ITestOutputHelper output)
{
    [Fact]
    public void Dump()
    {
        var a = FileAnalyzer.Analyze(Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap"), new AnalysisOptions { Timelines = true });
        var s = FileTuiSource.FromAnalysis(a, "x");
        var d = FileTuiSource.Detail(a, s, 2)!;
        foreach (var p in d.Points)
            output.WriteLine($"{(p.End - d.Start) / 1e6,10:0.0} c2s seq {p.ClientToServer.SeqLow}-{p.ClientToServer.SeqHigh} ack {p.ClientToServer.AckHigh} win {p.ClientToServer.WindowEdge} sack {p.ClientToServer.SackLow}-{p.ClientToServer.SackHigh} ds {p.ClientToServer.DataSegments} r {p.ClientToServer.Retransmissions} rtt {p.ClientToServer.RttMaxMicros} ip {p.ClientToServer.MaxIpPacket}/{p.ClientToServer.MaxResentIpPacket}");
    }
}
