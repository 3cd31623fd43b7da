using System.IO.Compression;
using PathProbe.Capture;

namespace PathProbe.Tests.Capture;

/// <summary>The reading thread (decompression of a gzip file, the plain file's reads): same bytes as reading inline,
/// the same failure at the same position for a cut or damaged file, bounded memory, a clean stop when disposed early;
/// and the capture readers, which take its blocks as their buffer, reading every frame as from a plain stream whatever
/// the records' sizes against the blocks' edges and the room before them.</summary>
public sealed class ReadAheadStreamTests
{
    private static ReadAheadStream Inflating(byte[] gz) =>
        new(new GZipStream(new MemoryStream(gz), CompressionMode.Decompress), ReadAheadStream.InflateBlocks, "test-inflate");

    private static byte[] Gzip(byte[] bytes)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(bytes);
        return ms.ToArray();
    }

    /// <summary>Compressible but not trivial: counters and seeded noise.</summary>
    private static byte[] Data(int length)
    {
        var rng = new Random(16);
        var b = new byte[length];
        for (int i = 0; i < length; i++) b[i] = (i & 64) != 0 ? (byte)rng.Next(256) : (byte)i;
        return b;
    }

    /// <summary>Reads everything with reads of <paramref name="chunk"/> bytes; returns the bytes and the exception
    /// that ended the reading, if any.</summary>
    private static (byte[] Bytes, Exception? Error) ReadAll(Stream s, int chunk)
    {
        var output = new MemoryStream();
        var buffer = new byte[chunk];
        try
        {
            int n;
            while ((n = s.Read(buffer, 0, buffer.Length)) > 0) output.Write(buffer, 0, n);
            return (output.ToArray(), null);
        }
        catch (Exception ex)
        {
            return (output.ToArray(), ex);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(ReadAheadStream.BlockSize)]          // ends exactly at a block boundary
    [InlineData(ReadAheadStream.BlockSize * 9 + 77)] // more blocks than the ring holds: blocks go round
    public void Read_WholeStream_SameBytesAsInline(int length)
    {
        byte[] data = Data(length);
        byte[] gz = Gzip(data);
        using var s = Inflating(gz);

        var (bytes, error) = ReadAll(s, 100_000);

        Assert.Null(error);
        Assert.Equal(data, bytes);
        Assert.Equal(0, s.Read(new byte[10])); // stays at the end
    }

    [Theory]
    [InlineData(2, 3)]   // cut after two thirds
    [InlineData(1, 2)]
    [InlineData(9, 10)]
    public void Read_CutGzip_DeliversWhatInlineDeliversThenTheSameError(int num, int den)
    {
        byte[] data = Data(ReadAheadStream.BlockSize * 3 + 5000);
        byte[] gz = Gzip(data);
        byte[] cut = gz[..(gz.Length * num / den)];

        var (inlineBytes, inlineError) = ReadAll(new GZipStream(new MemoryStream(cut), CompressionMode.Decompress), ReadAheadStream.BlockSize);
        using var s = Inflating(cut);
        var (aheadBytes, aheadError) = ReadAll(s, 65536);

        // Everything inflated before the cut is handed out, and the reading ends as it does inline (an exception of
        // the same type, or the plain end when the inflater reports none).
        Assert.Equal(inlineBytes.Length, aheadBytes.Length);
        Assert.Equal(data.AsSpan(0, aheadBytes.Length).ToArray(), aheadBytes);
        Assert.Equal(inlineError?.GetType(), aheadError?.GetType());
        Assert.True(aheadBytes.Length < data.Length);
    }

    [Fact]
    public void Read_DamagedGzip_ThrowsInvalidData()
    {
        byte[] gz = Gzip(Data(200_000));
        for (int i = 1000; i < gz.Length - 100; i += 7) gz[i] ^= 0x5a;
        using var s = Inflating(gz);

        var (_, error) = ReadAll(s, 4096);

        Assert.IsType<InvalidDataException>(error);
    }

    [Fact]
    public void Dispose_WhileInflaterIsAhead_StopsTheThreadAndDisposesInner()
    {
        byte[] gz = Gzip(Data(ReadAheadStream.BlockSize * 8));
        var inner = new MemoryStream(gz);
        var s = new ReadAheadStream(new GZipStream(inner, CompressionMode.Decompress), ReadAheadStream.InflateBlocks, "test-inflate");
        Assert.Equal(10, s.Read(new byte[10]));

        s.Dispose(); // the thread is blocked waiting for a free block: Dispose must not hang

        Assert.False(inner.CanRead);
        Assert.Throws<ObjectDisposedException>(() => s.Read(new byte[1]));
    }

    [Fact]
    public void Open_GzipCapture_ReadsThroughTheInflateThread()
    {
        var b = new CaptureBytes(false).PcapHeader();
        for (int i = 0; i < 3000; i++) b.PcapRecord((uint)i, 0, CaptureBytes.Bytes(1400, (byte)i));
        byte[] plain = b.ToArray();
        using var a = CaptureFile.Open(new MemoryStream(plain), "plain");
        using var z = CaptureFile.Open(new MemoryStream(Gzip(plain)), "gz");

        long n = 0;
        while (a.TryRead(out RawFrame fa))
        {
            Assert.True(z.TryRead(out RawFrame fz));
            Assert.True(fa.Data.SequenceEqual(fz.Data));
            n++;
        }
        Assert.False(z.TryRead(out _));
        Assert.Equal(3000, n);
        Assert.True(z.End.IsClean);
        Assert.True(z.Info.Compressed);
    }

    /// <summary>Blocks taken without a copy hold the stream's bytes in order, with the free room before each; a buffer
    /// of another size given back is replaced, so the ring keeps going.</summary>
    [Fact]
    public void TakeBlock_WholeStream_SameBytesInOrder()
    {
        byte[] data = Data(ReadAheadStream.BlockSize * 5 + 1234);
        using var s = new ReadAheadStream(new MemoryStream(data), ReadAheadStream.FileBlocks, "test-read");
        Assert.Equal(7, s.Read(new byte[7])); // a header read through the stream first
        var got = new MemoryStream();
        got.Write(data, 0, 7);
        bool first = true;
        while (s.TakeBlock(out byte[] block, out int start, out int length))
        {
            Assert.True(start >= ReadAheadStream.Headroom);
            got.Write(block, start, length);
            s.ReturnBlock(first ? new byte[100] : block); // the reader's own first buffer comes back once
            first = false;
        }
        Assert.Equal(data, got.ToArray());
        Assert.False(s.TakeBlock(out _, out _, out _)); // stays at the end
    }

    /// <summary>A cut gzip file through the block path: the bytes before the cut, then the inflater's error.</summary>
    [Fact]
    public void TakeBlock_CutGzip_DataThenError()
    {
        byte[] data = Data(ReadAheadStream.BlockSize * 3 + 5000);
        byte[] gz = Gzip(data);
        byte[] cut = gz[..(gz.Length * 2 / 3)];
        var (inlineBytes, inlineError) = ReadAll(new GZipStream(new MemoryStream(cut), CompressionMode.Decompress), ReadAheadStream.BlockSize);
        using var s = Inflating(cut);
        var got = new MemoryStream();
        Exception? error = null;
        try
        {
            while (s.TakeBlock(out byte[] block, out int start, out int length))
            {
                got.Write(block, start, length);
                s.ReturnBlock(block);
            }
        }
        catch (Exception ex) { error = ex; }
        Assert.Equal(inlineBytes, got.ToArray());
        Assert.Equal(inlineError?.GetType(), error?.GetType());
    }

    /// <summary>A plain file read ahead (the analysis' path) gives every frame, byte for byte and at the same file
    /// offset, as the plain stream does: records of every size, some longer than the room before a block (copied),
    /// some cut by every block edge, and a file cut inside its last record (the same end reported).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Open_ReadAhead_SameFramesAsPlainStream(bool cutShort)
    {
        var rng = new Random(7);
        var b = new CaptureBytes(false).PcapHeader(snaplen: 1u << 20);
        for (int i = 0; i < 12_000; i++)
        {
            int size = i % 997 == 0 ? ReadAheadStream.Headroom + rng.Next(1, 300_000) : rng.Next(1, i % 3 == 0 ? 9000 : 1500);
            b.PcapRecord((uint)i, 0, CaptureBytes.Bytes(size, (byte)i));
        }
        byte[] file = b.ToArray();
        if (cutShort) file = file[..(file.Length - 100)];
        string path = Path.Combine(Path.GetTempPath(), $"pathprobe-readahead-{Environment.ProcessId}-{cutShort}.pcap");
        File.WriteAllBytes(path, file);
        try
        {
            using var plain = CaptureFile.Open(new MemoryStream(file), "plain");
            using var ahead = CaptureFile.Open(File.OpenRead(path), path, readAhead: true);
            var locator = (IFrameLocator)ahead;
            var plainLocator = (IFrameLocator)plain;
            long n = 0;
            while (plain.TryRead(out RawFrame fp))
            {
                Assert.True(ahead.TryRead(out RawFrame fa), $"frame {n}");
                Assert.True(fp.Data.SequenceEqual(fa.Data), $"frame {n}");
                Assert.Equal(plainLocator.FrameDataOffset, locator.FrameDataOffset);
                n++;
            }
            Assert.False(ahead.TryRead(out _));
            Assert.Equal(plain.End.Kind, ahead.End.Kind);
            Assert.Equal(plain.End.Offset, ahead.End.Offset);
            Assert.Equal(plain.End.Reason, ahead.End.Reason);
            Assert.Equal(cutShort ? 11_999 : 12_000, n);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
