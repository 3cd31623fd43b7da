using System.Globalization;

namespace PathProbe.Primitives;

/// <summary>
/// Capture time as nanoseconds since the Unix epoch (UTC). A plain 64-bit value so it can be
/// compared, subtracted and stored without allocation; covers the years 1677..2262.
/// </summary>
public readonly record struct Timestamp(long UnixNanoseconds) : IComparable<Timestamp>
{
    public const long NanosPerSecond = 1_000_000_000;
    public const long NanosPerMicrosecond = 1_000;

    public static Timestamp FromSeconds(long seconds, long fractionNanos) =>
        new(seconds * NanosPerSecond + fractionNanos);

    public double ToUnixSeconds() => UnixNanoseconds / (double)NanosPerSecond;

    public int CompareTo(Timestamp other) => UnixNanoseconds.CompareTo(other.UnixNanoseconds);

    public static bool operator <(Timestamp a, Timestamp b) => a.UnixNanoseconds < b.UnixNanoseconds;
    public static bool operator >(Timestamp a, Timestamp b) => a.UnixNanoseconds > b.UnixNanoseconds;
    public static bool operator <=(Timestamp a, Timestamp b) => a.UnixNanoseconds <= b.UnixNanoseconds;
    public static bool operator >=(Timestamp a, Timestamp b) => a.UnixNanoseconds >= b.UnixNanoseconds;

    /// <summary>ISO 8601 UTC with nanoseconds, e.g. 2026-11-23T10:00:00.123456789Z.</summary>
    public string ToIso8601()
    {
        long secs = Math.DivRem(UnixNanoseconds, NanosPerSecond, out long frac);
        if (frac < 0) { frac += NanosPerSecond; secs--; }
        var dt = DateTime.UnixEpoch.AddSeconds(secs);
        return dt.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + "." +
               frac.ToString("D9", CultureInfo.InvariantCulture) + "Z";
    }

    public override string ToString() => ToIso8601();
}
