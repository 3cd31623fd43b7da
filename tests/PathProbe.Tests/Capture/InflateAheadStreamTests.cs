using System.IO.Compression;
using PathProbe.Capture;

namespace PathProbe.Tests.Capture;

/// <summary>The gzip reader's decompression thread: same bytes as decompressing inline, the same failure at the same
/// position for a cut or damaged file, bounded memory, and a clean stop when disposed early.</summary>
public sealed class InflateAheadStreamTests
{
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
    [InlineData(InflateAheadStream.BlockSize)]          // ends exactly at a block boundary
    [InlineData(InflateAheadStream.BlockSize * 9 + 77)] // more blocks than the ring holds: blocks go round
    public void Read_WholeStream_SameBytesAsInline(int length)
    {
        byte[] data = Data(length);
        byte[] gz = Gzip(data);
        using var s = new InflateAheadStream(new GZipStream(new MemoryStream(gz), CompressionMode.Decompress));

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
        byte[] data = Data(InflateAheadStream.BlockSize * 3 + 5000);
        byte[] gz = Gzip(data);
        byte[] cut = gz[..(gz.Length * num / den)];

        var (inlineBytes, inlineError) = ReadAll(new GZipStream(new MemoryStream(cut), CompressionMode.Decompress), InflateAheadStream.BlockSize);
        using var s = new InflateAheadStream(new GZipStream(new MemoryStream(cut), CompressionMode.Decompress));
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
        using var s = new InflateAheadStream(new GZipStream(new MemoryStream(gz), CompressionMode.Decompress));

        var (_, error) = ReadAll(s, 4096);

        Assert.IsType<InvalidDataException>(error);
    }

    [Fact]
    public void Dispose_WhileInflaterIsAhead_StopsTheThreadAndDisposesInner()
    {
        byte[] gz = Gzip(Data(InflateAheadStream.BlockSize * 8));
        var inner = new MemoryStream(gz);
        var s = new InflateAheadStream(new GZipStream(inner, CompressionMode.Decompress));
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
}
