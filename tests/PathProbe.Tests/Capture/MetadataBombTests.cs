using System.Buffers.Binary;
using System.IO.Compression;
using System.Text.Json;
using PathProbe.Capture;
using PathProbe.Pipeline;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Capture;

/// <summary>
/// The two pcapng metadata bombs of issue 15, generated here (never committed): 4 M interface description blocks in one
/// section (gzip ~300 KB), and 8,000 section headers with 64 KB comments (gzip ~600 KB). Before the bounds they took
/// 1.57 GB and 1.65 GB of memory and 440 MB of JSON.
/// </summary>
public sealed class MetadataBombs : IDisposable
{
    public const int BombInterfaces = 4 * 1024 * 1024;
    public const int BombSections = 8_000;
    public const int CommentBytes = 65_532; // the largest 4-byte-aligned option value (the length field is 16 bits)

    private readonly string _dir = Directory.CreateTempSubdirectory("pathprobe-bombs-").FullName;

    public MetadataBombs()
    {
        InterfaceBomb = Path.Combine(_dir, "interfaces.pcapng.gz");
        SectionBomb = Path.Combine(_dir, "sections.pcapng.gz");
        WriteInterfaceBomb(InterfaceBomb);
        WriteSectionBomb(SectionBomb);
    }

    public string InterfaceBomb { get; }
    public string SectionBomb { get; }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Stream Gzip(string path) =>
        new GZipStream(new FileStream(path, FileMode.CreateNew, FileAccess.Write), CompressionLevel.Optimal);

    /// <summary>SHB; an EPB on interface 0 would be corrupt before any IDB, so: IDB 0, a packet on it, then 4 M − 1
    /// more IDBs, a packet on interface 0 and one on the last interface.</summary>
    private static void WriteInterfaceBomb(string path)
    {
        using var s = Gzip(path);
        s.Write(Shb(null));
        byte[] idb = Idb();
        s.Write(idb);
        s.Write(Epb(0, 1_800_000_000_000_000UL));
        var chunk = new byte[idb.Length * 4096];
        for (int i = 0; i < 4096; i++) idb.CopyTo(chunk, i * idb.Length);
        for (int written = 1; written < BombInterfaces; written += 4096)
            s.Write(chunk, 0, idb.Length * Math.Min(4096, BombInterfaces - written));
        s.Write(Epb(0, 1_800_000_001_000_000UL));
        s.Write(Epb(BombInterfaces - 1, 1_800_000_002_000_000UL));
    }

    /// <summary>8,000 sections, each an SHB with a 64 KB comment, an IDB and one packet.</summary>
    private static void WriteSectionBomb(string path)
    {
        using var s = Gzip(path);
        byte[] shb = Shb(new string('c', CommentBytes));
        byte[] idb = Idb();
        for (int i = 0; i < BombSections; i++)
        {
            s.Write(shb);
            s.Write(idb);
            s.Write(Epb(0, 1_800_000_000_000_000UL + (ulong)i * 1000));
        }
    }

    internal static byte[] Shb(string? comment)
    {
        var b = new CaptureBytes(false);
        byte[][] options = comment is null ? [] : [b.Opt(1, comment), b.EndOpt()];
        return b.Shb(options).ToArray();
    }

    internal static byte[] Idb() => new CaptureBytes(false).Idb(1, 262_144).ToArray();

    /// <summary>A 60-byte Ethernet frame (not IP: only reading is under test).</summary>
    internal static byte[] Epb(int iface, ulong micros) =>
        new CaptureBytes(false).Epb((uint)iface, micros, new byte[60]).ToArray();
}

