using System.Text;
using PathProbe.Analysis.Smtp;
using PathProbe.Capture;
using PathProbe.Findings.Kinds;
using PathProbe.Pipeline;
using PathProbe.Reports;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Analysis.Smtp;

/// <summary>
/// One fact, one number, when a black hole's numbers change after a session closed. The incident as it unfolds: a
/// first session toward the black-holed server got 1,004-byte packets through before it stalled and was reset
/// (<c>smtp-mru1424-timeout.pcap</c>: the server's 421 timeout, a smtp-deferral); a later one, probing, got 1,426-byte packets through
/// (<c>smtp-mru1424-probing-sender.pcap</c>, 30 s after the first ended). The mtu-blackhole finding says 1,426 at the
/// end; the first session's smtp-deferral finding and its <c>flows[].smtp.endDetail</c>, made when it closed, said 1,004
/// until they were given the black hole's final numbers.
/// </summary>
public sealed class SmtpBlackHoleNumbersTests
{
    private static string Merged()
    {
        string output = Path.Combine(Path.GetTempPath(), $"pathprobe-hole-{Environment.ProcessId}.pcap");
        var frames = new List<(long Time, byte[] Data, int Original)>();
        long shift = 0;
        foreach (var name in new[] { "smtp-mru1424-timeout.pcap", "smtp-mru1424-probing-sender.pcap" })
        {
            using var source = CaptureFile.Open(Path.Combine(TestPaths.Captures, name));
            long first = long.MinValue, last = 0;
            while (source.TryRead(out RawFrame f))
            {
                Assert.Equal(1, f.LinkType);
                if (first == long.MinValue) first = f.Time.UnixNanoseconds;
                long t = 1_800_000_000_000_000_000L + shift + (f.Time.UnixNanoseconds - first);
                frames.Add((t, f.Data.ToArray(), f.OriginalLength));
                last = t;
            }
            shift = last - 1_800_000_000_000_000_000L + 30_000_000_000L;
        }
        PcapFileWriter.Write(output, frames);
        return output;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void BlackHoleGrewAfterASessionClosed_EveryPlaceSaysTheFinalNumbers(int threads)
    {
        string path = Merged();
        try
        {
            var a = FileAnalyzer.Analyze(AnalysisInput.One(path), new AnalysisOptions(), null, threads: threads);
            var hole = Assert.Single(a.Findings, f => f.Name == "mtu-blackhole").Verdict<BlackHoleVerdict>();
            Assert.Equal(1426, hole.Min);
            Assert.Equal(1500, hole.LostSize);

            // The first session's server gave up waiting (421 4.4.2): its smtp-deferral names the black hole.
            var deferral = Assert.Single(a.Findings, f => f.Name == "smtp-deferral");
            var v = deferral.Verdict<SmtpFailureVerdict>();
            Assert.True(v.ServerTimeout);
            Assert.NotNull(v.BlackHole);
            Assert.Equal(1426, v.BlackHole!.Min);
            Assert.Contains("1,500-byte packets never get through, 1,426-byte ones do", TestText.Flat(deferral.Summary));
            Assert.DoesNotContain("1,004", deferral.Summary);

            var first = a.Flows.First(f => f.App is SmtpFlowState { EndDetail: not null } s && s.EndDetail.Contains("black hole"));
            Assert.Contains("1,426-byte ones do", ((SmtpFlowState)first.App!).EndDetail);

            var text = new StringWriter();
            TextReport.Write(text, [a]);
            using var json = new MemoryStream();
            JsonReport.Write(json, [a]);
            // The refreshed verdicts' JSON is still the published schema's.
            PathProbe.Tests.Reports.JsonSchemaTests.AssertValid(Encoding.UTF8.GetString(json.ToArray()));
            foreach (var report in new[] { TestText.Flat(text.ToString()), Encoding.UTF8.GetString(json.ToArray()) })
            {
                Assert.DoesNotContain("1,004-byte ones do", report);
                Assert.Contains("1,426-byte ones do", report);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
