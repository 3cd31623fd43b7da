using PathProbe.Capture;
using static PathProbe.Tests.Capture.CaptureTestHelpers;

namespace PathProbe.Tests.Capture;

public class PcapNgReaderTests
{
    // SHB (28 bytes, LE, v1.0, section length -1) + IDB (20 bytes, Ethernet, snaplen 0) + EPB (36 bytes:
    // interface 0, ts 1_000_002 µs, caplen 4, len 60, data de ad be ef).
    private const string MinimalLe =
        "0a0d0d0a 1c000000 4d3c2b1a 0100 0000 ffffffffffffffff 1c000000" +
        "01000000 14000000 0100 0000 00000000 14000000" +
        "06000000 24000000 00000000 00000000 42420f00 04000000 3c000000 deadbeef 24000000";
    private const string MinimalBe =
        "0a0d0d0a 0000001c 1a2b3c4d 0001 0000 ffffffffffffffff 0000001c" +
        "00000001 00000014 0001 0000 00000000 00000014" +
        "00000006 00000024 00000000 00000000 000f4242 00000004 0000003c deadbeef 00000024";

    [Theory]
    [InlineData("LE", MinimalLe, false)]
    [InlineData("BE", MinimalBe, true)]
    public void TryRead_HexVector_ReturnsFrame(string label, string hex, bool bigEndian)
    {
        var (frames, end, info) = ReadBytes(Convert.FromHexString(hex.Replace(" ", "")));

        var f = Assert.Single(frames);
        Assert.Equal(new byte[] { 0xde, 0xad, 0xbe, 0xef }, f.Data);
        Assert.Equal(60, f.OriginalLength);
        Assert.Equal(1_000_002_000L, f.Nanos);
        Assert.Equal(LinkTypes.Ethernet, f.LinkType);
        Assert.True(end.IsClean, label);
        Assert.Equal(bigEndian, info.BigEndian);
        Assert.Equal("pcapng", info.Format);
        Assert.Equal(1, info.Sections);
        Assert.Equal("microseconds", info.TimestampResolution);
    }

