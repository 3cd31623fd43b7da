using System.Runtime.CompilerServices;

namespace PathProbe.Primitives;

/// <summary>
/// A canonical, direction-free 5-tuple: the endpoint that sorts lower is always <see cref="A"/>,
/// so both directions of a conversation produce the same key (a symmetric hash by construction).
/// <see cref="Create"/> says which way the packet went relative to the canonical order.
/// </summary>
public readonly struct FlowKey : IEquatable<FlowKey>
{
    public readonly IpAddress A;
    public readonly IpAddress B;
    public readonly ushort PortA;
    public readonly ushort PortB;
    public readonly byte Protocol;

    private FlowKey(IpAddress a, ushort portA, IpAddress b, ushort portB, byte protocol)
    {
        A = a; B = b; PortA = portA; PortB = portB; Protocol = protocol;
    }

    /// <param name="aToB">true when src is the canonical A side.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FlowKey Create(in IpAddress src, ushort srcPort, in IpAddress dst, ushort dstPort, byte protocol, out bool aToB)
    {
        int c = src.CompareTo(dst);
        aToB = c < 0 || (c == 0 && srcPort <= dstPort);
        return aToB ? new FlowKey(src, srcPort, dst, dstPort, protocol) : new FlowKey(dst, dstPort, src, srcPort, protocol);
    }

    public bool Equals(FlowKey o) =>
        A.Equals(o.A) && B.Equals(o.B) && PortA == o.PortA && PortB == o.PortB && Protocol == o.Protocol;

    public override bool Equals(object? obj) => obj is FlowKey k && Equals(k);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override int GetHashCode()
    {
        // Cheap multiplicative mix; symmetric because the key itself is canonical.
        ulong h = A.High * 0x9E3779B97F4A7C15UL ^ A.Low;
        h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9UL ^ B.High;
        h = (h ^ (h >> 31)) * 0x94D049BB133111EBUL ^ B.Low;
        h = (h ^ (h >> 30)) * 0x9E3779B97F4A7C15UL ^ ((ulong)PortA << 24 | (ulong)PortB << 8 | Protocol);
        h ^= h >> 32;
        return (int)h;
    }
}
