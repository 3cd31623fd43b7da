using System.Text.RegularExpressions;
using PathProbe.Capture;
using Xunit.Abstractions;
using static PathProbe.Tests.Capture.CaptureTestHelpers;

namespace PathProbe.Tests.Capture;

/// <summary>
/// Reads the public captures in ../shared/corpus (see its README) and cross-checks frame counts with tshark.
/// Each test returns early, saying so in its output, when the corpus or tshark is absent.
/// </summary>
public partial class CorpusTests(ITestOutputHelper output)
{
    private string? Corpus(string sub)
    {
        string? root = CorpusRoot();
        string? dir = root is null ? null : Path.Combine(root, sub);
        if (dir is null || !Directory.Exists(dir))
            throw new SkipException($"corpus folder '{sub}' not found (expected ../shared/corpus/{sub} from the repository root)");
        return dir;
    }

    private static string EpochText(long nanos) =>
        (nanos / 1_000_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture) + "." +
        (nanos % 1_000_000_000).ToString("D9", System.Globalization.CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^\s*(EPB|SPB|PB):\s*(\d+)", RegexOptions.Multiline)]
    private static partial Regex PacketBlockCount();

    private static int PacketsFromDescription(string txtPath) =>
        PacketBlockCount().Matches(File.ReadAllText(txtPath)).Sum(m => int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));

    [SkippableTheory]
    [InlineData("output_le")]
    [InlineData("output_be")]
    public void Open_PcapNgGeneratorFiles_FrameCountsAndTimesMatchDescriptionAndTshark(string variant)
    {
        string? dir = Corpus(Path.Combine("pcapng-test-generator", variant));
        if (dir is null) return;
        if (!Tshark.Installed) output.WriteLine("tshark not installed: comparing with the .txt descriptions only");

        var failures = new List<string>();
        var files = Directory.GetFiles(dir, "*.pcapng", SearchOption.AllDirectories).Order().ToList();
        foreach (string file in files)
        {
            using var source = CaptureFile.Open(file);
            var frames = ReadAll(source);
            string rel = Path.GetRelativePath(dir, file);
            int expected = PacketsFromDescription(Path.ChangeExtension(file, ".txt"));
            string line = $"{rel}: {frames.Count} frames, end {source.End.Kind}, {source.Info.Sections} section(s), " +
                          $"{source.Info.Interfaces.Count} interface(s), {source.Info.SkippedBlocks} skipped; .txt says {expected}";
            if (frames.Count != expected) failures.Add(line);
            if (!source.End.IsClean) failures.Add($"{rel}: {source.End}");
            if (Tshark.Installed)
            {
                var (times, clean, errors) = Tshark.PacketTimes(file);
                line += $"; tshark {times.Count}{(clean ? "" : " (" + errors + ")")}";
                if (times.Count != frames.Count) failures.Add(line);
                for (int i = 0; i < Math.Min(times.Count, frames.Count); i++)
                {
                    // tshark prints no time for SPBs; PathProbe gives them time 0.
                    string ours = frames[i].Nanos == 0 && times[i].Length == 0 ? "" : EpochText(frames[i].Nanos);
                    if (ours != times[i]) failures.Add($"{rel} frame {i + 1}: time {ours}, tshark {times[i]}");
                }
            }
            output.WriteLine(line);
        }
        Assert.True(files.Count > 0, "no .pcapng files in " + dir);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [SkippableFact]
    public void TryRead_PcapNgGeneratorTwins_LittleAndBigEndianGiveIdenticalFrames()
    {
        string? le = Corpus(Path.Combine("pcapng-test-generator", "output_le"));
        string? be = Corpus(Path.Combine("pcapng-test-generator", "output_be"));
        if (le is null || be is null) return;

        int compared = 0;
        foreach (string leFile in Directory.GetFiles(le, "*.pcapng", SearchOption.AllDirectories).Order())
        {
            string beFile = Path.Combine(be, Path.GetRelativePath(le, leFile));
            if (!File.Exists(beFile)) continue;
            using var a = CaptureFile.Open(leFile);
            using var b = CaptureFile.Open(beFile);
            var fa = ReadAll(a);
            var fb = ReadAll(b);
            Assert.Equal(fa.Count, fb.Count);
            for (int i = 0; i < fa.Count; i++)
            {
                Assert.Equal(fa[i].Data, fb[i].Data);
                Assert.Equal((fa[i].Nanos, fa[i].OriginalLength, fa[i].LinkType, fa[i].InterfaceIndex),
                             (fb[i].Nanos, fb[i].OriginalLength, fb[i].LinkType, fb[i].InterfaceIndex));
            }
            Assert.False(a.Info.BigEndian);
            Assert.True(b.Info.BigEndian);
            Assert.Equal(a.Info.Interfaces.Select(x => (x.Name, x.LinkType, x.TicksPerSecond)),
                         b.Info.Interfaces.Select(x => (x.Name, x.LinkType, x.TicksPerSecond)));
            Assert.Equal(a.Info.Comments, b.Info.Comments);
            compared++;
        }
        output.WriteLine($"{compared} LE/BE pairs compared");
        Assert.True(compared > 0);
    }

    /// <summary>Files where tshark reads without complaint but PathProbe deliberately differs, with the reason.</summary>
    private static readonly Dictionary<string, string> KnownTsharkDifferences = new(StringComparer.Ordinal)
    {
    };

    [SkippableFact]
    public void Open_TcpdumpTestCaptures_NeverThrowUnexpectedAndMatchTshark()
    {
        string? dir = Corpus(Path.Combine("tcpdump", "tests"));
        if (dir is null) return;
        if (!Tshark.Installed) output.WriteLine("tshark not installed: frame counts not cross-checked");

        var files = Directory.GetFiles(dir).Where(f => f.EndsWith(".pcap", StringComparison.Ordinal) || f.EndsWith(".pcapng", StringComparison.Ordinal))
            .Order().ToList();
        var failures = new List<string>();
        int clean = 0, damaged = 0, rejected = 0, compared = 0;
        foreach (string file in files)
        {
            string name = Path.GetFileName(file);
            int count;
            string outcome;
            try
            {
                using var source = CaptureFile.Open(file);
                count = ReadAll(source).Count;
                outcome = source.End.IsClean ? "clean" : $"{source.End.Kind} at {source.End.Offset}: {source.End.Reason}";
                if (source.End.IsClean) clean++; else damaged++;
                if (source.End.Kind is not (SourceEndKind.EndOfInput or SourceEndKind.Truncated or SourceEndKind.Corrupt))
                    failures.Add($"{name}: unexpected end {source.End}");
            }
            catch (CaptureFormatException ex)
            {
                count = 0;
                outcome = "rejected: " + ex.Message;
                rejected++;
            }
            catch (Exception ex)
            {
                failures.Add($"{name}: {ex.GetType().Name} escaped: {ex.Message}");
                continue;
            }

            string line = $"{name}: {count} frames, {outcome}";
            if (Tshark.Installed)
            {
                var (tf, tsharkClean, errors) = Tshark.CountFrames(file);
                line += $"; tshark {tf}{(tsharkClean ? "" : " with errors: " + errors)}";
                if (tsharkClean)
                {
                    compared++;
                    if (tf != count && !KnownTsharkDifferences.ContainsKey(name))
                        failures.Add(line);
                }
            }
            output.WriteLine(line);
        }
        output.WriteLine($"{files.Count} files: {clean} clean, {damaged} truncated/corrupt, {rejected} rejected; {compared} compared with tshark");
        Assert.True(files.Count > 0);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
