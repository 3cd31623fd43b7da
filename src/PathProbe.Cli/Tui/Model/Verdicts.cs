using System.Text;
using System.Text.Json;
using PathProbe.Findings;
using PathProbe.Findings.Kinds;
using PathProbe.Primitives;

namespace PathProbe.Cli.Tui.Model;

/// <summary>A stall of one flow as the stall verdict measured it: [Start, End) in ns since the epoch.</summary>
public readonly record struct StallInterval(int Flow, long Start, long End);

/// <summary>
/// A finding as the TUI shows it: kind, severity, flows, time, texts already cleaned for a terminal (the kind's own
/// writer made them, as for the report), the group it belongs to, and the few typed facts the graphs draw (each flow's
/// stall interval, a black hole's path-MTU ceiling). Immutable.
/// </summary>
public sealed record TuiVerdict
{
    /// <summary>Position in the engine's finding list (the finding's id - 1: stable for its life, live updates replace
    /// it in place).</summary>
    public required int Index { get; init; }
    public required string Kind { get; init; }
    public required Severity Severity { get; init; }
    public required IReadOnlyList<int> Flows { get; init; }
    /// <summary>When it began (ns since the epoch).</summary>
    public required long Time { get; init; }
    public required string Summary { get; init; }
    /// <summary>The evidence as the JSON report writes it (the kind's writer), compact.</summary>
    public required string Evidence { get; init; }
    public string? Advice { get; init; }
    /// <summary>The peer it concerns (the verdict's own peer, else the server of its first flow); with the kind, its group.</summary>
    public required string Peer { get; init; }
    /// <summary>Still in progress (live capture).</summary>
    public bool Ongoing { get; init; }
    /// <summary>The stall verdicts' intervals, one per stalled flow; empty when not a stall.</summary>
    public IReadOnlyList<StallInterval> Stalls { get; init; } = [];
    /// <summary>An mtu-blackhole's ceiling in IP packet bytes: packets this large or larger did not get through. 0 none.</summary>
    public int Ceiling { get; init; }

    public int Id => Index + 1;
    public string SeverityName => FindingKinds.SeverityName(Severity);
}

/// <summary>Verdicts of one kind toward one peer (Zeek's notice identifier: kind + peer).</summary>
public sealed record VerdictGroup(string Kind, string Peer, Severity Worst, IReadOnlyList<TuiVerdict> Verdicts)
{
    public IEnumerable<int> Flows => Verdicts.SelectMany(v => v.Flows).Distinct();
}

/// <summary>
/// The one place the TUI reads findings: the typed verdicts of each <see cref="Finding"/> (never its words or evidence
/// parsed back) and the kind's writer for the texts. Everything else in the TUI sees only <see cref="TuiVerdict"/>.
/// </summary>
public static class VerdictAdapter
{
    public static TuiVerdict[] FromFindings(IReadOnlyList<Finding> findings)
    {
        var result = new TuiVerdict[findings.Count];
        for (int i = 0; i < result.Length; i++) result[i] = From(findings[i], i);
        return result;
    }

    public static TuiVerdict From(Finding f, int index)
    {
        var stalls = new List<StallInterval>();
        foreach (var s in f.VerdictsOf<StallVerdict>())
            stalls.Add(new StallInterval(s.Flow.Id, s.Start.UnixNanoseconds, s.Start.UnixNanoseconds + s.DurationNanos));
        return new TuiVerdict
        {
            Index = index,
            Kind = f.Name,
            Severity = f.Severity,
            Flows = f.Flows,
            Time = f.Time.UnixNanoseconds,
            Summary = SafeText.Clean(f.Summary, 4000),
            Evidence = SafeText.Clean(EvidenceText(f), 4000),
            Advice = f.Advice is null ? null : SafeText.Clean(f.Advice, 4000),
            Peer = SafeText.Clean(Peer(f.Items[0])?.ToString() ?? "-", 200),
            Ongoing = f.Ongoing,
            Stalls = stalls,
            Ceiling = f.Kind == FindingKind.MtuBlackhole ? Ceiling(f.Verdict<BlackHoleVerdict>()) : 0,
        };
    }

    /// <summary>Grouped by kind and peer, worst first, then by size.</summary>
    public static List<VerdictGroup> Group(IReadOnlyList<TuiVerdict> verdicts) =>
        verdicts.GroupBy(v => (v.Kind, v.Peer))
            .Select(g => new VerdictGroup(g.Key.Kind, g.Key.Peer, g.Max(v => v.Severity), g.ToList()))
            .OrderByDescending(g => g.Worst).ThenByDescending(g => g.Verdicts.Count)
            .ThenBy(g => g.Kind, StringComparer.Ordinal).ThenBy(g => g.Peer, StringComparer.Ordinal)
            .ToList();

    /// <summary>The host a verdict concerns: its own peer where the kind has one (the black hole's, the stall's other
    /// side, the storm's most retransmitted-to host), else the server of its first flow.</summary>
    private static IpAddress? Peer(Verdict v) => v switch
    {
        BlackHoleVerdict b => b.Peer,
        MssMismatchVerdict m => m.Peer,
        StallVerdict s => s.Peer,
        StormVerdict s when s.Peers.Count > 0 => s.Peers[0].Peer,
        _ => v.Flows.Count > 0 ? v.Flows[0].Server.Ip : null,
    };

    /// <summary>
    /// The path-MTU ceiling of a black hole in IP packet bytes, from the verdict's bounds: the path MTU lies in
    /// [<see cref="BlackHoleVerdict.Min"/>, <see cref="BlackHoleVerdict.Max"/>] (min got through, nothing above max
    /// did), so packets of max + 1 bytes or more never got through; with no upper bound, the line is at min.
    /// </summary>
    public static int Ceiling(BlackHoleVerdict v) =>
        v.Max is > 0 and < int.MaxValue ? v.Max + 1 : v.Min > 0 ? v.Min : 0;

    /// <summary>The finding's evidence as the JSON report writes it (the kind's writer), compact.</summary>
    public static string EvidenceText(Finding f)
    {
        using var ms = new MemoryStream();
        // Relaxed escaping: this is read on a screen (after SafeText), not parsed; "<" stays "<".
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            f.Kind.Writer().Evidence(new EvidenceWriter(w), f);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length);
    }
}
