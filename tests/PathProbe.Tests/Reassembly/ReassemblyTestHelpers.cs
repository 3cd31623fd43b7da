using PathProbe.Decoding.Reassembly;
using PathProbe.Primitives;

namespace PathProbe.Tests.Reassembly;

internal static class R
{
    public static readonly IpAddress V4A = IpAddress.Parse("192.0.2.1");
    public static readonly IpAddress V4B = IpAddress.Parse("198.51.100.7");
    public static readonly IpAddress V6A = IpAddress.Parse("2001:db8::1");
    public static readonly IpAddress V6B = IpAddress.Parse("2001:db8::2");

    public static FragmentKey V4(uint id = 0x1234, byte protocol = 17) => new(V4A, V4B, id, protocol, 4);
    public static FragmentKey V6(uint id = 0xDEADBEEF, byte protocol = 17) => new(V6A, V6B, id, protocol, 6);

    public static Timestamp T(double seconds) => new((long)(seconds * Timestamp.NanosPerSecond));

    /// <summary>Deterministic payload whose bytes differ at every position mod 251.</summary>
    public static byte[] Payload(int length, int seed = 0)
    {
        var b = new byte[length];
        for (int i = 0; i < length; i++) b[i] = (byte)((i + seed) % 251);
        return b;
    }

    public readonly record struct Outcome(ReassemblyResult Result, byte[]? Datagram, int FragmentCount);

    /// <summary>Adds one fragment and copies the datagram out (the span is only valid until the next call).</summary>
    public static Outcome Add(this IpReassembler r, FragmentKey key, int offset, bool more, ReadOnlySpan<byte> data, Timestamp? time = null)
    {
        var res = r.Add(key, offset, more, data, time ?? T(0), out var datagram, out int count);
        return new Outcome(res, res == ReassemblyResult.Completed ? datagram.ToArray() : null, count);
    }

    /// <summary>Adds payload[offset..offset+length) as a fragment; MF set unless it reaches the end.</summary>
    public static Outcome AddSlice(this IpReassembler r, FragmentKey key, byte[] payload, int offset, int length, Timestamp? time = null) =>
        r.Add(key, offset, offset + length < payload.Length, payload.AsSpan(offset, length), time);
}
