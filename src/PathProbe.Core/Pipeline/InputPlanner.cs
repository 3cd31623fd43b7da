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
/// Decides which files are read together. A rotated set, as tcpdump -C/-W/-G or pathprobe capture -C write it
/// (trace.pcap, trace.pcap1, trace.pcap2; trace.pcapng, trace1.pcapng; trace-20261123-2300.pcap, ...), is
/// recognised when the files sit in one directory, their names are the same once digits are removed, their first
/// frames share a link type and start at different times; reading then checks that each file starts after the
/// previous one ended, and if they overlap they are different vantages and are analysed one by one.
/// </summary>
public static class InputPlanner
{
    private static readonly Regex Digits = new("[0-9]+", RegexOptions.CultureInvariant);

    public static List<AnalysisInput> Plan(IReadOnlyList<string> paths, JoinMode mode, CancellationToken cancel = default)
    {
        if (paths.Count == 0) return [];
        if (mode == JoinMode.Always && paths.Count > 1) return [new AnalysisInput { Paths = paths.ToArray(), JoinReason = AnalysisInput.Requested }];
        var plan = paths.Select(AnalysisInput.One).ToList();
        if (mode == JoinMode.Never || paths.Count < 2) return plan;

        var groups = paths.Select((p, i) => (Path: p, Index: i))
            .Where(x => InputStreams.CanReopen(x.Path) && paths.Count(p => p == x.Path) == 1) // peeking a FIFO would lose its data
            .GroupBy(x => ShapeKey(x.Path))
            .Where(g => g.Count() > 1)
            .ToList();
        var joined = new Dictionary<int, AnalysisInput>();
        var absorbed = new HashSet<int>();
        foreach (var g in groups)
        {
            var members = g.ToList();
            if (!LooksLikeOneCapture(members.Select(m => m.Path).ToList(), cancel)) continue;
            joined[members[0].Index] = new AnalysisInput { Paths = members.Select(m => m.Path).ToArray(), JoinReason = AnalysisInput.RotatedSet, Strict = true };
            foreach (var m in members.Skip(1)) absorbed.Add(m.Index);
        }
        var result = new List<AnalysisInput>();
        for (int i = 0; i < paths.Count; i++)
        {
            if (absorbed.Contains(i)) continue;
            result.Add(joined.TryGetValue(i, out var set) ? set : plan[i]);
        }
        return result;
    }

    /// <summary>The directory and the file name without its digits: equal for the files of a rotated set.</summary>
    public static string ShapeKey(string path)
    {
        string full = Path.GetFullPath(path);
        return Path.GetDirectoryName(full) + "/" + Digits.Replace(Path.GetFileName(full), "#");
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