public sealed class MetadataBombTests(MetadataBombs bombs) : IClassFixture<MetadataBombs>
{
    [Fact]
    public void Analyze_InterfaceBomb_KeepsBoundedInterfacesAndCountsTheRest()
    {
        var a = FileAnalyzer.Analyze(bombs.InterfaceBomb);
        var info = a.Input.Info!;
        var limits = CaptureLimits.Default;
        Assert.Null(a.Input.Error);
        Assert.Equal(2, a.Input.Packets);   // the two packets on interface 0
        Assert.Equal(MetadataBombs.BombInterfaces - limits.MaxInterfacesPerSection, info.LimitsHit.InterfacesIgnored);
        Assert.Equal(1, info.LimitsHit.PacketsOnIgnoredInterfaces);
        Assert.Equal(limits.MaxInterfacesListed, info.Interfaces.Count);
        Assert.Equal(limits.MaxInterfacesPerSection - limits.MaxInterfacesListed, info.LimitsHit.InterfacesNotListed);

        var text = new StringWriter();
        PathProbe.Reports.TextReport.Write(text, [a]);
        string flat = PathProbe.Tests.Support.TestText.Flat(text.ToString());
        Assert.Contains("limit: 4,190,208 interface description blocks beyond 4,096 per section ignored (1 packets on them skipped)", flat);
        Assert.Contains("limit: 3,072 interfaces beyond 1,024 not listed", flat);
    }

    [Fact]
    public void Analyze_SectionBomb_KeepsBoundedCommentsAndCountsTheRest()
    {
        var a = FileAnalyzer.Analyze(bombs.SectionBomb);
        var info = a.Input.Info!;
        var limits = CaptureLimits.Default;
        Assert.Null(a.Input.Error);
        Assert.Equal(MetadataBombs.BombSections, a.Input.Packets);
        Assert.Equal(MetadataBombs.BombSections, info.Sections);
        Assert.Equal(MetadataBombs.BombSections - limits.MaxSectionsDescribed, info.LimitsHit.SectionsNotDescribed);
        Assert.True(info.Comments.Sum(c => c.Length) <= limits.MaxOptionTextBytes);
        Assert.Equal(limits.MaxOptionTextBytes / limits.MaxOptionTextLength, info.Comments.Count);
        // Of the described sections' comments, everything past 4 KiB each and 64 KiB in all was not kept.
        Assert.Equal((long)limits.MaxSectionsDescribed * MetadataBombs.CommentBytes - limits.MaxOptionTextBytes, info.LimitsHit.OptionTextBytesNotKept);

        using var ms = new MemoryStream();
        PathProbe.Reports.JsonReport.Write(ms, [a], indented: false);
        using var doc = JsonDocument.Parse(ms.ToArray());
        var lim = doc.RootElement.GetProperty("inputs")[0].GetProperty("limits");
        Assert.Equal(6_976, lim.GetProperty("sectionsNotDescribed").GetInt64());
    }

    public static TheoryData<string> Bombs => new() { "interfaces", "sections" };

    /// <summary>The target, measured as the issue measured it: the real command under /usr/bin/time -v, peak RSS
    /// ≤ 256 MB, the JSON bounded (it was 440 MB), and the bound named in the text report.</summary>
    [SkippableTheory]
    [MemberData(nameof(Bombs))]
    public void Cli_Bomb_PeakRssAndJsonBounded(string which)
    {
        Skip.IfNot(File.Exists("/usr/bin/time"), "/usr/bin/time is missing (apt-get install time): cannot measure peak RSS");
        string cli = Path.Combine(AppContext.BaseDirectory, "pathprobe.dll");
        Skip.IfNot(File.Exists(cli), "pathprobe.dll not beside the tests");
        string bomb = which == "interfaces" ? bombs.InterfaceBomb : bombs.SectionBomb;

        var (rssKb, json) = CliProcess.RunMeasured(cli, 120_000, "analyze", "--json", bomb);
        Assert.True(rssKb <= 256 * 1024, $"peak RSS {rssKb} kB for the {which} bomb, over 256 MB");
        Assert.True(json.Length < 2_000_000, $"JSON of {json.Length} bytes for the {which} bomb");
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(JsonValueKind.Object, doc.RootElement.GetProperty("inputs")[0].GetProperty("limits").ValueKind);

        var (rssText, text) = CliProcess.RunMeasured(cli, 120_000, "analyze", bomb);
        Assert.True(rssText <= 256 * 1024, $"peak RSS {rssText} kB for the {which} bomb (text), over 256 MB");
        Assert.Contains("limit: ", text);
    }
}
