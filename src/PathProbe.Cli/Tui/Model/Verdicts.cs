using System.Globalization;
using System.Text;
using PathProbe.Findings;
using PathProbe.Primitives;

namespace PathProbe.Cli.Tui.Model;

/// <summary>
/// A finding as the TUI shows it: kind, severity, flows, time, texts already cleaned for a terminal, the group it
/// belongs to, and the few facts the graphs draw (a stall's interval, a black hole's path-MTU ceiling). Immutable.
/// </summary>
public sealed record TuiVerdict
{
    /// <summary>Position in the engine's list (stable for the life of the finding: live updates replace in place).</summary>
    public required int Index { get; init; }
    public required string Kind { get; init; }
    public required Severity Severity { get; init; }
    public required IReadOnlyList<int> Flows { get; init; }
    /// <summary>When it began (ns since the epoch).</summary>
    public required long Time { get; init; }
    public required string Summary { get; init; }
    public required string Evidence { get; init; }
    public string? Advice { get; init; }
    /// <summary>The peer it concerns (evidence "peer", else the server of its first flow); with the kind, its group.</summary>
    public required string Peer { get; init; }
    /// <summary>A stall's silence [start, end) as the stall finding measured it; 0 when not a stall.</summary>
    public long StallStart { get; init; }
    public long StallEnd { get; init; }
    /// <summary>An mtu-blackhole's ceiling in IP packet bytes: packets this large or larger did not get through. 0 none.</summary>
    public int Ceiling { get; init; }

    public string SeverityName => Finding.SeverityName(Severity);
}

/// <summary>Verdicts of one kind toward one peer (Zeek's notice identifier: kind + peer).</summary>
public sealed record VerdictGroup(string Kind, string Peer, Severity Worst, IReadOnlyList<TuiVerdict> Verdicts)
{
    public IEnumerable<int> Flows => Verdicts.SelectMany(v => v.Flows).Distinct();
}

/// <summary>
/// The one place the TUI reads findings (the engine's <see cref="Finding"/> today; typed verdicts later): everything
/// else in the TUI sees only <see cref="TuiVerdict"/>.
/// </summary>
public static class VerdictAdapter
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <param name="serverOf">The server address of a flow, for findings whose evidence names no peer.</param>
    public static TuiVerdict[] FromFindings(IReadOnlyList<Finding> findings, Func<int, string?> serverOf)
    {
        var result = new TuiVerdict[findings.Count];
        for (int i = 0; i < result.Length; i++) result[i] = From(findings[i], i, serverOf);
        return result;
    }

    public static TuiVerdict From(Finding f, int index, Func<int, string?> serverOf)
    {
        string? peer = Value(f.Evidence, "peer") as string;
        peer ??= f.Flows.Count > 0 ? serverOf(f.Flows[0]) : null;
        long stallStart = 0, stallEnd = 0;
        if (f.Kind == "stall" && Value(f.Evidence, "start") is Timestamp start && Number(Value(f.Evidence, "durationSeconds")) is { } seconds)
        {
            stallStart = start.UnixNanoseconds;
            stallEnd = stallStart + (long)Math.Round(seconds * 1e9);
        }
        return new TuiVerdict
        {
            Index = index,
            Kind = f.Kind,
            Severity = f.Severity,
            Flows = f.Flows,
            Time = f.Time.UnixNanoseconds,
            Summary = SafeText.Clean(f.Summary, 4000),
            Evidence = SafeText.Clean(EvidenceText(f.Evidence), 4000),
            Advice = f.Advice is null ? null : SafeText.Clean(f.Advice, 4000),
            Peer = SafeText.Clean(peer ?? "-", 200),
            StallStart = stallStart,
            StallEnd = stallEnd,
            Ceiling = f.Kind == "mtu-blackhole" ? Ceiling(f.Evidence) : 0,
        };
    }

    /// <summary>Grouped by kind and peer, worst first, then by size.</summary>
    public static List<VerdictGroup> Group(IReadOnlyList<TuiVerdict> verdicts) =>
        verdicts.GroupBy(v => (v.Kind, v.Peer))
            .Select(g => new VerdictGroup(g.Key.Kind, g.Key.Peer, g.Max(v => v.Severity), g.ToList()))
            .OrderByDescending(g => g.Worst).ThenByDescending(g => g.Verdicts.Count)
            .ThenBy(g => g.Kind, StringComparer.Ordinal).ThenBy(g => g.Peer, StringComparer.Ordinal)
            .ToList();

    /// <summary>
    /// The path-MTU ceiling of an mtu-blackhole finding in IP packet bytes: evidence <c>pathMtu</c> holds the range the
    /// path MTU lies in (<c>min</c> got through, nothing above <c>max</c> did), so packets of <c>max + 1</c> bytes or
    /// more never got through; with only <c>min</c>, the line is at <c>min</c>. 0 when the evidence has neither.
    /// </summary>
    private static int Ceiling(Evidence e)
    {
        if (Value(e, "pathMtu") is not Evidence range) return 0;
        double? min = Number(Value(range, "min")), max = Number(Value(range, "max"));
        if (max is > 0 and < int.MaxValue) return (int)max.Value + 1;
        if (min is > 0 and < int.MaxValue) return (int)min.Value;
        return 0;
    }

    private static object? Value(Evidence e, string name)
    {
        foreach (var (k, v) in e) if (k == name) return v;
        return null;
    }

    private static double? Number(object? v) => v switch
    {
        int i => i, long l => l, double d => d, float f => f, short s => s, ushort u => u, uint u => u, _ => null,
    };

    public static string EvidenceText(Evidence e)
    {
        var sb = new StringBuilder();
        foreach (var (k, v) in e)
        {
            if (sb.Length > 0) sb.Append(", ");
            sb.Append(k).Append('=').Append(Text(v));
        }
        return sb.ToString();

        static string Text(object? v) => v switch
        {
            null => "null",
            Evidence n => "{" + EvidenceText(n) + "}",
            string s => s,
            double d => d.ToString("0.###", Inv),
            float f => f.ToString("0.###", Inv),
            Timestamp t => t.ToIso8601(),
            bool b => b ? "true" : "false",
            System.Collections.IEnumerable list => "[" + string.Join(", ", list.Cast<object?>().Select(Text)) + "]",
            IFormattable x => x.ToString(null, Inv),
            _ => v.ToString() ?? "",
        };
    }
}
