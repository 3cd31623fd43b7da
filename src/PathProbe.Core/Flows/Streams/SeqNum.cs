namespace PathProbe.Flows.Streams;

/// <summary>
/// TCP sequence-number arithmetic modulo 2^32 (RFC 1982 serial numbers, RFC 9293 3.4): a is "before" b when the
/// signed 32-bit difference b - a is positive. Valid while the two numbers are less than 2^31 apart, which TCP's
/// window limits guarantee for any two numbers compared here. May later be replaced by a shared type.
/// </summary>
public static class SeqNum
{
    /// <summary>Signed distance from <paramref name="from"/> to <paramref name="to"/> (positive when to is after from).</summary>
    public static int Diff(uint to, uint from) => unchecked((int)(to - from));

    public static bool Before(uint a, uint b) => Diff(b, a) > 0;
    public static bool BeforeOrEqual(uint a, uint b) => Diff(b, a) >= 0;
    public static bool After(uint a, uint b) => Diff(a, b) > 0;

    public static uint Add(uint a, int n) => unchecked(a + (uint)n);

    /// <summary>The earlier of two sequence numbers.</summary>
    public static uint Min(uint a, uint b) => Before(a, b) ? a : b;
}
