using System.Runtime.CompilerServices;

namespace PathProbe.Primitives;

/// <summary>
/// A 32-bit TCP sequence number with wrap-safe comparison (RFC 1982 serial number arithmetic, RFC 9293 3.4):
/// a &lt; b when (int)(a - b) &lt; 0. All sequence arithmetic in PathProbe goes through this type.
/// </summary>
public readonly struct SeqNum : IEquatable<SeqNum>
{
    public readonly uint Value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public SeqNum(uint value) => Value = value;

    public static implicit operator SeqNum(uint v) => new(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SeqNum operator +(SeqNum a, int n) => new(unchecked(a.Value + (uint)n));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SeqNum operator -(SeqNum a, int n) => new(unchecked(a.Value - (uint)n));
    /// <summary>Signed distance a - b (valid while the two are within 2^31 of each other).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int operator -(SeqNum a, SeqNum b) => unchecked((int)(a.Value - b.Value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool operator <(SeqNum a, SeqNum b) => unchecked((int)(a.Value - b.Value)) < 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool operator >(SeqNum a, SeqNum b) => unchecked((int)(b.Value - a.Value)) < 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool operator <=(SeqNum a, SeqNum b) => unchecked((int)(a.Value - b.Value)) <= 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool operator >=(SeqNum a, SeqNum b) => unchecked((int)(b.Value - a.Value)) <= 0;
    public static bool operator ==(SeqNum a, SeqNum b) => a.Value == b.Value;
    public static bool operator !=(SeqNum a, SeqNum b) => a.Value != b.Value;

    // Static forms over raw uint values, for code that keeps sequence numbers as uint fields.

    /// <summary>Signed distance from <paramref name="from"/> to <paramref name="to"/> (positive when to is after from).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Diff(uint to, uint from) => unchecked((int)(to - from));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Before(uint a, uint b) => Diff(b, a) > 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool BeforeOrEqual(uint a, uint b) => Diff(b, a) >= 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool After(uint a, uint b) => Diff(a, b) > 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Add(uint a, int n) => unchecked(a + (uint)n);
    /// <summary>The earlier of two sequence numbers.</summary>
    public static uint Min(uint a, uint b) => Before(a, b) ? a : b;

    public bool IsZero => Value == 0;
    public bool Equals(SeqNum other) => Value == other.Value;
    public override bool Equals(object? obj) => obj is SeqNum s && s.Value == Value;
    public override int GetHashCode() => (int)Value;
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
