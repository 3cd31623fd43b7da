using System.Globalization;
using System.Text;
using PathProbe.Primitives;

namespace PathProbe.Tests.Primitives;

/// <summary>
/// <see cref="Timestamp.ToIso8601"/> and its allocation-free form <see cref="Timestamp.FormatIso8601"/> (the JSON
/// report's times) against the framework's own formatting, over the whole range a timestamp covers (1677..2262),
/// before 1970 included.
/// </summary>
public sealed class TimestampTests
{
    private static string Reference(long nanos)
    {
        long secs = Math.DivRem(nanos, Timestamp.NanosPerSecond, out long frac);
        if (frac < 0) { frac += Timestamp.NanosPerSecond; secs--; }
        return DateTime.UnixEpoch.AddSeconds(secs).ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + "." +
               frac.ToString("D9", CultureInfo.InvariantCulture) + "Z";
    }

    public static IEnumerable<object[]> Edges() => new long[]
    {
        0, 1, -1, 999_999_999, -999_999_999, -1_000_000_000, 86_399_999_999_999, 86_400_000_000_000, -86_400_000_000_001,
        1_800_000_000_123_456_789, 951_782_400_000_000_000 /* 2000-02-29 */, long.MaxValue, long.MinValue, long.MinValue + 1,
    }.Select(v => new object[] { v });

    [Theory]
    [MemberData(nameof(Edges))]
    public void Iso8601_Edges_AsTheFrameworkFormatsThem(long nanos) => AssertFormats(nanos);

    [Fact]
    public void Iso8601_RandomTimes_AsTheFrameworkFormatsThem()
    {
        var random = new Random(20261205);
        for (int i = 0; i < 20_000; i++) AssertFormats(random.NextInt64(long.MinValue, long.MaxValue));
    }

    [Fact]
    public void FormatIso8601_AllocatesNothing()
    {
        var t = new Timestamp(1_800_000_000_123_456_789);
        Span<byte> text = stackalloc byte[Timestamp.Iso8601Length];
        t.FormatIso8601(text);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1_000; i++) new Timestamp(t.UnixNanoseconds + i).FormatIso8601(text);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal("2027-01-15T08:00:00.123457788Z", Encoding.ASCII.GetString(text));
    }

    private static void AssertFormats(long nanos)
    {
        var t = new Timestamp(nanos);
        string expected = Reference(nanos);
        Assert.Equal(expected, t.ToIso8601());
        Span<byte> text = stackalloc byte[Timestamp.Iso8601Length];
        t.FormatIso8601(text);
        Assert.Equal(expected, Encoding.ASCII.GetString(text));
    }
}