    private static byte[] TwoSections(bool firstBigEndian)
    {
        var a = new CaptureBytes(firstBigEndian);
        a.Shb(a.Opt(1, "first\u0007 section\ncomment"), a.EndOpt())
         .Idb(1, 1500, a.Opt(2, "eth0"), a.Opt(1, "uplink"), a.Opt(9, 3), a.EndOpt())            // ms
         .Idb(101, 0, a.Opt(2, "tun0"), a.Opt(9, 0x8A), a.Opt(3, "vpn"), a.EndOpt())             // 2^-10 s
         .Epb(0, 1_500, [1, 2, 3])                                 // 1.5 s
         .Block(4, [0, 0, 0, 0])                                   // NRB: skipped
         .Epb(1, 1024 * 3 + 512, [4, 5, 6, 7, 8], origLen: 9)      // 3.5 s
         .Spb(2, [9, 9, 0, 0]);                                    // interface 0, 2 of 4 bytes
        var b = new CaptureBytes(!firstBigEndian);
        b.Shb()
         .Idb(113, 65535, b.Opt(2, "any"), b.EndOpt())
         .Block(0x0BAD, [1, 2, 3, 4, 5, 6, 7, 8])                  // custom: skipped
         .Epb(0, 7, [10, 11]);
        return [.. a.ToArray(), .. b.ToArray()];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TryRead_TwoSectionsMixedByteOrder_ReadsAllInterfacesAndFrames(bool firstBigEndian)
    {
        var (frames, end, info) = ReadBytes(TwoSections(firstBigEndian), bufferSize: 64);

        Assert.True(end.IsClean, end.Reason);
        Assert.Equal(4, frames.Count);
        Assert.Equal(new Frame([1, 2, 3], 3, 1_500_000_000, 1, 0), frames[0], new FrameComparer());
        Assert.Equal(3_500_000_000, frames[1].Nanos);
        Assert.Equal(101, frames[1].LinkType);
        Assert.Equal(1, frames[1].InterfaceIndex);
        Assert.Equal(9, frames[1].OriginalLength);
        Assert.Equal(new byte[] { 9, 9 }, frames[2].Data);
        Assert.Equal(2, frames[2].OriginalLength);
        Assert.Equal(0, frames[2].InterfaceIndex);
        // Second section: its interface 0 is the file's third interface.
        Assert.Equal(113, frames[3].LinkType);
        Assert.Equal(2, frames[3].InterfaceIndex);

        Assert.Equal(2, info.Sections);
        Assert.Equal(2, info.SkippedBlocks);
        Assert.Equal(new[] { "eth0", "tun0", "any" }, info.Interfaces.Select(i => i.Name));
        Assert.Equal(new long[] { 1000, 1024, 1_000_000 }, info.Interfaces.Select(i => i.TicksPerSecond));
        Assert.Equal("vpn", info.Interfaces[1].Description);
        Assert.Equal(new[] { 0, 0, 1 }, info.Interfaces.Select(i => i.Section));
        Assert.Equal(new[] { "first section comment", "uplink" }, info.Comments);
        Assert.Equal(1500, info.SnapLength);
        Assert.Equal("milliseconds", info.TimestampResolution);
        Assert.Equal(firstBigEndian, info.BigEndian);
    }

    [Fact]
    public void TryRead_TsOffset_AddsSeconds()
    {
        var b = new CaptureBytes(false);
        b.Shb().Idb(1, 0, b.Opt(14, 10, 0, 0, 0, 0, 0, 0, 0), b.Opt(9, 9), b.EndOpt()).Epb(0, 5, [1]);

        var (frames, _, info) = ReadBytes(b.ToArray());

        Assert.Equal(10_000_000_005, frames[0].Nanos);
        Assert.Equal(10, info.Interfaces[0].TimestampOffsetSeconds);
    }

    [Theory]
    [InlineData(1_000_000UL, 1_700_000_000_123_456UL, 1_700_000_000_123_456_000L)]
    [InlineData(1_000_000_000UL, 1_700_000_000_123_456_789UL, 1_700_000_000_123_456_789L)]
    [InlineData(1024UL, 1025UL, 1_000_976_562L)]                      // 2^-10: 1 + 1/1024 s, truncated to ns
    [InlineData(1UL << 32, (1UL << 63) + (1UL << 31), 2_147_483_648_500_000_000L)] // 2^-32 s: high 32 bits are seconds
    [InlineData(10_000_000_000_000_000_000UL, 17_000_000_000_000_000_000UL, 1_700_000_000L)] // 10^-19 s
    public void ToTimestamp_Resolution_ConvertsExactly(ulong ticksPerSecond, ulong ticks, long expectedNanos)
    {
        Assert.Equal(expectedNanos, PcapNgReader.ToTimestamp(ticks, ticksPerSecond, 0).UnixNanoseconds);
    }

    [Fact]
    public void ToTimestamp_BeyondRange_Saturates()
    {
        Assert.Equal(long.MaxValue, PcapNgReader.ToTimestamp(ulong.MaxValue, 1, 0).UnixNanoseconds);
    }

    [Theory]
    [InlineData(13u, "invalid total length of 13")]
    [InlineData(8u, "invalid total length of 8")]
    [InlineData(0x7000_0000u, "invalid total length")]
    public void TryRead_BadBlockLength_EndsCorruptAtBlock(uint length, string reason)
    {
        var b = new CaptureBytes(false).Shb().Idb(1, 0).Epb(0, 0, [1]);
        int at = b.Length;
        b.U32(6).U32(length).Raw(CaptureBytes.Bytes(32));

        var (frames, end, _) = ReadBytes(b.ToArray());

        Assert.Single(frames);
        Assert.Equal(SourceEndKind.Corrupt, end.Kind);
        Assert.Equal(at, end.Offset);
        Assert.Contains(reason, end.Reason);
    }

    [Fact]
    public void TryRead_TrailingLengthMismatch_EndsCorrupt()
    {
        var bytes = new CaptureBytes(false).Shb().Idb(1, 0).Epb(0, 0, [1, 2, 3, 4]).ToArray();
        bytes[^4] = 0x28;

        var (frames, end, _) = ReadBytes(bytes);

        Assert.Empty(frames);
        Assert.Equal(SourceEndKind.Corrupt, end.Kind);
        Assert.Contains("trailing length", end.Reason);
    }

    [Fact]
    public void TryRead_UndefinedInterface_EndsCorrupt()
    {
        var b = new CaptureBytes(true).Shb().Idb(1, 0).Epb(0, 0, [1]);
        int at = b.Length;
        b.Epb(1, 0, [2]);

        var (frames, end, _) = ReadBytes(b.ToArray());

        Assert.Single(frames);
        Assert.Equal(new SourceEndKind[] { SourceEndKind.Corrupt }, new[] { end.Kind });
        Assert.Equal(at, end.Offset);
        Assert.Contains("refers to interface 1", end.Reason);
    }

    [Fact]
    public void TryRead_InterfaceOfPreviousSection_IsNotVisibleInNextSection()
    {
        var b = new CaptureBytes(false).Shb().Idb(1, 0).Shb().Epb(0, 0, [1]);

        var (frames, end, _) = ReadBytes(b.ToArray());

        Assert.Empty(frames);
        Assert.Equal(SourceEndKind.Corrupt, end.Kind);
    }

    [Fact]
    public void TryRead_CapLenBeyondBlock_EndsCorrupt()
    {
        var body = new CaptureBytes(false).U32(0).U32(0).U32(0).U32(100).U32(100).Raw(1, 2, 3, 4).ToArray();
        var b = new CaptureBytes(false).Shb().Idb(1, 0).Block(6, body);

        var (_, end, _) = ReadBytes(b.ToArray());

        Assert.Equal(SourceEndKind.Corrupt, end.Kind);
        Assert.Contains("claims 100 captured bytes", end.Reason);
    }

    [Fact]
    public void TryRead_CutInsideEpb_DeliversEarlierFramesAndEndsTruncated()
    {
        var b = new CaptureBytes(false).Shb().Idb(1, 0).Epb(0, 0, CaptureBytes.Bytes(100));
        int at = b.Length;
        b.Epb(0, 0, CaptureBytes.Bytes(1514));
        foreach (int cut in new[] { at + 3, at + 8, at + 500 })
        {
            var (frames, end, _) = ReadBytes(b.ToArray()[..cut], bufferSize: 128);

            Assert.Single(frames);
            Assert.Equal(SourceEndKind.Truncated, end.Kind);
            Assert.Equal(at, end.Offset);
            Assert.Contains("file ends inside", end.Reason);
        }
    }

    [Fact]
    public void Open_InterfacesBeforeFirstPacket_KnownBeforeFirstRead()
    {
        using var source = OpenBytes(TwoSections(false));

        Assert.Equal(2, source.Info.Interfaces.Count);
        Assert.Equal(SourceEndKind.None, source.End.Kind);
    }

    [Fact]
    public void TryRead_SpbWithoutInterface_EndsCorrupt()
    {
        var (frames, end, _) = ReadBytes(new CaptureBytes(false).Shb().Spb(4, [1, 2, 3, 4]).ToArray());

        Assert.Empty(frames);
        Assert.Equal(SourceEndKind.Corrupt, end.Kind);
    }

    [Fact]
    public void TryRead_ObsoletePacketBlock_ReturnsFrame()
    {
        var body = new CaptureBytes(false).U16(0).U16(0).U32(0).U32(2_000_000).U32(3).U32(3).Raw(7, 8, 9).ToArray();
        var (frames, end, _) = ReadBytes(new CaptureBytes(false).Shb().Idb(1, 0).Block(2, body).ToArray());

        Assert.Equal(new byte[] { 7, 8, 9 }, Assert.Single(frames).Data);
        Assert.Equal(2_000_000_000, frames[0].Nanos);
        Assert.True(end.IsClean);
    }

    private sealed class FrameComparer : IEqualityComparer<Frame>
    {
        public bool Equals(Frame? x, Frame? y) => x is not null && y is not null && x.Data.SequenceEqual(y.Data) &&
            x.OriginalLength == y.OriginalLength && x.Nanos == y.Nanos && x.LinkType == y.LinkType && x.InterfaceIndex == y.InterfaceIndex;
        public int GetHashCode(Frame obj) => obj.Nanos.GetHashCode();
    }
}
