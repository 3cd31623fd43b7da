using System.Buffers.Binary;
using System.Net;
using System.Runtime.CompilerServices;

namespace PathProbe.Primitives;

/// <summary>
/// A fixed-size IPv4 or IPv6 address (16 bytes, no heap). IPv4 is held as an IPv4-mapped IPv6
/// address (::ffff:a.b.c.d, RFC 4291 2.5.5.2) so both families share one comparison and hash.
/// </summary>
public readonly struct IpAddress : IEquatable<IpAddress>, IComparable<IpAddress>
{
    private const ulong V4MappedHi = 0;
    private const ulong V4MappedLoPrefix = 0x0000_FFFF_0000_0000UL;

    private readonly ulong _hi; // first 8 bytes, big-endian
    private readonly ulong _lo; // last 8 bytes, big-endian

    private IpAddress(ulong hi, ulong lo) { _hi = hi; _lo = lo; }

    public static IpAddress FromV4(uint addressBigEndianValue) => new(V4MappedHi, V4MappedLoPrefix | addressBigEndianValue);

    /// <summary>Reads 4 bytes in network order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static IpAddress ReadV4(ReadOnlySpan<byte> src) => FromV4(BinaryPrimitives.ReadUInt32BigEndian(src));

    /// <summary>Reads 16 bytes in network order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static IpAddress ReadV6(ReadOnlySpan<byte> src) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(src), BinaryPrimitives.ReadUInt64BigEndian(src.Slice(8)));

    public bool IsV4 => _hi == V4MappedHi && (_lo & 0xFFFF_FFFF_0000_0000UL) == V4MappedLoPrefix;
    public bool IsUnspecified => _hi == 0 && _lo == 0;
    public uint V4Value => (uint)_lo;
    public ulong High => _hi;
    public ulong Low => _lo;

    public static IpAddress Parse(string text) => FromIPAddress(IPAddress.Parse(text));

    public static IpAddress FromIPAddress(IPAddress a)
    {
        Span<byte> b = stackalloc byte[16];
        if (a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            a.TryWriteBytes(b, out _);
            return ReadV4(b);
        }
        a.TryWriteBytes(b, out _);
        return ReadV6(b);
    }

    public IPAddress ToIPAddress()
    {
        Span<byte> b = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(b, _hi);
        BinaryPrimitives.WriteUInt64BigEndian(b.Slice(8), _lo);
        return IsV4 ? new IPAddress(b.Slice(12, 4)) : new IPAddress(b);
    }

    /// <summary>The 16 bytes (IPv4 mapped) in network order.</summary>
    public void WriteTo(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt64BigEndian(b, _hi);
        BinaryPrimitives.WriteUInt64BigEndian(b.Slice(8), _lo);
    }

    public bool Equals(IpAddress other) => _hi == other._hi && _lo == other._lo;
    public override bool Equals(object? obj) => obj is IpAddress o && Equals(o);
    public override int GetHashCode() => HashCode.Combine(_hi, _lo);
    public int CompareTo(IpAddress other) => _hi != other._hi ? _hi.CompareTo(other._hi) : _lo.CompareTo(other._lo);
    public static bool operator ==(IpAddress a, IpAddress b) => a.Equals(b);
    public static bool operator !=(IpAddress a, IpAddress b) => !a.Equals(b);

    public override string ToString() => ToIPAddress().ToString();

    /// <summary>Longest text <see cref="Format"/> writes (an IPv6 address with an embedded IPv4 one, RFC 4291 2.2).</summary>
    public const int MaxTextLength = 45;

    /// <summary>Writes the address as <see cref="ToString"/> does into <paramref name="destination"/> (at least
    /// <see cref="MaxTextLength"/> characters) and returns its length: IPv4 without allocating.</summary>
    public int Format(Span<char> destination)
    {
        if (!IsV4)
        {
            if (!ToIPAddress().TryFormat(destination, out int n)) throw new ArgumentException("too short", nameof(destination));
            return n;
        }
        uint v = V4Value;
        int at = 0;
        for (int shift = 24; shift >= 0; shift -= 8)
        {
            uint octet = (v >> shift) & 0xFF;
            if (octet >= 100) destination[at++] = (char)('0' + octet / 100);
            if (octet >= 10) destination[at++] = (char)('0' + octet / 10 % 10);
            destination[at++] = (char)('0' + octet % 10);
            if (shift > 0) destination[at++] = '.';
        }
        return at;
    }

    /// <summary>"192.0.2.1:25" or "[2001:db8::1]:25".</summary>
    public string ToEndpointString(int port) => IsV4 ? $"{this}:{port}" : $"[{this}]:{port}";
}
