using PathProbe.Capture;
using static PathProbe.Tests.Capture.CaptureTestHelpers;

namespace PathProbe.Tests.Capture;

public class PcapReaderTests
{
    // File header (24 bytes) + one record: ts 1.000002 s (µs) / 1.000000002 s (ns), caplen 4, len 60, data de ad be ef.
    [Theory]
    [InlineData("LE µs", "d4c3b2a1 0200 0400 00000000 00000000 ffff0000 01000000 01000000 02000000 04000000 3c000000 deadbeef", false, 1_000_002_000L)]
    [InlineData("BE µs", "a1b2c3d4 0002 0004 00000000 00000000 0000ffff 00000001 00000001 00000002 00000004 0000003c deadbeef", true, 1_000_002_000L)]
    [InlineData("LE ns", "4d3cb2a1 0200 0400 00000000 00000000 ffff0000 01000000 01000000 02000000 04000000 3c000000 deadbeef", false, 1_000_000_002L)]
    [InlineData("BE ns", "a1b23c4d 0002 0004 00000000 00000000 0000ffff 00000001 00000001 00000002 00000004 0000003c deadbeef", true, 1_000_000_002L)]
    public void TryRead_HexVector_ReturnsFrame(string label, string hex, bool bigEndian, long nanos)
    {
        var (frames, end, info) = ReadBytes(Convert.FromHexString(hex.Replace(" ", "")));

        var f = Assert.Single(frames);
        Assert.Equal(new byte[] { 0xde, 0xad, 0xbe, 0xef }, f.Data);
        Assert.Equal(60, f.OriginalLength);
        Assert.Equal(nanos, f.Nanos);
        Assert.Equal(LinkTypes.Ethernet, f.LinkType);
        Assert.Equal(SourceEndKind.EndOfInput, end.Kind);
        Assert.Equal(bigEndian, info.BigEndian);
        Assert.Equal("pcap", info.Format);
        Assert.Equal(65535, info.SnapLength);
        Assert.Equal(label.EndsWith("ns") ? "nanoseconds" : "microseconds", info.TimestampResolution);
        Assert.Equal(LinkTypes.Ethernet, Assert.Single(info.Interfaces).LinkType);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TryRead_ManyFramesSmallBuffer_DeliversAllInOrder(bool bigEndian)
    {
        var b = new CaptureBytes(bigEndian).PcapHeader(snaplen: 2000);
        for (int i = 0; i < 200; i++)
            b.PcapRecord((uint)i, (uint)i, CaptureBytes.Bytes(1 + i * 7 % 300, (byte)i));

        var (frames, end, _) = ReadBytes(b.ToArray(), bufferSize: 64);

        Assert.Equal(200, frames.Count);
        for (int i = 0; i < 200; i++)
        {
            Assert.Equal(CaptureBytes.Bytes(1 + i * 7 % 300, (byte)i), frames[i].Data);
            Assert.Equal(i * 1_000_000_000L + i * 1000L, frames[i].Nanos);
        }
        Assert.True(end.IsClean);
    }

    [Fact]
    public void TryRead_CapLenBelowLen_ReportsTruncatedFrame()
    {
        var b = new CaptureBytes(false).PcapHeader(snaplen: 64).PcapRecord(5, 0, CaptureBytes.Bytes(64), origLen: 1514);

        var (frames, _, info) = ReadBytes(b.ToArray());

        Assert.Equal(64, frames[0].Data.Length);
        Assert.Equal(1514, frames[0].OriginalLength);
        Assert.Equal(64, info.SnapLength);
    }

    [Fact]
    public void TryRead_LinkTypeWithFcsBits_MasksToLow16Bits()
    {
        // FCS length 2 (bits 28-31) and F bit (27) set above LINKTYPE_ETHERNET.
        var b = new CaptureBytes(false).PcapHeader(linkType: 0x2800_0001).PcapRecord(0, 0, [1, 2]);

        var (frames, _, info) = ReadBytes(b.ToArray());

        Assert.Equal(LinkTypes.Ethernet, frames[0].LinkType);
        Assert.Equal(LinkTypes.Ethernet, info.Interfaces[0].LinkType);
    }

    [Fact]
    public void TryRead_CapLenAboveMaximum_EndsCorruptAtRecord()
    {
        var b = new CaptureBytes(false).PcapHeader(snaplen: 65535).PcapRecord(0, 0, [1, 2, 3]);
        long second = b.Length;
        b.U32(0).U32(0).U32(300_000).U32(300_000).Raw(CaptureBytes.Bytes(16));

        var (frames, end, _) = ReadBytes(b.ToArray());

        Assert.Single(frames);
        Assert.Equal(SourceEndKind.Corrupt, end.Kind);
        Assert.Equal(second, end.Offset);
        Assert.Contains("packet record 2", end.Reason);
    }

    [Fact]
    public void TryRead_CapLenAboveTypicalButWithinLargeSnaplen_IsAccepted()
    {
        var b = new CaptureBytes(false).PcapHeader(snaplen: 1 << 20).PcapRecord(0, 0, CaptureBytes.Bytes(300_000));

        var (frames, end, _) = ReadBytes(b.ToArray(), bufferSize: 4096);

        Assert.Equal(300_000, Assert.Single(frames).Data.Length);
        Assert.True(end.IsClean);
    }

    [Fact]
    public void TryRead_CutInsideSecondFrame_DeliversFirstAndEndsTruncated()
    {
        var b = new CaptureBytes(false).PcapHeader().PcapRecord(1, 0, CaptureBytes.Bytes(100));
        long second = b.Length;
        b.PcapRecord(2, 0, CaptureBytes.Bytes(1514));
        byte[] cut = b.ToArray()[..(int)(second + 16 + 800)];

        var (frames, end, _) = ReadBytes(cut);

        Assert.Single(frames);
        Assert.Equal(SourceEndKind.Truncated, end.Kind);
        Assert.Equal(second, end.Offset);
        Assert.Equal("file ends inside packet record 2 (needs 1530 bytes, 816 available)", end.Reason);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    public void TryRead_CutInsideRecordHeader_EndsTruncatedAtRecordStart(int extra)
    {
        var b = new CaptureBytes(true).PcapHeader().PcapRecord(1, 0, CaptureBytes.Bytes(10));
        int good = b.Length;
        b.PcapRecord(2, 0, CaptureBytes.Bytes(10));

        var (frames, end, _) = ReadBytes(b.ToArray()[..(good + extra)]);

        Assert.Single(frames);
        Assert.Equal(SourceEndKind.Truncated, end.Kind);
        Assert.Equal(good, end.Offset);
    }

    [Fact]
    public void TryRead_HeaderOnly_EndsCleanWithoutFrames()
    {
        var (frames, end, _) = ReadBytes(new CaptureBytes(false).PcapHeader().ToArray());

        Assert.Empty(frames);
        Assert.Equal(new SourceEnd(SourceEndKind.EndOfInput, 24, null), end);
    }

    [Fact]
    public void TryRead_AfterEnd_KeepsReturningFalse()
    {
        using var source = OpenBytes(new CaptureBytes(false).PcapHeader().PcapRecord(0, 0, [1]).ToArray());

        Assert.True(source.TryRead(out _));
        Assert.False(source.TryRead(out _));
        Assert.False(source.TryRead(out _));
        Assert.True(source.End.IsClean);
    }
}
