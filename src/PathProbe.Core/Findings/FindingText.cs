using System.Globalization;

namespace PathProbe.Findings;

/// <summary>How numbers read in findings and reports, in one place (<c>using static PathProbe.Findings.FindingText</c>).</summary>
internal static class FindingText
{
    /// <summary>A count with thousands separators: "7,240".</summary>
    public static string N(long v) => v.ToString("#,0", CultureInfo.InvariantCulture);

    /// <summary>A duration in seconds: two decimals under 10 s ("0.21 s", "3.13 s"), one above ("26.5 s").</summary>
    public static string Sec(long nanos) =>
        (nanos / 1e9).ToString(nanos < 10_000_000_000 ? "0.0#" : "0.#", CultureInfo.InvariantCulture) + " s";
}
