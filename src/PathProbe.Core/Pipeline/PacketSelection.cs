using System.Globalization;
using PathProbe.Capture;
using PathProbe.Primitives;

namespace PathProbe.Pipeline;

/// <summary>
/// Decides per frame whether it is analysed, like a BPF program attached to a savefile (tcpdump -r FILE FILTER).
/// Implemented outside the core (PathProbe.LibPcap compiles tcpdump expressions), so the core never needs libpcap.
/// Called once per frame on the analysis thread; must not allocate.
/// </summary>
public interface IFrameFilter
{
    /// <summary>The expression as the user wrote it.</summary>
    string Expression { get; }

    bool Matches(in RawFrame frame);

    /// <summary>What went wrong while filtering the input just read (e.g. the expression does not compile for one of
    /// its link types, whose frames were then not analysed), for the report; empty when nothing did. Clears them, so
    /// the next input starts afresh.</summary>
    IReadOnlyList<string> TakeProblems();
}

/// <summary>A point in capture time: absolute (Unix nanoseconds) or relative to an input's first packet.</summary>
public readonly record struct TimeBound(long Nanoseconds, bool Relative, string Text)
{
    /// <summary>The absolute time of this bound for an input whose first packet is at <paramref name="first"/>.</summary>
    public long Resolve(long first) => Relative ? SaturatingAdd(first, Nanoseconds) : Nanoseconds;

    private static long SaturatingAdd(long a, long b)
    {
        long r = unchecked(a + b);
        return ((a ^ r) & (b ^ r)) < 0 ? (b > 0 ? long.MaxValue : long.MinValue) : r;
    }

    /// <summary>
    /// Parses "2026-11-23T23:12:46.068899000Z" (ISO 8601; up to 9 fraction digits, as the reports print times;
    /// a time without Z or an offset is UTC, like every time PathProbe prints), "1795475566.5" (Unix seconds, as
    /// editcap -A/-B also take), or "+30s", "+1.5m", "+2h", "+500ms", "+30" (after the first packet; seconds by
    /// default). Returns null and a message when the text is none of these.
    /// </summary>
    public static TimeBound? Parse(string text, out string? error)
    {
        error = null;
        string s = text.Trim();
        if (s.Length == 0) { error = "needs a time, not an empty string"; return null; }
        if (s[0] == '+')
        {
            string number = s[1..];
            double unit = 1e9;
            foreach (var (suffix, perUnit) in new[] { ("ms", 1e6), ("us", 1e3), ("ns", 1.0), ("s", 1e9), ("m", 60e9), ("h", 3600e9), ("d", 86400e9) })
                if (number.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) { number = number[..^suffix.Length]; unit = perUnit; break; }
            if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            { error = $"'{Show(text)}' is not a time after the first packet (write it like +30s, +1.5m, +2h, +500ms)"; return null; }
            double ns = Math.Round(v * unit);
            if (ns > 100 * 365.25 * 86400e9) { error = $"{Show(text)} is too far after the first packet (at most 100 years)"; return null; }
            return new TimeBound((long)ns, true, s);
        }
        if (s.All(c => char.IsDigit(c) || c == '.'))
        {
            if (!decimal.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal seconds) || seconds > 9_000_000_000m)
            { error = $"'{Show(text)}' is not a time (Unix seconds like 1795475566.5, ISO 8601 like 2026-11-23T23:12:46Z, or +30s after the first packet)"; return null; }
            return new TimeBound((long)decimal.Round(seconds * 1_000_000_000m), false, s);
        }
        if (TryParseIso(s, out long absolute)) return new TimeBound(absolute, false, s);
        error = $"'{Show(text)}' is not a time (ISO 8601 like 2026-11-23T23:12:46.068899Z, Unix seconds like 1795475566.5, or +30s after the first packet)";
        return null;
    }

    private static bool TryParseIso(string s, out long nanos)
    {
        nanos = 0;
        // Split off the fraction (up to 9 digits, which DateTimeOffset cannot hold) and parse the rest.
        int dot = s.IndexOf('.', StringComparison.Ordinal);
        long fraction = 0;
        string rest = s;
        if (dot >= 0)
        {
            int end = dot + 1;
            while (end < s.Length && char.IsDigit(s[end])) end++;
            string digits = s[(dot + 1)..end];
            if (digits.Length is 0 or > 9) return false;
            fraction = long.Parse(digits.PadRight(9, '0'), CultureInfo.InvariantCulture);
            rest = s[..dot] + s[end..];
        }
        string[] formats =
        [
            "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm:ssK", "yyyy-MM-dd HH:mm:ss",
            "yyyy-MM-dd'T'HH:mmK", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mmK", "yyyy-MM-dd HH:mm", "yyyy-MM-dd",
        ];
        if (!DateTimeOffset.TryParseExact(rest, formats, CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)) return false;
        long seconds = t.ToUnixTimeSeconds();
        if (seconds is < -9_000_000_000L or > 9_000_000_000L) return false; // Timestamp covers 1677..2262
        nanos = seconds * Timestamp.NanosPerSecond + fraction;
        return true;
    }

    private static string Show(string s) => SafeText.Clean(s, 60);
}

/// <summary>Which frames of an input are analysed: a filter, a time window [since, until), and a packet limit, each
/// optional. The same selection applies to every input of a command, each on its own.</summary>
public sealed class PacketSelection
{
    public IFrameFilter? Filter { get; init; }
    /// <summary>Frames before this time are skipped.</summary>
    public TimeBound? Since { get; init; }
    /// <summary>Frames at or after this time are skipped.</summary>
    public TimeBound? Until { get; init; }
    /// <summary>Stop after this many analysed frames (tcpdump -c); 0 = no limit.</summary>
    public long Count { get; init; }

    public bool IsEmpty => Filter is null && Since is null && Until is null && Count == 0;
}

/// <summary>What a <see cref="PacketSelection"/> did to one input, for the report.</summary>
public sealed class SelectionSummary
{
    public string? Filter { get; init; }
    public Timestamp? Since { get; set; }
    public Timestamp? Until { get; set; }
    public string? SinceText { get; init; }
    public string? UntilText { get; init; }
    public long Count { get; init; }
    /// <summary>Reading stopped because <see cref="Count"/> frames were analysed.</summary>
    public bool StoppedAtCount { get; set; }
    /// <summary>Frames read from the input, selected or not.</summary>
    public long FramesRead { get; set; }
    public List<string> Problems { get; } = new();
}
