using System.IO.Compression;
using PathProbe.Capture;

namespace PathProbe.Tests.Capture;

/// <summary>
/// ISA-L's inflater (<see cref="IsalInflateStream"/>) against <see cref="GZipStream"/> on the same gzip data: whole,
/// in several members, cut short and damaged. Skipped, saying so, where libisal.so.2 is not installed
/// (scripts/test.sh installs the Debian package libisal2).
/// </summary>
public sealed class IsalInflateStreamTests
{
    private static Stream Native(byte[] gz)
    {
        var s = IsalInflateStream.CreateNative(new MemoryStream(gz));
        Skip.If(IsalInflateStream.Unusable == IsalInflateStream.NotInstalled,
            "libisal.so.2 is not installed (apt-get install libisal2; scripts/test.sh does): ISA-L's inflater is not tested");
        Assert.True(s is not null, $"ISA-L is installed but not usable: {IsalInflateStream.Unusable}");
        return s!;
    }

    private static byte[] Gzip(ReadOnlySpan<byte> plain, CompressionLevel level = CompressionLevel.Optimal)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, level, leaveOpen: true)) gz.Write(plain);
        return ms.ToArray();
    }

    /// <summary>Capture-like data: repeated headers with counters, text, and stretches of noise (stored blocks).</summary>
    private static byte[] Sample(int length, int seed)
    {
        var rng = new Random(seed);
        var b = new byte[length];
        for (int i = 0; i < length; i++)
        {
            int block = i / 8192;
            b[i] = (block % 5) switch
            {
                0 => (byte)rng.Next(256),
                1 => (byte)"MAIL FROM:<a@example.test>\r\n"[i % 28],
                _ => (byte)(i % 64 < 16 ? i >> 6 : i % 7),
            };
        }
        return b;
    }

    /// <summary>Reads to the end in pieces of a few odd sizes (as the read-ahead thread and tests read).</summary>
    private static byte[] ReadAll(Stream s)
    {
        var output = new MemoryStream();
        var buffer = new byte[1 << 20];
        int[] sizes = [1, 7, 4096, 65_521, 1 << 20];
        int n, k = 0;
        while ((n = s.Read(buffer, 0, sizes[k++ % sizes.Length])) > 0) output.Write(buffer, 0, n);
        return output.ToArray();
    }

    [SkippableFact]
    public void Read_GivesWhatGZipStreamGives()
    {
        var plain = Sample(3_000_000, 1);
        foreach (var level in new[] { CompressionLevel.Fastest, CompressionLevel.Optimal, CompressionLevel.NoCompression })
        {
            byte[] gz = Gzip(plain, level);
            using var s = Native(gz);
            Assert.IsType<IsalInflateStream>(s);
            Assert.Equal(plain, ReadAll(s));
            Assert.Equal(0, s.Read(new byte[16], 0, 16)); // and stays at the end
        }
    }

    [SkippableFact]
    public void Read_MembersOneAfterAnother_AreOneStream()
    {
        var a = Sample(500_000, 2);
        var b = Sample(1, 3);
        var c = Sample(700_001, 4);
        byte[] gz = [.. Gzip(a), .. Gzip([]), .. Gzip(b), .. Gzip(c, CompressionLevel.Fastest)];
        using var s = Native(gz);
        Assert.Equal([.. a, .. b, .. c], ReadAll(s));
        using var managed = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress);
        Assert.Equal([.. a, .. b, .. c], ReadAll(managed));
    }

    [SkippableFact]
    public void Read_CutShort_EndsWithWhatCameBeforeTheCut()
    {
        var plain = Sample(2_000_000, 5);
        byte[] gz = Gzip(plain);
        foreach (int cut in new[] { 10, 1000, gz.Length / 2, gz.Length - 9, gz.Length - 1 })
        {
            using var s = Native(gz[..cut]);
            byte[] got = ReadAll(s); // no exception: the capture reader says where the capture was cut
            Assert.True(got.Length <= plain.Length);
            Assert.Equal(plain.AsSpan(0, got.Length).ToArray(), got);
            if (cut > gz.Length / 4) Assert.True(got.Length > plain.Length / 4, $"cut at {cut}: only {got.Length} bytes came out");
        }
    }

    [SkippableFact]
    public void Read_WrongCrc_ThrowsInvalidData()
    {
        byte[] gz = Gzip(Sample(100_000, 6));
        gz[^6] ^= 0xff; // the trailer's CRC-32
        using var s = Native(gz);
        var e = Assert.Throws<InvalidDataException>(() => ReadAll(s));
        Assert.Contains("CRC or length check failed", e.Message);
    }

    [SkippableFact]
    public void Read_DamagedBlocks_ThrowsInvalidDataOrGivesOtherBytes_NeverHangs()
    {
        var plain = Sample(300_000, 7);
        byte[] clean = Gzip(plain);
        int threw = 0;
        for (int seed = 0; seed < 40; seed++)
        {
            byte[] gz = (byte[])clean.Clone();
            var rng = new Random(seed);
            int at = 20 + rng.Next(gz.Length - 40);
            for (int i = 0; i < 8; i++) gz[at + i] ^= (byte)(1 + rng.Next(255));
            using var s = Native(gz);
            try
            {
                Assert.NotEqual(plain, ReadAll(s)); // what damage did not stop is caught by the CRC
            }
            catch (InvalidDataException e)
            {
                threw++;
                Assert.StartsWith("the gzip data", e.Message);
            }
        }
        Assert.True(threw >= 30, $"only {threw} of 40 damaged streams were reported damaged");
    }

    [SkippableFact]
    public void Create_UsesIsal_WhenInstalled()
    {
        using var native = Native(Gzip([1, 2, 3]));
        bool zlibAsked = string.Equals(Environment.GetEnvironmentVariable("PATHPROBE_INFLATE"), "zlib", StringComparison.OrdinalIgnoreCase);
        using var s = IsalInflateStream.Create(new MemoryStream(Gzip([1, 2, 3])));
        Assert.Equal(!zlibAsked, IsalInflateStream.Available);
        Assert.IsType(zlibAsked ? typeof(GZipStream) : typeof(IsalInflateStream), s);
        Assert.Equal(new byte[] { 1, 2, 3 }, ReadAll(s));
    }

    [Fact]
    public void CaptureFile_GzipCapture_ReadsTheSamePacketsAsPlain()
    {
        var plain = new CaptureBytes(false).PcapHeader();
        for (int i = 0; i < 3000; i++) plain.PcapRecord((uint)i, (uint)(i * 7), Sample(60 + i % 1400, i));
        byte[] bytes = plain.ToArray();
        string dir = Directory.CreateTempSubdirectory("pathprobe-isal-").FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(dir, "p.pcap"), bytes);
            File.WriteAllBytes(Path.Combine(dir, "p.pcap.gz"), Gzip(bytes));
            using var a = CaptureFile.Open(Path.Combine(dir, "p.pcap"));
            using var b = CaptureFile.Open(Path.Combine(dir, "p.pcap.gz"));
            int count = 0;
            while (a.TryRead(out var fa))
            {
                byte[] da = fa.Data.ToArray();
                Assert.True(b.TryRead(out var fb));
                Assert.Equal(da, fb.Data.ToArray());
                Assert.Equal(fa.Time, fb.Time);
                count++;
            }
            Assert.False(b.TryRead(out _));
            Assert.Equal(3000, count);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
