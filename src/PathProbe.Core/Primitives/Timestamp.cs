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
    public string ToIso8601() => string.Create(Iso8601Length, this, static (chars, t) =>
    {
        Span<byte> ascii = stackalloc byte[Iso8601Length];
        t.FormatIso8601(ascii);
        for (int i = 0; i < ascii.Length; i++) chars[i] = (char)ascii[i];
    });

    /// <summary>Characters in <see cref="ToIso8601"/>'s text (the years 1677..2262 have four digits).</summary>
    public const int Iso8601Length = 30;

    /// <summary><see cref="ToIso8601"/>'s text as ASCII into the first <see cref="Iso8601Length"/> bytes of
    /// <paramref name="utf8"/>, without allocating (the JSON report writes tens of thousands of times).</summary>
    public void FormatIso8601(Span<byte> utf8)
    {
        long secs = Math.DivRem(UnixNanoseconds, NanosPerSecond, out long frac);
        if (frac < 0) { frac += NanosPerSecond; secs--; }
        long days = Math.DivRem(secs, 86_400, out long time);
        if (time < 0) { time += 86_400; days--; }
        var date = DateOnly.FromDayNumber(EpochDay + (int)days);
        var d = utf8[..Iso8601Length];
        Digits(d[..4], date.Year);
        d[4] = (byte)'-';
        Digits(d.Slice(5, 2), date.Month);
        d[7] = (byte)'-';
        Digits(d.Slice(8, 2), date.Day);
        d[10] = (byte)'T';
        Digits(d.Slice(11, 2), time / 3600);
        d[13] = (byte)':';
        Digits(d.Slice(14, 2), time / 60 % 60);
        d[16] = (byte)':';
        Digits(d.Slice(17, 2), time % 60);
        d[19] = (byte)'.';
        Digits(d.Slice(20, 9), frac);
        d[29] = (byte)'Z';
    }

    private static readonly int EpochDay = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

    /// <summary><paramref name="value"/> (not negative) in exactly <c>into.Length</c> decimal digits, zero-padded.</summary>
    private static void Digits(Span<byte> into, long value)
    {
        for (int i = into.Length - 1; i >= 0; i--)
        {
            into[i] = (byte)('0' + value % 10);
            value /= 10;
        }
    }

    public override string ToString() => ToIso8601();
}
