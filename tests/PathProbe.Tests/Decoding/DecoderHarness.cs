using PathProbe.Capture;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Primitives;

namespace PathProbe.Tests.Decoding;

/// <summary>Runs hex vectors through a fresh <see cref="FrameDecoder"/>. Hex may contain spaces between fields.</summary>
internal sealed class DecoderHarness
{
    public static readonly Timestamp Time = new(1_700_000_000_123_456_789);

    public DecodeCounters Counters { get; } = new();
    public IpReassembler Reassembler { get; } = new();
    public FrameDecoder Decoder { get; }

    public DecoderHarness() => Decoder = new FrameDecoder(Reassembler, Counters);

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    /// <param name="wireLength">Original length; defaults to the captured length (no snap cut).</param>
    public DecodeStatus Decode(int linkType, string hex, ref DecodedPacket packet, int wireLength = -1) =>
        Decode(linkType, Hex(hex), ref packet, wireLength);

    public DecodeStatus Decode(int linkType, byte[] data, ref DecodedPacket packet, int wireLength = -1)
    {
        var frame = new RawFrame(data, wireLength < 0 ? data.Length : wireLength, Time, linkType, 0);
        return Decoder.Decode(in frame, ref packet);
    }

    public static IpAddress Ip(string s) => IpAddress.Parse(s);
}

/// <summary>
/// Shared vectors, built with a script from RFC field layouts and cross-checked with tshark 4.x.
/// Addresses are documentation ranges (RFC 5737, RFC 3849).
/// </summary>
internal static class Vectors
{
    public const string EthDstSrc = "00005e005301 00005e005302 ";

    /// <summary>IPv4 192.0.2.1 → 198.51.100.2, id 0x1234, DF, TTL 64, TCP 49152 → 25 SYN seq 0x01020304, no options.</summary>
    public const string Ip4TcpSyn =
        "4500 0028 1234 4000 40 06 3c65 c0000201 c6336402 " +
        "c000 0019 01020304 00000000 50 02 faf0 0000 0000";

    /// <summary>IPv4 192.0.2.1 → 198.51.100.2 UDP 5353 → 53, payload "abcd" (UDP length 12, total length 32).</summary>
    public const string Ip4Udp =
        "4500 0020 1234 4000 40 11 3c62 c0000201 c6336402 " +
        "14e9 0035 000c 0000 61626364";

    /// <summary>IPv6 2001:db8::1 → 2001:db8::2 UDP 5353 → 53, payload "abcd".</summary>
    public const string Ip6Udp =
        "6000 0000 000c 11 40 20010db8000000000000000000000001 20010db8000000000000000000000002 " +
        "14e9 0035 000c 0000 61626364";
}
