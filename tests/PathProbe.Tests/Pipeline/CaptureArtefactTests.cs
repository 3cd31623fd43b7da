using PathProbe.Capture;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Pipeline;

/// <summary>
/// Capture drops are not path loss (issue 13 item 6): the real black-hole capture rewritten as pcapng with interface
/// statistics blocks whose drop counters rise near the stall, or with a packet taken out that the receiver then
/// acknowledges, gives findings marked as possible capture artefacts, never critical; drops far from the stall leave
/// the black hole critical.
/// </summary>
public sealed class CaptureArtefactTests
{
    private static string Sender => Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap");

    /// <summary>Copies the sender capture into pcapng, leaving out packet numbers in <paramref name="skip"/> (1-based),
    /// with an ISB after packet <paramref name="isbAfter"/> (drop counter 0) and one at the end with
    /// <paramref name="dropped"/> kernel drops: the drop window runs between the two.</summary>
    private static string Craft(string name, long dropped, int isbAfter, params int[] skip)
    {
        string path = Path.Combine(Path.GetTempPath(), $"pp-artefact-{Environment.ProcessId}-{name}.pcapng");
        using var source = CaptureFile.Open(File.OpenRead(Sender), Sender);
        using var w = PcapNgWriter.Create(path);
        w.AddInterface(LinkTypes.Ethernet, 262_144, "veth0");
        int n = 0;
        Timestamp first = default, last = default;
        while (source.TryRead(out var f))
        {
            n++;
            if (n == 1) first = f.Time;
            last = f.Time;
            if (!skip.Contains(n)) w.WritePacket(0, f.Time, f.Data, f.OriginalLength);
            if (n == isbAfter)
                w.WriteInterfaceStatistics(0, new InterfaceStatistics { Time = f.Time, StartTime = first, EndTime = f.Time, Received = n, InterfaceDropped = 0, OsDropped = 0 });
        }
        if (dropped >= 0)
            w.WriteInterfaceStatistics(0, new InterfaceStatistics { Time = last, StartTime = first, EndTime = last, Received = n + dropped, InterfaceDropped = 0, OsDropped = dropped });
        return path;
    }

    [Fact]
    public void Analyze_IsbDropsAroundTheStall_FindingsMarkedNeverCritical()
    {
        // ISB after packet 35 (the 354, drops 0) and at the end (drops 12): the window covers the whole stall.
        string path = Craft("near", 12, 35);
        try
        {
            var a = FileAnalyzer.Analyze(path);
            Assert.Equal(12, a.Input.Drops!.Dropped);
            var bh = Assert.Single(a.Findings, f => f.Kind == FindingKind.MtuBlackhole);
            Assert.NotNull(bh.CaptureArtefact);
            Assert.Equal(12, bh.CaptureArtefact!.Dropped);
            Assert.Equal("pcapng interface statistics", bh.CaptureArtefact.DropSource);
            Assert.Equal(Severity.Warning, bh.Severity);
            Assert.DoesNotContain(a.Findings, f => f.Severity == Severity.Critical);
            var json = FindingJson.Evidence(bh); // the finding still carries its evidence
            Assert.Equal(1499, json.GetProperty("pathMtu").GetProperty("max").GetInt32());

            // The command line: the marks in text and JSON, and exit status 0 (no critical finding).
            var text = CliProcess.Run(["analyze", path]);
            Assert.Equal(0, text.Exit);
            Assert.Contains("possible capture artefact: the capture itself dropped 12 packets around then (pcapng interface statistics)", TestText.Flat(text.Stdout));
            var jsonRun = CliProcess.Run(["analyze", "--json", path]);
            Assert.Equal(0, jsonRun.Exit);
            using var doc = System.Text.Json.JsonDocument.Parse(jsonRun.Stdout);
            var f0 = doc.RootElement.GetProperty("findings").EnumerateArray().First(f => f.GetProperty("kind").GetString() == "mtu-blackhole");
            Assert.Equal(12, f0.GetProperty("captureArtefact").GetProperty("dropped").GetInt64());
            Assert.Equal("warning", f0.GetProperty("severity").GetString());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Analyze_IsbDropsFarFromTheStall_BlackHoleStaysCritical()
    {
        // The only drops happened before packet 2 (22 s of capture later the stall is still going): no window near
        // the black hole's first lost packet.
        string path = Path.Combine(Path.GetTempPath(), $"pp-artefact-{Environment.ProcessId}-far.pcapng");
        using (var source = CaptureFile.Open(File.OpenRead(Sender), Sender))
        using (var w = PcapNgWriter.Create(path))
        {
            w.AddInterface(LinkTypes.Ethernet, 262_144, "veth0");
            int n = 0;
            while (source.TryRead(out var f))
            {
                n++;
                w.WritePacket(0, f.Time, f.Data, f.OriginalLength);
                if (n == 1)
                {
                    var t0 = new Timestamp(f.Time.UnixNanoseconds - 10_000_000_000);
                    w.WriteInterfaceStatistics(0, new InterfaceStatistics { Time = t0, StartTime = t0, EndTime = t0, Received = 0, OsDropped = 0 });
                    w.WriteInterfaceStatistics(0, new InterfaceStatistics { Time = new Timestamp(t0.UnixNanoseconds + 1_000_000_000), EndTime = new Timestamp(t0.UnixNanoseconds + 1_000_000_000), Received = 50, OsDropped = 9 });
                }
            }
        }
        try
        {
            var a = FileAnalyzer.Analyze(path);
            Assert.Equal(9, a.Input.Drops!.Dropped);
            var bh = Assert.Single(a.Findings, f => f.Kind == FindingKind.MtuBlackhole);
            Assert.Null(bh.CaptureArtefact);
            Assert.Equal(Severity.Critical, bh.Severity);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Analyze_AckForUnseenData_FindingsOfThatFlowMarked()
    {
        // Packet 32 (the client's MAIL FROM in the stalled flow) left out: the server's ACK 33 acknowledges data the
        // capture never saw. No statistics blocks at all.
        string path = Craft("acked", -1, 0, 32);
        try
        {
            var a = FileAnalyzer.Analyze(path);
            Assert.Null(a.Input.Drops);
            Assert.True(a.AckedUnseen >= 1);
            var bh = Assert.Single(a.Findings, f => f.Kind == FindingKind.MtuBlackhole);
            Assert.NotNull(bh.CaptureArtefact);
            Assert.True(bh.CaptureArtefact!.AckedUnseen >= 1);
            Assert.Equal(0, bh.CaptureArtefact.Dropped);
            Assert.DoesNotContain(a.Findings, f => f.Severity == Severity.Critical);
            // The first flow (packets 1-21) lost nothing: its findings, if any, are not marked.
            Assert.All(a.Findings.Where(f => f.Flows.SequenceEqual([1])), f => Assert.Null(f.CaptureArtefact));
        }
        finally { File.Delete(path); }
    }
}
