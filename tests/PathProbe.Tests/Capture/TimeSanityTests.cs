using System.Buffers.Binary;
using PathProbe.Capture;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Reports;
using PathProbe.Tests.Analysis.Dns;
using static PathProbe.Tests.Capture.CaptureTestHelpers;

namespace PathProbe.Tests.Capture;

/// <summary>Issue 15 item 5: if_tsoffset values that cannot describe a clock, times at the ends of the range, and a
/// direction that sent nothing.</summary>
public class TimeSanityTests
{
    private const ulong Seconds2027 = 1_800_000_000UL;

    private static byte[] TsOffset(long seconds)
    {
        var v = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(v, seconds);
        return v;
    }

    /// <summary>One interface (µs) with <paramref name="offset"/>, one packet at <paramref name="micros"/>.</summary>
    private static byte[] Capture(long offset, ulong micros)
    {
        var b = new CaptureBytes(false);
        return b.Shb().Idb(1, 0, b.Opt(14, TsOffset(offset)), b.EndOpt()).Epb(0, micros, new byte[60]).Epb(0, micros + 1_000_000, new byte[60]).ToArray();
    }

    [Fact]
    public void TryRead_NegativeTsOffsetOnRealClock_IsApplied()
    {
        var (frames, _, info) = ReadBytes(Capture(-1000, Seconds2027 * 1_000_000));
        Assert.Equal((long)(Seconds2027 - 1000) * 1_000_000_000, frames[0].Nanos);
        Assert.Equal(0, info.LimitsHit.TimestampOffsetsIgnored);
        Assert.False(info.Interfaces[0].TimestampOffsetIgnored);
    }

    [Fact]
    public void TryRead_TsOffsetPuttingPacketsBefore1970_IsIgnoredAndCounted()
    {
        // 500 s of ticks and an offset of -1000 s: the packets would lie in 1969.
        var (frames, end, info) = ReadBytes(Capture(-1000, 500_000_000));
        Assert.True(end.IsClean);
        Assert.Equal(500L * 1_000_000_000, frames[0].Nanos);
        Assert.Equal(501L * 1_000_000_000, frames[1].Nanos);
        Assert.Equal(1, info.LimitsHit.TimestampOffsetsIgnored);
        Assert.Equal(-1000, info.LimitsHit.FirstIgnoredTimestampOffset);
        Assert.True(info.Interfaces[0].TimestampOffsetIgnored);
        Assert.Contains(info.LimitsHit.Describe(info.Limits), d => d.StartsWith("if_tsoffset ignored on 1 interface (first: -1,000 s)"));
    }

    [Theory]
    [InlineData(long.MinValue)]
    [InlineData(long.MaxValue)]
    [InlineData(-(1L << 40))]
    [InlineData(1L << 40)]
    public void TryRead_AbsurdTsOffset_IsIgnoredAndCounted(long offset)
    {
        var (frames, _, info) = ReadBytes(Capture(offset, Seconds2027 * 1_000_000));
        Assert.Equal((long)Seconds2027 * 1_000_000_000, frames[0].Nanos);
        Assert.Equal(1, info.LimitsHit.TimestampOffsetsIgnored);
        Assert.Equal(offset, info.LimitsHit.FirstIgnoredTimestampOffset);
    }

    [Fact]
    public void Analyze_TsOffsetBefore1970_ReportSaysSoAndFlowsDoNotEndIn1970()
    {
        // A UDP exchange one way only, its times pushed before 1970 by the offset if it were believed.
        byte[] udp = DnsTestPackets.Udp("192.0.2.1", 4000, "192.0.2.2", 9, new byte[8]);
        var b = new CaptureBytes(false);
        b.Shb().Idb(LinkTypes.Raw, 0, b.Opt(14, TsOffset(-1000)), b.EndOpt()).Epb(0, 500_000_000, udp).Epb(0, 501_000_000, udp);
        string path = Path.Combine(Path.GetTempPath(), $"pathprobe-tsoffset-{Environment.ProcessId}-{Guid.NewGuid():N}.pcapng");
        File.WriteAllBytes(path, b.ToArray());
        try
        {
            var a = FileAnalyzer.Analyze(path);
            var flow = Assert.Single(a.Flows);
            Assert.Equal(501L * 1_000_000_000, flow.End.UnixNanoseconds);
            var text = new StringWriter();
            TextReport.Write(text, [a]);
            Assert.Contains("limit: if_tsoffset ignored on 1 interface (first: -1,000 s)", text.ToString());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void FlowEnd_DirectionThatSentNothing_NeverSetsTheTime()
    {
        // Times before 1970 (a negative offset believed by another tool, or hand-made frames): the silent direction's
        // zero must not be the flow's end.
        var e = new Engine();
        byte[] udp = DnsTestPackets.Udp("192.0.2.1", 4000, "192.0.2.2", 9, new byte[8]);
        foreach (long t in new[] { -2_000_000_000L, -1_000_000_000L })
        {
            var frame = new RawFrame(udp, udp.Length, new Timestamp(t), LinkTypes.Raw, 0);
            e.Process(in frame);
        }
        var a = e.Complete(new InputSummary { Path = "t" });
        var flow = Assert.Single(a.Flows);
        Assert.Equal(-2_000_000_000L, flow.Start.UnixNanoseconds);
        Assert.Equal(-1_000_000_000L, flow.End.UnixNanoseconds);
        Assert.Equal(0, flow.ServerToClient.Packets);
    }

    [Fact]
    public void TextReport_Int64MinTimestamp_DurationsReadAsSeconds()
    {
        var e = new Engine();
        byte[] udp = DnsTestPackets.Udp("192.0.2.1", 4000, "192.0.2.2", 9, new byte[8]);
        foreach (long t in new[] { long.MinValue, long.MaxValue })
        {
            var frame = new RawFrame(udp, udp.Length, new Timestamp(t), LinkTypes.Raw, 0);
            e.Process(in frame);
        }
        var input = new InputSummary { Path = "t", Format = "pcap", FirstTime = new Timestamp(long.MinValue), LastTime = new Timestamp(long.MaxValue) };
        var a = e.Complete(input);
        var text = new StringWriter();
        TextReport.Write(text, [a]);
        string report = text.ToString();
        Assert.DoesNotContain("-9223372036854780 µs", report);
        Assert.DoesNotContain("µs", report);
        Assert.Equal("-1.0 ms", TextReport.Seconds(-1_000_000));   // the report's one duration format (FindingText.Sec)
        Assert.Equal("-2562047 h 47 min", TextReport.Seconds(long.MinValue));
        Assert.Equal(long.MaxValue, TextReport.Between(new Timestamp(long.MinValue), new Timestamp(long.MaxValue)));
    }
}
