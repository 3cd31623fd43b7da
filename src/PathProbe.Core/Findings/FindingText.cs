using System.Globalization;
using PathProbe.Primitives;

namespace PathProbe.Findings;

/// <summary>
/// How numbers, sizes, durations and times read in findings and reports: one format each, in one place
/// (<c>using static PathProbe.Findings.FindingText</c>).
/// </summary>
public static class FindingText
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>A count or exact size with thousands separators: "7,240".</summary>
    public static string N(long v) => v.ToString("#,0", Inv);

    /// <summary>"1 flow", "8 flows".</summary>
    public static string Count(long n, string noun, string? plural = null) => n == 1 ? $"1 {noun}" : $"{N(n)} {plural ?? noun + "s"}";

    /// <summary>A duration: "0.35 ms", "33.3 ms", "3.13 s", "26.5 s", "4 min 5 s".</summary>
    public static string Sec(long nanos)
    {
        if (nanos < 0) nanos = 0;
        if (nanos < 1_000_000) return (nanos / 1e6).ToString("0.0#", Inv) + " ms";
        if (nanos < 1_000_000_000) return (nanos / 1e6).ToString(nanos < 10_000_000 ? "0.0#" : nanos < 100_000_000 ? "0.#" : "0", Inv) + " ms";
        if (nanos < 120_000_000_000) return (nanos / 1e9).ToString(nanos < 10_000_000_000 ? "0.0#" : "0.#", Inv) + " s";
        long s = nanos / 1_000_000_000;
        return s < 7200 ? $"{s / 60} min {s % 60} s" : $"{s / 3600} h {s % 3600 / 60} min";
    }

    /// <summary>A size: exact bytes below 10,000 ("8,192 B"), else kB/MB/GB (10^3) with one decimal.</summary>
    public static string Bytes(long b) => b switch
    {
        < 10_000 => N(b) + " B",
        < 10_000_000 => (b / 1000.0).ToString("0.#", Inv) + " kB",
        < 10_000_000_000 => (b / 1e6).ToString("0.#", Inv) + " MB",
        _ => (b / 1e9).ToString("0.##", Inv) + " GB",
    };

    /// <summary>A size that may count bytes missing from the capture: "about 8,192 B".</summary>
    public static string Bytes(MessageSize m) => (m.Approximate ? "about " : "") + Bytes(m.Bytes);

    /// <summary>The one time format of the text report: "2026-11-23 23:12:46.069" (UTC, milliseconds).</summary>
    public static string Time(Timestamp t)
    {
        long secs = Math.DivRem(t.UnixNanoseconds, Timestamp.NanosPerSecond, out long frac);
        if (frac < 0) { frac += Timestamp.NanosPerSecond; secs--; }
        return DateTime.UnixEpoch.AddSeconds(secs).ToString("yyyy-MM-dd HH:mm:ss", Inv) + "." + (frac / 1_000_000).ToString("D3", Inv);
    }

    /// <summary>A percentage of a share 0..1: "37.5%".</summary>
    public static string Percent(double share) => (share * 100).ToString("0.#", Inv) + "%";

    /// <summary>"flow 2", "flows 1, 2 and 5", "flows 1-8".</summary>
    public static string FlowList(IReadOnlyList<int> ids)
    {
        if (ids.Count == 0) return "no flow";
        if (ids.Count == 1) return $"flow {ids[0]}";
        var sorted = ids.Distinct().Order().ToList();
        if (sorted[^1] - sorted[0] == sorted.Count - 1 && sorted.Count > 2) return $"flows {sorted[0]}-{sorted[^1]}";
        if (sorted.Count <= 6) return $"flows {string.Join(", ", sorted.Take(sorted.Count - 1))} and {sorted[^1]}";
        return $"flows {string.Join(", ", sorted.Take(5))} and {N(sorted.Count - 5)} more";
    }

    /// <summary>"0.21 s" or a range "25.8-27.2 s" of several values.</summary>
    public static string SecRange(IEnumerable<long> nanos)
    {
        var l = nanos.ToList();
        if (l.Count == 0) return "";
        long lo = l.Min(), hi = l.Max();
        return Sec(lo) == Sec(hi) ? Sec(lo) : $"{Sec(lo)} to {Sec(hi)}";
    }

    /// <summary>"7" or "6 to 8" of several values.</summary>
    public static string NRange(IEnumerable<long> values)
    {
        var l = values.ToList();
        if (l.Count == 0) return "";
        long lo = l.Min(), hi = l.Max();
        return lo == hi ? N(lo) : $"{N(lo)} to {N(hi)}";
    }

    /// <summary>Addresses: up to three listed, else the first and last.</summary>
    public static string Addresses(IReadOnlyList<IpAddress> a) => a.Count <= 3 ? string.Join(", ", a) : $"{a[0]} … {a[^1]}";
}

/// <summary>
/// The one writer of a finding kind: summary and advice in words, evidence in JSON, the conclusion whose change live
/// output reports. Registered in <see cref="FindingKinds"/>; reads typed verdicts only.
/// </summary>
public abstract class FindingWriter
{
    public abstract string Summary(Finding f);
    public abstract string? Advice(Finding f);
    public abstract void Evidence(EvidenceWriter w, Finding f);
    /// <summary>What the finding concludes, compactly: a change of it (not just of numbers) is printed live.</summary>
    public virtual string Conclusion(Finding f) => $"{f.Items.Count}";
}

/// <summary>A writer for verdicts of type <typeparamref name="T"/>.</summary>
public abstract class FindingWriter<T> : FindingWriter where T : Verdict
{
    protected static IReadOnlyList<T> Items(Finding f)
    {
        var r = new T[f.Items.Count];
        for (int i = 0; i < r.Length; i++) r[i] = (T)f.Items[i];
        return r;
    }

    public sealed override string Summary(Finding f)
    {
        var items = Items(f);
        string s = items.Count == 1 ? One(items[0]) : Many(items, f);
        if (f.ItemsNotListed > 0) s += $" ({Count(f.ItemsNotListed, "more occurrence")} not listed)";
        return f.Ongoing ? "ONGOING: " + s : s;
    }

    public sealed override string? Advice(Finding f) => Advice(Items(f));
    public sealed override void Evidence(EvidenceWriter w, Finding f) => Evidence(w, Items(f), f);
    public sealed override string Conclusion(Finding f) => Conclusion(Items(f));

    /// <summary>The summary of a single verdict.</summary>
    protected abstract string One(T v);
    /// <summary>The summary of several verdicts grouped under one identifier (e.g. one peer).</summary>
    protected virtual string Many(IReadOnlyList<T> items, Finding f) => $"{One(items[0])}; and {Count(items.Count - 1, "more like it", "more like it")} ({FlowList(f.Flows)})";
    protected abstract string? Advice(IReadOnlyList<T> items);
    protected abstract void Evidence(EvidenceWriter w, IReadOnlyList<T> items, Finding f);
    protected virtual string Conclusion(IReadOnlyList<T> items) => items.Count.ToString(CultureInfo.InvariantCulture);

    private static string N(long v) => FindingText.N(v);
    private static string Count(long n, string noun, string? plural = null) => FindingText.Count(n, noun, plural);
    private static string FlowList(IReadOnlyList<int> ids) => FindingText.FlowList(ids);
}
