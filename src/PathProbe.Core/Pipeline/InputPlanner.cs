using System.Text.RegularExpressions;
using PathProbe.Capture;

namespace PathProbe.Pipeline;

/// <summary>Whether several files are read as one capture.</summary>
public enum JoinMode
{
    /// <summary>Each file on its own, except a rotated set (names that differ only in numbers and whose frames
    /// follow one another in time), which is joined.</summary>
    Auto,
    /// <summary>All files as one capture (--join).</summary>
    Always,
    /// <summary>Each file on its own (--no-join).</summary>
    Never,
}

/// <summary>One input of an analysis: a file, standard input, or files read as one capture.</summary>
public sealed class AnalysisInput
{
    public required IReadOnlyList<string> Paths { get; init; }
    /// <summary>Why several files are one input: <see cref="Requested"/> or <see cref="RotatedSet"/>; null for one file.</summary>
    public string? JoinReason { get; init; }
    /// <summary>The files must follow one another in time (a detected rotated set): reading throws
    /// <see cref="InputsOverlapException"/> when they overlap.</summary>
    public bool Strict { get; init; }

    public const string Requested = "join";
    public const string RotatedSet = "rotated-set";

    public static AnalysisInput One(string path) => new() { Paths = [path] };
}

/// <summary>
/// Decides which files are read together. A rotated set, as tcpdump or pathprobe capture -C/-W/-G write it, is
/// recognised by its names, all in one directory:
/// <list type="bullet">
/// <item>a counter at the end, tcpdump and pathprobe capture -C/-W style: trace.pcap, trace.pcap1, trace.pcap2 (or
/// trace.pcap0..2);</item>
/// <item>a counter before the extension: trace.pcapng, trace1.pcapng, trace2.pcapng;</item>
/// <item>times in the name, tcpdump -G style (strftime) or editcap's split files: trace-20261123-2300.pcap,
/// trace-20261123-2400.pcap; the names differ only in runs of 4 or more digits.</item>
/// </list>
/// Counters must be consecutive (a base file without a number counts as 0), so "ipv4.pcap ipv6.pcap" or
/// "trace3.pcap trace7.pcap" are not a set (--join joins them anyway). The first frames must share a link type and
/// start at different times; reading then checks that each file starts after the previous one ended, and if they
/// overlap they are different vantages and are analysed one by one.
/// </summary>
public static class InputPlanner
{
    private static readonly Regex DigitRuns = new("[0-9]+", RegexOptions.CultureInvariant);
    private static readonly Regex TrailingCounter = new(@"^(?<stem>.*?)(?<n>[0-9]*)$", RegexOptions.CultureInvariant);
    private static readonly Regex CounterBeforeExtension = new(@"^(?<stem>.*?)(?<n>[0-9]*)(?<ext>\.[A-Za-z][A-Za-z0-9]*(\.gz)?)$", RegexOptions.CultureInvariant);

    public static List<AnalysisInput> Plan(IReadOnlyList<string> paths, JoinMode mode, CancellationToken cancel = default)
    {
        if (paths.Count == 0) return [];
        if (mode == JoinMode.Always && paths.Count > 1) return [new AnalysisInput { Paths = paths.ToArray(), JoinReason = AnalysisInput.Requested }];
        var plan = paths.Select(AnalysisInput.One).ToList();
        if (mode == JoinMode.Never || paths.Count < 2) return plan;

        // Peeking a FIFO would lose its data: only regular files, each named once, are candidates.
        var candidates = Enumerable.Range(0, paths.Count)
            .Where(i => InputStreams.CanReopen(paths[i]) && paths.Count(p => p == paths[i]) == 1).ToList();
        var joined = new Dictionary<int, AnalysisInput>();
        var taken = new HashSet<int>();
        foreach (var set in NamedSets(paths, candidates).OrderByDescending(g => g.Count))
        {
            if (set.Any(taken.Contains) || !LooksLikeOneCapture(set.Select(i => paths[i]).ToList(), cancel)) continue;
            var ordered = set.OrderBy(i => i).ToList();
            joined[ordered[0]] = new AnalysisInput { Paths = ordered.Select(i => paths[i]).ToArray(), JoinReason = AnalysisInput.RotatedSet, Strict = true };
            taken.UnionWith(set);
        }
        var result = new List<AnalysisInput>();
        for (int i = 0; i < paths.Count; i++)
        {
            if (joined.TryGetValue(i, out var set)) result.Add(set);
            else if (!taken.Contains(i)) result.Add(plan[i]);
        }
        return result;
    }

