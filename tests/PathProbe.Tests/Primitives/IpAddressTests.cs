using System.Net;
using PathProbe.Primitives;

namespace PathProbe.Tests.Primitives;

/// <summary><see cref="IpAddress.Format"/> (the JSON report's addresses) writes what <see cref="IpAddress.ToString"/>
/// gives (the framework's text: dotted quad, RFC 5952 for IPv6), IPv4 without allocating.</summary>
public sealed class IpAddressTests
{
    private static string Formatted(IpAddress a)
    {
        Span<char> buf = stackalloc char[IpAddress.MaxTextLength];
        return new string(buf[..a.Format(buf)]);
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("255.255.255.255")]
    [InlineData("192.0.2.1")]
    [InlineData("10.0.100.9")]
    [InlineData("198.51.100.10")]
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("2001:db8::25")]
    [InlineData("2001:db8:0:0:1:0:0:1")]
    [InlineData("fe80::1:2:3:4")]
    [InlineData("::ffff:0:192.0.2.1")]
    [InlineData("64:ff9b::192.0.2.33")]
    [InlineData("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255")]
    public void Format_SameAsToString(string text)
    {
        var a = IpAddress.Parse(text);
        Assert.Equal(a.ToString(), Formatted(a));
    }

    [Fact]
    public void Format_RandomAddresses_SameAsToString()
    {
        var rng = new Random(45);
        var bytes = new byte[16];
        for (int i = 0; i < 20_000; i++)
        {
            var a = i % 2 == 0
                ? IpAddress.FromV4((uint)rng.NextInt64(0, 1L << 32))
                : IpAddress.FromIPAddress(new IPAddress(Fill(rng, bytes, i)));
            Assert.Equal(a.ToString(), Formatted(a));
        }
    }

    /// <summary>Random IPv6 bytes, with runs of zero groups (what "::" compresses) in some.</summary>
    private static byte[] Fill(Random rng, byte[] b, int i)
    {
        rng.NextBytes(b);
        if (i % 3 == 0)
        {
            int start = rng.Next(0, 8) * 2;
            b.AsSpan(start, Math.Min(rng.Next(1, 5) * 2, 16 - start)).Clear();
        }
        if (i % 7 == 0) b.AsSpan(0, 10).Clear();
        return b;
    }

    [Fact]
    public void Format_V4_AllocatesNothing()
    {
        var a = IpAddress.Parse("203.0.113.254");
        Span<char> buf = stackalloc char[IpAddress.MaxTextLength];
        a.Format(buf);
        long before = GC.GetAllocatedBytesForCurrentThread();
        int n = a.Format(buf);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal("203.0.113.254", new string(buf[..n]));
    }
}
