using System.IO.Compression;
using System.Text;
using PathProbe.Capture;
using static PathProbe.Tests.Capture.CaptureTestHelpers;

namespace PathProbe.Tests.Capture;

public sealed class CaptureFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pathprobe-capture-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Gzip(byte[] bytes)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(bytes);
        return ms.ToArray();
    }

    private static byte[] SamplePcap() =>
        new CaptureBytes(false).PcapHeader().PcapRecord(1, 2, [1, 2, 3]).PcapRecord(3, 4, [5, 6]).ToArray();

    private static byte[] SamplePcapNg()
    {
        var b = new CaptureBytes(true);
        return b.Shb().Idb(1, 0, b.Opt(2, "eth0"), b.EndOpt()).Epb(0, 1, [1, 2, 3]).Epb(0, 2, [5, 6]).ToArray();
    }

    [SkippableFact]
    public void Open_TextFile_ThrowsNotACaptureWithFoundBytes()
    {
        string path = Write("x.txt", Encoding.ASCII.GetBytes("Hello, world"));

        var ex = Assert.Throws<CaptureFormatException>(() => CaptureFile.Open(path));

        Assert.Equal($"'{path}' is not a capture file: expected a pcap (magic a1b2c3d4/a1b23c4d) or pcapng (section header block 0a0d0d0a) file, " +
                     "optionally gzip-compressed; found bytes 48 65 6c 6c", ex.Message);
    }

    [SkippableFact]
    public void Open_EmptyFile_ThrowsEmpty()
    {
        var ex = Assert.Throws<CaptureFormatException>(() => CaptureFile.Open(Write("empty.pcap", [])));
        Assert.Contains("is empty (0 bytes)", ex.Message);
    }

    [SkippableFact]
    public void Open_ShorterThanMagic_ThrowsNotACapture()
    {
        var ex = Assert.Throws<CaptureFormatException>(() => CaptureFile.Open(Write("short.pcap", [0xd4, 0xc3])));
        Assert.Contains("is not a capture file", ex.Message);
        Assert.Contains("only 2 bytes (d4c3)", ex.Message);
    }

    [SkippableFact]
    public void Open_MissingFile_ThrowsDoesNotExist()
    {
        var ex = Assert.Throws<CaptureFormatException>(() => CaptureFile.Open(Path.Combine(_dir, "nope.pcap")));
        Assert.EndsWith("does not exist", ex.Message);
    }

    [SkippableFact]
    public void Open_MissingDirectory_ThrowsDoesNotExist()
    {
        var ex = Assert.Throws<CaptureFormatException>(() => CaptureFile.Open(Path.Combine(_dir, "no", "nope.pcap")));
        Assert.Contains("does not exist", ex.Message);
    }

    [SkippableFact]
    public void Open_Directory_ThrowsIsADirectory()
    {
        var ex = Assert.Throws<CaptureFormatException>(() => CaptureFile.Open(_dir));
        Assert.Contains("is a directory", ex.Message);
    }

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Open_UnreadableFile_ThrowsPermissionDenied()
    {
        Skip.If(OperatingSystem.IsWindows(), "not on Windows");
        string path = Write("secret.pcap", SamplePcap());
        File.SetUnixFileMode(path, UnixFileMode.None);
        if (Environment.UserName != "root")
        {
            var ex = Assert.Throws<CaptureFormatException>(() => CaptureFile.Open(path));
            Assert.Contains("permission denied", ex.Message);
            return;
        }
        // Root reads everything: run the real command as nobody instead and read what the user would see.
        string? setpriv = PathProbe.Tests.Support.TestPaths.Tool("setpriv");
        Assert.True(setpriv is not null, "setpriv (util-linux) is needed to check this as root");
        File.SetUnixFileMode(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                   UnixFileMode.OtherRead | UnixFileMode.OtherExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        string cli = Path.Combine(AppContext.BaseDirectory, "pathprobe.dll");
        var psi = new System.Diagnostics.ProcessStartInfo(setpriv!)
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
        foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "--", Environment.ProcessPath ?? "dotnet", cli, "analyze", path })
            psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = "/tmp";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var p = System.Diagnostics.Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(2, p.ExitCode);
        Assert.Contains($"pathprobe: error: '{path}' cannot be read: permission denied", err);
        Assert.DoesNotContain("   at ", err);
    }

    [SkippableTheory]
    [InlineData(4)]
    [InlineData(10)]
    [InlineData(23)]
    public void Open_CutInsidePcapFileHeader_ThrowsEndsInsideHeader(int length)
    {
        var ex = Assert.Throws<CaptureFormatException>(() => CaptureFile.Open(Write("cut.pcap", SamplePcap()[..length])));
        Assert.Contains("ends inside the pcap file header", ex.Message);
    }

    [SkippableTheory]
    [InlineData(4)]
    [InlineData(20)]
    public void Open_CutInsideFirstSectionHeader_ThrowsEndsInsideHeader(int length)
    {
        var ex = Assert.Throws<CaptureFormatException>(() => CaptureFile.Open(Write("cut.pcapng", SamplePcapNg()[..length])));
        Assert.Contains("ends inside the pcapng section header block", ex.Message);
    }

    [SkippableFact]
    public void Open_PcapNgBadByteOrderMagic_ThrowsNotACapture()
    {
        byte[] bytes = SamplePcapNg();
        bytes[8] = 0x99;
        var ex = Assert.Throws<CaptureFormatException>(() => CaptureFile.Open(Write("bad.pcapng", bytes)));
        Assert.Contains("byte-order magic", ex.Message);
    }

    [SkippableFact]
    public void Open_UnsupportedPcapVersion_Throws()
    {
        byte[] bytes = SamplePcap();
        bytes[4] = 3;
        var ex = Assert.Throws<CaptureFormatException>(() => CaptureFile.Open(Write("v3.pcap", bytes)));
        Assert.Contains("version 3.4", ex.Message);
    }

    [SkippableTheory]
    [InlineData("pcap")]
    [InlineData("pcapng")]
    public void Open_GzipCompressed_ReadsSameFramesAsPlain(string format)
    {
        byte[] plain = format == "pcap" ? SamplePcap() : SamplePcapNg();
        string plainPath = Write("plain.bin", plain);
        string gzPath = Write("compressed.bin", Gzip(plain));

        using var a = CaptureFile.Open(plainPath);
        using var b = CaptureFile.Open(gzPath);
        var fa = ReadAll(a);
        var fb = ReadAll(b);

        Assert.Equal(2, fb.Count);
        Assert.Equal(fa.Select(f => (Convert.ToHexString(f.Data), f.Nanos)), fb.Select(f => (Convert.ToHexString(f.Data), f.Nanos)));
        Assert.True(b.Info.Compressed);
        Assert.False(a.Info.Compressed);
        Assert.Equal(format, b.Info.Format);
        Assert.True(b.End.IsClean);
        Assert.Equal(gzPath, b.Info.Path);
    }

    [SkippableFact]
    public void Open_GzipOfText_ThrowsNotACaptureInsideGzip()
    {
        var ex = Assert.Throws<CaptureFormatException>(() => CaptureFile.Open(Write("t.gz", Gzip(Encoding.ASCII.GetBytes("hello")))));
        Assert.Contains("inside the gzip data", ex.Message);
    }

    [SkippableFact]
    public void Open_DamagedGzip_ThrowsCaptureFormatException()
    {
        byte[] gz = Gzip(SamplePcap());
        for (int i = 10; i < gz.Length; i++) gz[i] ^= 0x5a;
        Assert.Throws<CaptureFormatException>(() => CaptureFile.Open(Write("bad.gz", gz)));
    }

    [SkippableFact]
    public void TryRead_GzipCutInsideFrame_EndsTruncatedOrError()
    {
        var b = new CaptureBytes(false).PcapHeader();
        for (int i = 0; i < 100; i++) b.PcapRecord((uint)i, 0, CaptureBytes.Bytes(200, (byte)i));
        byte[] gz = Gzip(b.ToArray());

        using var source = CaptureFile.Open(Write("cut.gz", gz[..(gz.Length * 2 / 3)]));
        var frames = ReadAll(source);

        Assert.InRange(frames.Count, 1, 99);
        Assert.Contains(source.End.Kind, new[] { SourceEndKind.Truncated, SourceEndKind.Error });
    }

    [SkippableFact]
    public void Open_ExtensionIgnored_DetectsByContent()
    {
        using var source = CaptureFile.Open(Write("capture.pcap", SamplePcapNg()));
        Assert.Equal("pcapng", source.Info.Format);
        Assert.Equal("eth0", source.Info.Interfaces[0].Name);
    }

    [SkippableFact]
    public void Dispose_ThenTryRead_ReturnsFalse()
    {
        var source = CaptureFile.Open(Write("d.pcap", SamplePcap()));
        source.Dispose();
        Assert.False(source.TryRead(out _));
    }
}