    /// <summary>Groups of indexes whose names look like one rotated set (see the class summary).</summary>
    public static List<List<int>> NamedSets(IReadOnlyList<string> paths, IEnumerable<int> indexes)
    {
        var byCounter = new Dictionary<string, List<(int Index, long Counter)>>();
        var byShape = new Dictionary<string, List<int>>();
        foreach (int i in indexes)
        {
            string full = Path.GetFullPath(paths[i]);
            string dir = Path.GetDirectoryName(full) ?? "";
            string name = Path.GetFileName(full);
            var a = TrailingCounter.Match(name);
            Add(byCounter, $"end|{dir}|{a.Groups["stem"].Value}", i, a.Groups["n"].Value);
            var b = CounterBeforeExtension.Match(name);
            if (b.Success) Add(byCounter, $"ext|{dir}|{b.Groups["stem"].Value}|{b.Groups["ext"].Value}", i, b.Groups["n"].Value);
            string shape = dir + "/" + DigitRuns.Replace(name, "#");
            if (!byShape.TryGetValue(shape, out var list)) byShape[shape] = list = [];
            list.Add(i);
        }
        var sets = new List<List<int>>();
        foreach (var group in byCounter.Values)
        {
            if (group.Count < 2) continue;
            var counters = group.Select(g => g.Counter).OrderBy(c => c).ToList();
            bool consecutive = counters.Zip(counters.Skip(1)).All(p => p.Second == p.First + 1);
            if (consecutive) sets.Add(group.Select(g => g.Index).ToList());
        }
        foreach (var group in byShape.Values)
        {
            if (group.Count < 2) continue;
            var runs = group.Select(i => DigitRuns.Matches(Path.GetFileName(paths[i])).Select(m => m.Value).ToArray()).ToList();
            bool timeNamed = true;
            for (int r = 0; r < runs[0].Length && timeNamed; r++)
            {
                bool differs = runs.Any(x => x[r] != runs[0][r]);
                if (differs && runs.Any(x => x[r].Length < 4)) timeNamed = false;
            }
            if (timeNamed && runs.Any(x => !x.SequenceEqual(runs[0]))) sets.Add(group);
        }
        return sets;
    }

    private static void Add(Dictionary<string, List<(int, long)>> groups, string key, int index, string digits)
    {
        // A base file without a number is the set's first (0); a counter too long for a long is no counter.
        long n = 0;
        if (digits.Length > 0 && (digits.Length > 18 || !long.TryParse(digits, System.Globalization.CultureInfo.InvariantCulture, out n))) return;
        if (!groups.TryGetValue(key, out var list)) groups[key] = list = [];
        list.Add((index, n));
    }

    private static bool LooksLikeOneCapture(List<string> paths, CancellationToken cancel)
    {
        var firsts = new HashSet<long>();
        int? linkType = null;
        foreach (string path in paths)
        {
            try
            {
                using var source = CaptureFile.Open(InputStreams.Open(path, cancel), path);
                if (!source.TryRead(out RawFrame frame)) continue; // no frames: harmless in a set
                if (!firsts.Add(frame.Time.UnixNanoseconds)) return false; // two files starting together: two vantages
                if (linkType is { } lt && lt != frame.LinkType) return false;
                linkType = frame.LinkType;
            }
            catch (CaptureFormatException)
            {
                return false; // analysed one by one, where the error is reported for that file
            }
        }
        return firsts.Count > 1;
    }
}
