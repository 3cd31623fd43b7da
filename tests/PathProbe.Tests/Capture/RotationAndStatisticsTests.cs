using System.Diagnostics;
using PathProbe.Capture;
using PathProbe.Cli.Commands.Capture;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Capture;

/// <summary>
/// pcapng interface statistics blocks written and read back (issue 13 item 6), and capture -w rotation with tcpdump's
/// -C/-W/-G semantics and names (issue 19 item 2), on synthetic frames: each file a valid pcapng on its own, checked
/// with PathProbe's reader and tshark. The live runs are in PathProbe.LibPcap.Tests.
/// </summary>
public sealed class RotationAndStatisticsTests : IDisposable
{
    private static readonly long T0 = 1_800_000_000L * 1_000_000_000;
    private readonly string _dir = Directory.CreateTempSubdirectory($"pathprobe-rotation-{Environment.ProcessId}-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private static byte[] Frame(int size) => Enumerable.Range(0, size).Select(i => (byte)i).ToArray();

    private sealed class Counters
    {
        public long Received, OsDropped, InterfaceDropped, Delivered, Calls;
        public long Time = T0;
        public InterfaceStatistics Now()
        {
            Calls++;
            return new InterfaceStatistics
            {
                Time = new Timestamp(Time), StartTime = new Timestamp(T0), EndTime = new Timestamp(Time),
                Received = Received, OsDropped = OsDropped, InterfaceDropped = InterfaceDropped, Delivered = Delivered,
            };
        }
    }

    /// <summary>Writes <paramref name="count"/> frames of <paramref name="size"/> bytes, one every
    /// <paramref name="gapNanos"/>, counting them as received (and every tenth as dropped by the OS).</summary>
    private static RotatingPcapNgWriter WriteFrames(RotatingPcapNgWriter w, Counters c, int count, int size, long gapNanos, int startIndex = 0)
    {
        byte[] data = Frame(size);
        for (int i = startIndex; i < startIndex + count; i++)
        {
            c.Time = T0 + i * gapNanos;
            c.Received++;
            if (i % 10 == 9) c.OsDropped++; else c.Delivered++;
            var frame = new RawFrame(data, data.Length, new Timestamp(c.Time), LinkTypes.Ethernet, 0);
            if (!w.Write(frame)) break;
        }
        return w;
    }

    private static (List<long> Times, CaptureInfo Info, SourceEnd End) Read(string path)
    {
        using var source = CaptureFile.Open(path);
        var times = new List<long>();
        while (source.TryRead(out var f)) times.Add(f.Time.UnixNanoseconds);
        return (times, source.Info, source.End);
    }

    [Fact]
    public void WriteInterfaceStatistics_ReadBack_CountersTimesAndDropWindows()
    {
        var ms = new MemoryStream();
        using (var w = new PcapNgWriter(ms, leaveOpen: true))
        {
            w.AddInterface(LinkTypes.Ethernet, 65535, "eth0");
            w.WritePacket(0, new Timestamp(T0), Frame(60), 60);
            w.WriteInterfaceStatistics(0, new InterfaceStatistics
            {
                Time = new Timestamp(T0 + 1_000_000_000), StartTime = new Timestamp(T0 - 5), EndTime = new Timestamp(T0 + 1_000_000_000),
                Received = 100, InterfaceDropped = 0, OsDropped = 0, Delivered = 100,
            }, "first");
            w.WritePacket(0, new Timestamp(T0 + 2_000_000_000), Frame(60), 60);
            w.WriteInterfaceStatistics(0, new InterfaceStatistics
            {
                Time = new Timestamp(T0 + 3_000_000_000), StartTime = new Timestamp(T0 - 5), EndTime = new Timestamp(T0 + 3_000_000_000),
                Received = 250, InterfaceDropped = 3, OsDropped = 7, FilterAccepted = 240, Delivered = 240,
            });
        }

        using var source = CaptureFile.Open(new MemoryStream(ms.ToArray()), "isb");
        int frames = 0;
        while (source.TryRead(out _)) frames++;
        Assert.Equal(2, frames);
        Assert.True(source.End.IsClean);
        Assert.Equal(2, source.Info.Statistics.Count);
        Assert.Equal(0, source.Info.SkippedBlocks);
        var last = source.Info.Interfaces[0].Statistics!;
        Assert.Equal(new Timestamp(T0 + 3_000_000_000), last.Time);
        Assert.Equal(new Timestamp(T0 - 5), last.StartTime);
        Assert.Equal((250L, 3L, 7L, 240L, 240L), (last.Received!.Value, last.InterfaceDropped!.Value, last.OsDropped!.Value, last.FilterAccepted!.Value, last.Delivered!.Value));

        var drops = CaptureDrops.FromStatistics(source.Info, new Timestamp(T0))!;
        Assert.Equal((250L, 3L, 7L, 10L), (drops.Received, drops.InterfaceDropped, drops.OsDropped, drops.Dropped));
        var window = Assert.Single(drops.Windows);
        Assert.Equal(new DropWindow(new Timestamp(T0 + 1_000_000_000), new Timestamp(T0 + 3_000_000_000), 10), window);
        Assert.True(drops.Near(new Timestamp(T0 + 2_000_000_000), 0));
        Assert.False(drops.Near(new Timestamp(T0), 500_000_000));
        Assert.True(drops.Near(new Timestamp(T0), 1_000_000_000));
    }

    /// <summary>SIGHUP's reopen (issue 20 item 4): a file moved away stays complete and a new one starts under the name; a
    /// file left in place gets a second section; every frame is in exactly one place, each file ends in statistics.</summary>
    [Fact]
    public void Reopen_MovedThenKept_NewFileThenAppendedSection()
    {
        string path = P("hup.pcapng");
        var c = new Counters();
        using (var w = new RotatingPcapNgWriter(path, new RotationOptions(), LinkTypes.Ethernet, 262_144, "veth-test", "test", c.Now))
        {
            WriteFrames(w, c, 10, 100, 1_000_000);
            w.WaitForPendingWrites();
            File.Move(path, P("hup.pcapng.1"));
            w.Reopen();
            WriteFrames(w, c, 20, 100, 1_000_000, startIndex: 10);
            w.Reopen(); // not moved: appended
            WriteFrames(w, c, 5, 100, 1_000_000, startIndex: 30);
            Assert.Equal(2, w.Reopens);
            Assert.Null(w.Error);
        }
        var moved = Read(P("hup.pcapng.1"));
        var kept = Read(path);
        Assert.True(moved.End.IsClean, moved.End.Reason);
        Assert.True(kept.End.IsClean, kept.End.Reason);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => T0 + i * 1_000_000L), moved.Times);
        Assert.Equal(Enumerable.Range(10, 25).Select(i => T0 + i * 1_000_000L), kept.Times);
        Assert.Single(moved.Info.Statistics);
        Assert.Equal(2, kept.Info.Statistics.Count); // one statistics block per section
    }

    [Fact]
    public void Analyze_FileWithStatistics_InputSummaryShowsReceivedAndDropped()
    {
        string path = P("isb.pcapng");
        var c = new Counters { InterfaceDropped = 2 };
        using (var w = new RotatingPcapNgWriter(path, new RotationOptions(), LinkTypes.Ethernet, 262_144, "veth-test", "test", c.Now))
            WriteFrames(w, c, 50, 100, 1_000_000);

        var a = FileAnalyzer.Analyze(path);
        Assert.NotNull(a.Input.Drops);
        Assert.Equal((50L, 5L, 2L), (a.Input.Drops!.Received, a.Input.Drops.OsDropped, a.Input.Drops.InterfaceDropped));
        var text = new StringWriter();
        PathProbe.Reports.TextReport.Write(text, [a]);
        string flat = TestText.Flat(text.ToString());
        Assert.Contains("interface veth-test: 50 received, 2 dropped by the interface, 5 dropped by the OS (capture buffer full), 45 delivered", flat);
        Assert.Contains("capture loss: 7 packets dropped by the capture itself (pcapng interface statistics) in 1 window", flat);

        using var ms = new MemoryStream();
        PathProbe.Reports.JsonReport.Write(ms, [a], indented: false);
        using var doc = System.Text.Json.JsonDocument.Parse(ms.ToArray());
        var input = doc.RootElement.GetProperty("inputs")[0];
        Assert.Equal(50, input.GetProperty("interfaces")[0].GetProperty("statistics").GetProperty("received").GetInt64());
        Assert.Equal(5, input.GetProperty("interfaces")[0].GetProperty("statistics").GetProperty("osDropped").GetInt64());
        Assert.Equal(7, input.GetProperty("captureLoss").GetProperty("dropped").GetInt64());
        Assert.Equal(0, input.GetProperty("captureLoss").GetProperty("ackedUnseen").GetInt64());
    }

    [Fact]
    public void Analyze_StatisticsAt2Pow64_SaturateNeverNegative()
    {
        // fuzz/regressions: counters of 2^64-1 in both drop options summed to -2 before.
        var a = FileAnalyzer.Analyze(Path.Combine(TestPaths.RepoRoot, "fuzz", "regressions", "isb-extreme-counters.pcapng"));
        var drops = a.Input.Drops!;
        Assert.Equal(2, drops.Samples);  // the ISB for an undescribed interface 7 is skipped
        Assert.Equal(long.MaxValue, Assert.Single(drops.Windows).Dropped);
        Assert.Equal(1, drops.Dropped); // counters are cumulative: the last sample is the total
        Assert.Equal(long.MaxValue, a.Input.Info!.Statistics[0].Received);
    }

    [SkippableFact]
    public void Tshark_FileWithStatistics_ReadsCleanlyAndSeesTheCounters()
    {
        Skip.IfNot(Tshark.Installed, "tshark is not installed");
        string path = P("isb-tshark.pcapng");
        var c = new Counters { InterfaceDropped = 2 };
        using (var w = new RotatingPcapNgWriter(path, new RotationOptions(), LinkTypes.Ethernet, 262_144, "veth-test", "test", c.Now))
            WriteFrames(w, c, 50, 100, 1_000_000);

        var (frames, clean, errors) = Tshark.CountFrames(path);
        Assert.True(clean, errors);
        Assert.Equal(50, frames);
        string? capinfos = TestPaths.Tool("capinfos");
        Skip.If(capinfos is null, "capinfos is not installed (wireshark-common)");
        var (stdout, _, exit) = RunTool(capinfos!, path);
        Assert.Equal(0, exit);
        // capinfos prints the ISB counters under "Capture oper-sys"... per interface: "Number of stat entries = 1".
        Assert.Contains("Number of stat entries = 1", stdout);
        Assert.Contains("Number of packets = 50", stdout);
    }

    [SkippableFact]
    public void Rotate_C1W3_KeepsExactlyThreeFilesEachValidWithStatistics()
    {
        string path = P("ring.pcapng");
        var c = new Counters();
        var rotation = new RotationOptions { LimitBytes = 1_000_000, Files = 3 };
        RotatingPcapNgWriter w;
        using (w = new RotatingPcapNgWriter(path, rotation, LinkTypes.Ethernet, 262_144, "veth-test", "ring", c.Now))
            WriteFrames(w, c, 5_000, 1_000, 1_000_000); // ~5.2 MB: five rotations, so the ring wraps

        var files = Directory.GetFiles(_dir).Select(Path.GetFileName).OrderBy(f => f).ToList();
        Assert.Equal(["ring.pcapng0", "ring.pcapng1", "ring.pcapng2"], files);
        Assert.Equal(6, w.FilesStarted);
        Assert.Equal(["ring.pcapng0", "ring.pcapng1", "ring.pcapng2"], w.Files.Select(Path.GetFileName).OrderBy(f => f));
        Assert.Null(w.Error);

        long total = 0;
        foreach (var f in files)
        {
            var (times, info, end) = Read(P(f!));
            Assert.True(end.IsClean, $"{f}: {end.Reason}");
            Assert.Equal("veth-test", info.Interfaces[0].Name);
            Assert.NotNull(info.Interfaces[0].Statistics);          // an ISB at the end of every file
            Assert.True(new FileInfo(P(f!)).Length <= 1_000_000 + 2_000, $"{f} is {new FileInfo(P(f!)).Length} bytes");
            total += times.Count;
        }
        // The ring wrapped: the oldest packets are gone, the newest are all there.
        var newest = Read(P(w.Files[^1])).Times;
        Assert.Equal(T0 + 4_999L * 1_000_000, newest[^1]);
        Assert.True(total < 5_000);

        if (!Tshark.Installed) throw new SkipException("tshark is not installed: files checked with PathProbe's reader only");
        foreach (var f in files)
        {
            var (frames, clean, errors) = Tshark.CountFrames(P(f!));
            Assert.True(clean, $"{f}: {errors}");
            Assert.Equal(Read(P(f!)).Times.Count, frames);
        }
    }

    [Fact]
    public void Rotate_CWithoutW_NamesLikeTcpdump()
    {
        string path = P("cap");
        var c = new Counters();
        using (var w = new RotatingPcapNgWriter(path, new RotationOptions { LimitBytes = 100_000 }, LinkTypes.Ethernet, 262_144, "x", null, c.Now))
            WriteFrames(w, c, 300, 1_000, 1_000_000); // ~310 kB: four files
        Assert.Equal(["cap", "cap1", "cap2", "cap3"], Directory.GetFiles(_dir).Select(Path.GetFileName).OrderBy(f => f));
    }

    /// <summary>The files capture -C writes are a rotated set for analyze (tcpdump's names), read as one input: their
    /// ISBs carry one capture's cumulative counters, so the joined input's capture loss is the last file's totals, with
    /// a drop window per file whose counters rose.</summary>
    [Fact]
    public void Rotate_C_FilesJoinedAsOneInput_CaptureLossFromEveryFilesStatistics()
    {
        string path = P("cap.pcapng");
        var c = new Counters();
        using (var w = new RotatingPcapNgWriter(path, new RotationOptions { LimitBytes = 100_000 }, LinkTypes.Ethernet, 262_144, "x", null, c.Now))
            WriteFrames(w, c, 300, 1_000, 1_000_000);
        string[] files = [P("cap.pcapng"), P("cap.pcapng1"), P("cap.pcapng2"), P("cap.pcapng3")];
        var plan = InputPlanner.Plan(files, JoinMode.Auto);
        var input = Assert.Single(plan);
        Assert.Equal(AnalysisInput.RotatedSet, input.JoinReason);

        var analysis = FileAnalyzer.Analyze(input, null, null);
        Assert.Equal(300, analysis.Input.Packets);
        var drops = Assert.IsType<CaptureDrops>(analysis.Input.Drops);
        Assert.Equal(4, drops.Samples);
        Assert.Equal(300, drops.Received);
        Assert.Equal(30, drops.OsDropped);
        Assert.Equal(30, drops.Windows.Sum(x => x.Dropped));
        Assert.Equal(4, drops.Windows.Count);
        Assert.False(analysis.Input.Info!.LimitsHit.AnyHit);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(3, 1)]
    [InlineData(10, 1)]
    [InlineData(11, 2)]
    [InlineData(101, 3)]
    public void Digits_AsTcpdumpGetWflagChars(int files, int width) =>
        Assert.Equal(width, RotatingPcapNgWriter.Digits(files - 1));

    [Fact]
    public void Rotate_W11_NamesArePaddedToTwoDigits()
    {
        string path = P("p");
        var c = new Counters();
        using (var w = new RotatingPcapNgWriter(path, new RotationOptions { LimitBytes = 10_000, Files = 11 }, LinkTypes.Ethernet, 262_144, "x", null, c.Now))
            WriteFrames(w, c, 30, 1_000, 1_000_000);
        Assert.Equal(["p00", "p01", "p02"], Directory.GetFiles(_dir).Select(Path.GetFileName).OrderBy(f => f));
    }

    [Fact]
    public void Rotate_GShortPeriod_OneFilePerPeriodNamedByStrftime()
    {
        string pattern = P("g-%Y%m%d-%H%M%S.pcapng");
        var c = new Counters();
        var start = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        using (var w = new RotatingPcapNgWriter(pattern, new RotationOptions { Seconds = 1 }, LinkTypes.Ethernet, 262_144, "x", null, c.Now, start, TimeZoneInfo.Utc))
            WriteFrames(w, c, 35, 100, 100_000_000); // 3.5 s of frames, one every 100 ms
        var files = Directory.GetFiles(_dir).Select(Path.GetFileName).OrderBy(f => f).ToList();
        Assert.Equal(["g-20270115-080000.pcapng", "g-20270115-080001.pcapng", "g-20270115-080002.pcapng", "g-20270115-080003.pcapng"], files);
        Assert.Equal(new[] { 10, 10, 10, 5 }, files.Select(f => Read(P(f!)).Times.Count));
    }

    [Fact]
    public void Rotate_GWithW_StopsAfterTheCount()
    {
        string pattern = P("gw-%s");
        var c = new Counters();
        var start = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        RotatingPcapNgWriter w;
        using (w = new RotatingPcapNgWriter(pattern, new RotationOptions { Seconds = 1, Files = 2 }, LinkTypes.Ethernet, 262_144, "x", null, c.Now, start))
        {
            WriteFrames(w, c, 50, 100, 100_000_000);
            Assert.True(w.LimitReached);
        }
        Assert.Equal(["gw-1800000000", "gw-1800000001"], Directory.GetFiles(_dir).Select(Path.GetFileName).OrderBy(f => f));
        Assert.Equal(20, Read(P("gw-1800000000")).Times.Count + Read(P("gw-1800000001")).Times.Count);
        Assert.Equal(1, w.FramesNotWritten); // the frame that would have opened the third file
    }

    [Fact]
    public void Rotate_GAndC_NumberRestartsAtEachTimeRotation()
    {
        string pattern = P("gc-%S-");
        var c = new Counters();
        var start = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        using (var w = new RotatingPcapNgWriter(pattern, new RotationOptions { Seconds = 1, LimitBytes = 5_000, Files = 3 }, LinkTypes.Ethernet, 262_144, "x", null, c.Now, start, TimeZoneInfo.Utc))
            WriteFrames(w, c, 20, 1_000, 100_000_000); // 2 s; ~10 kB per second: two size rotations per second
        Assert.Equal(["gc-00-0", "gc-00-1", "gc-01-0", "gc-01-1"], Directory.GetFiles(_dir).Select(Path.GetFileName).OrderBy(f => f));
    }

    [Theory]
    [InlineData("%Y-%m-%d %H:%M:%S", "2027-01-15 08:00:00")]
    [InlineData("%F_%T", "2027-01-15_08:00:00")]
    [InlineData("%a %b %e %j %y %s %%", "Fri Jan 15 015 27 1800000000 %")]
    [InlineData("%I %p %u %w %V %G %z %Z", "08 AM 5 5 02 2027 +0000 UTC")]
    [InlineData("no conversion", "no conversion")]
    [InlineData("%Q", "%Q")]
    public void Strftime_CLocale(string format, string expected) =>
        Assert.Equal(expected, Strftime.Format(format, DateTimeOffset.FromUnixTimeSeconds(1_800_000_000), TimeZoneInfo.Utc));

    [Fact]
    public void Write_ExistingFile_ReplacedNotTruncated()
    {
        // A ring reuses names; the old file is unlinked and a new one created (a process holding the old one open keeps
        // its data), which avoids ext4's flush-on-close of truncated files.
        string path = P("replace");
        File.WriteAllBytes(path, new byte[100_000]);
        using var old = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var c = new Counters();
        using (var w = new RotatingPcapNgWriter(path, new RotationOptions(), LinkTypes.Ethernet, 262_144, "x", null, c.Now))
            WriteFrames(w, c, 10, 100, 1_000);
        Assert.Equal(100_000, old.Length);
        Assert.Equal(10, Read(path).Times.Count);
    }

    [SkippableFact]
    public void Write_DevFull_ErrorRecordedNothingThrown()
    {
        Skip.IfNot(File.Exists("/dev/full"), "no /dev/full");
        var c = new Counters();
        RotatingPcapNgWriter w;
        using (w = new RotatingPcapNgWriter("/dev/full", new RotationOptions(), LinkTypes.Ethernet, 262_144, "x", null, c.Now))
        {
            WriteFrames(w, c, 1_000, 1_000, 1_000);
            w.WaitForPendingWrites();
            WriteFrames(w, c, 10, 1_000, 1_000, 1_000);
        }
        Assert.NotNull(w.Error);
        Assert.Contains("No space left on device", w.Error);
        // Every frame handed over is counted once: refused (each call stops at its first refusal; the first can come
        // while the first 1,000 are still being handed over, when the writer thread reports the error early) or
        // accepted and then discarded with its 1,032-byte block.
        long accepted = c.Received - w.FramesNotWritten;
        Assert.True(w.FramesNotWritten >= 1 && accepted >= 1, $"{w.FramesNotWritten} frames refused, {accepted} accepted");
        Assert.True(w.BytesNotWritten >= accepted * 1_032,
            $"{w.BytesNotWritten} bytes not written for {accepted} frames accepted: not every frame counted");
    }

    /// <summary>A real full disk: a 1 MiB tmpfs. The file keeps every whole block written before the failure.</summary>
    [SkippableFact]
    public void Write_DiskFull_FileValidUpToLastWholeBlock()
    {
        string mnt = P("small");
        Directory.CreateDirectory(mnt);
        var (_, err, exit) = RunTool("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt);
        Skip.If(exit != 0, $"cannot mount a small tmpfs (needs root): {err.Trim()}");
        try
        {
            string path = Path.Combine(mnt, "full.pcapng");
            var c = new Counters();
            RotatingPcapNgWriter w;
            using (w = new RotatingPcapNgWriter(path, new RotationOptions(), LinkTypes.Ethernet, 262_144, "x", null, c.Now))
            {
                WriteFrames(w, c, 3_000, 1_000, 1_000);
                w.WaitForPendingWrites();
            }
            Assert.NotNull(w.Error);
            Assert.Contains("the file is valid up to there", w.Error);
            Assert.True(w.BytesNotWritten > 0);
            var (times, _, end) = Read(path);
            Assert.True(end.IsClean, end.Reason);      // cut back to the end of a block, not mid-block
            // The write that hit the full disk kept its whole blocks that fit: the file fills the 1 MiB but for less
            // than a block and the tmpfs's last page.
            long size = new FileInfo(path).Length;
            Assert.True(size > (1 << 20) - 1_032 - 4_096, $"{size} bytes, {times.Count} frames kept");
            Assert.Equal(T0 + (times.Count - 1) * 1_000L, times[^1]);
            if (Tshark.Installed)
            {
                var (frames, clean, errors) = Tshark.CountFrames(path);
                Assert.True(clean, errors);
                Assert.Equal(times.Count, frames);
            }
        }
        finally
        {
            RunTool("umount", mnt);
        }
    }

    private static (string Stdout, string Stderr, int Exit) RunTool(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            string stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (stdout, stderr.Result, p.ExitCode);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return ("", e.Message, -1);
        }
    }
}
