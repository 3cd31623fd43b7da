using System.Diagnostics;
using PathProbe.Capture;
using PathProbe.Primitives;
using Xunit.Abstractions;
using static PathProbe.Tests.Capture.CaptureTestHelpers;

namespace PathProbe.Tests.Capture;

public class PcapNgWriterTests
{
    private static byte[] WriteSample(int count)
    {
        var ms = new MemoryStream();
        using (var w = new PcapNgWriter(ms, leaveOpen: true, comment: "unit test"))
        {
            Assert.Equal(0, w.AddInterface(LinkTypes.Ethernet, 1500, "eth0", "uplink"));
            Assert.Equal(1, w.AddInterface(LinkTypes.Raw, 0, "tun0"));
            for (int i = 0; i < count; i++)
            {
                byte[] data = CaptureBytes.Bytes(1 + i % 2000, (byte)i);
                w.WritePacket(i % 2, new Timestamp(1_700_000_000_123_456_789L + i), data, data.Length + i % 3);
            }
            w.Flush();
        }
        return ms.ToArray();
    }

    [SkippableFact]
    public void WritePacket_ReadBack_RoundTripsFramesTimesAndInterfaces()
    {
        var (frames, end, info) = ReadBytes(WriteSample(500));

        Assert.True(end.IsClean, end.Reason);
        Assert.Equal(500, frames.Count);
        for (int i = 0; i < 500; i++)
        {
            int length = 1 + i % 2000;
            int captured = i % 2 == 0 ? Math.Min(length, 1500) : length;
            Assert.Equal(CaptureBytes.Bytes(length, (byte)i)[..captured], frames[i].Data);
            Assert.Equal(length + i % 3, frames[i].OriginalLength);
            Assert.Equal(1_700_000_000_123_456_789L + i, frames[i].Nanos);
            Assert.Equal(i % 2, frames[i].InterfaceIndex);
            Assert.Equal(i % 2 == 0 ? LinkTypes.Ethernet : LinkTypes.Raw, frames[i].LinkType);
        }
        Assert.Equal(new[] { "eth0", "tun0" }, info.Interfaces.Select(x => x.Name));
        Assert.Equal("uplink", info.Interfaces[0].Description);
        Assert.All(info.Interfaces, x => Assert.Equal(1_000_000_000, x.TicksPerSecond));
        Assert.Equal(new[] { "unit test" }, info.Comments);
        Assert.Equal("nanoseconds", info.TimestampResolution);
    }

    [SkippableFact]
    public void Write_RawFrameFromReader_CopiesCapture()
    {
        var b = new CaptureBytes(true).PcapHeader(nanos: true).PcapRecord(7, 8, [1, 2, 3], origLen: 10);
        var ms = new MemoryStream();
        using (var source = OpenBytes(b.ToArray()))
        using (var w = new PcapNgWriter(ms, leaveOpen: true))
        {
            w.AddInterface(source.Info.Interfaces[0].LinkType, (int)source.Info.SnapLength);
            while (source.TryRead(out var frame)) w.Write(frame);
        }

        var (frames, _, _) = ReadBytes(ms.ToArray());

        var f = Assert.Single(frames);
        Assert.Equal(new byte[] { 1, 2, 3 }, f.Data);
        Assert.Equal((10, 7_000_000_008L, LinkTypes.Ethernet, 0), (f.OriginalLength, f.Nanos, f.LinkType, f.InterfaceIndex));
    }

    [SkippableFact]
    public void WritePacket_UnknownInterface_Throws()
    {
        using var w = new PcapNgWriter(new MemoryStream());
        Assert.Throws<ArgumentOutOfRangeException>(() => w.WritePacket(0, default, [1], 1));
    }

    [SkippableFact]
    public void WritePacket_FileReadByTshark_FrameLengthsMatch()
    {
        if (!Tshark.Installed)
        throw new SkipException($"tshark is not installed (not on PATH): cross-check not run");
        string path = Path.Combine(Path.GetTempPath(), $"pathprobe-writer-{Environment.ProcessId}-{Guid.NewGuid():N}.pcapng");
        try
        {
            File.WriteAllBytes(path, WriteSample(50));
            var (stdout, exit) = Tshark.Run("-r", path, "-T", "fields", "-e", "frame.len", "-e", "frame.time_epoch");
            Assert.Equal(0, exit);
            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(50, lines.Length);
            for (int i = 0; i < 50; i++)
            {
                var fields = lines[i].Split('\t');
                Assert.Equal((1 + i % 2000 + i % 3).ToString(System.Globalization.CultureInfo.InvariantCulture), fields[0]);
                Assert.StartsWith("1700000000.12345", fields[1]);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}

internal static class Tshark
{
    /// <summary>tshark found on PATH, as every other tshark test looks for it.</summary>
    public static readonly string Path = PathProbe.Tests.Support.TestPaths.Tool("tshark") ?? "tshark";

    public static bool Installed => PathProbe.Tests.Support.TestPaths.Tool("tshark") is not null;

    /// <summary>tshark's packet count for <paramref name="file"/>, and whether it read the file without complaint
    /// (exit code 0 and nothing on stderr but the "Running as user root" notice). tshark 4.x also lists pcapng
    /// custom blocks (CB/DCB) as "frames"; they have no encapsulation, so only records with frame.encap_type count.</summary>
    public static (int Frames, bool Clean, string Errors) CountFrames(string file)
    {
        var (times, clean, errors) = PacketTimes(file);
        return (times.Count, clean, errors);
    }

    /// <summary>frame.time_epoch of each packet record (empty for packets without a time, e.g. SPBs).</summary>
    public static (List<string> Times, bool Clean, string Errors) PacketTimes(string file)
    {
        var (stdout, stderr, exit) = RunFull("-n", "-r", file, "-T", "fields", "-e", "frame.encap_type", "-e", "frame.time_epoch");
        var times = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('\t'))
            .Where(f => f[0].Length > 0)
            .Select(f => f.Length > 1 ? f[1] : "")
            .ToList();
        string errors = string.Join(" ", stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => !l.StartsWith("Running as user", StringComparison.Ordinal)));
        return (times, exit == 0 && errors.Length == 0, errors);
    }

    public static (string Stdout, int ExitCode) Run(params string[] args)
    {
        var (stdout, _, exit) = RunFull(args);
        return (stdout, exit);
    }

    public static (string Stdout, string Stderr, int ExitCode) RunFull(params string[] args)
    {
        var psi = new ProcessStartInfo(Path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (stdout, stderr.Result, p.ExitCode);
    }
}
