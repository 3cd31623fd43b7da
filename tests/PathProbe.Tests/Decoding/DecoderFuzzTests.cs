using PathProbe.Capture;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Primitives;

namespace PathProbe.Tests.Decoding;

/// <summary>Random and randomly mutated valid frames through <see cref="FrameDecoder.Decode"/>: it must never throw.</summary>
public class DecoderFuzzTests
{
    private const int Seed = 20261123;
    private const int IterationsPerSeed = 1500;

    private static readonly (int LinkType, string Header)[] Links =
    [
        (LinkTypes.Ethernet, Vectors.EthDstSrc + "0800"),
        (LinkTypes.Ethernet, Vectors.EthDstSrc + "88a8 00c8 8100 0064 86dd"),
        (LinkTypes.LinuxSll, "0000 0001 0006 00005e0053020000 0800"),
        (LinkTypes.LinuxSll2, "86dd 0000 00000002 0001 00 06 00005e0053020000"),
        (LinkTypes.Raw, ""),
        (LinkTypes.RawAlt12, ""),
        (LinkTypes.RawAlt14, ""),
        (LinkTypes.Ipv4, ""),
        (LinkTypes.Ipv6, ""),
        (LinkTypes.Null, "1e000000"),
        (LinkTypes.Null, "00000002"),
        (LinkTypes.Loop, "00000002"),
        // Encapsulations whose headers do not depend on the packet's length.
        (LinkTypes.Ethernet, Vectors.EthDstSrc + "8847 003e8140"),
        (LinkTypes.Ethernet, Vectors.EthDstSrc + "88a8 00c8 8100 0064 8847 003e8040 00064140"),
        (LinkTypes.Ethernet, Vectors.EthDstSrc + "8847 003e8140 00000000 00005e005303 00005e005304 0800"),
        (LinkTypes.Ethernet, Vectors.EthDstSrc + "8909 0101 0001 0064 0800"),
        (LinkTypes.Ppp, "ff03 0021"),
        (LinkTypes.CiscoHdlc, "0f00 0800"),
    ];

    private static readonly string[] Packets =
    [
        Vectors.Ip4TcpSyn,
        Vectors.Ip4Udp,
        Vectors.Ip6Udp,
        // TCP with every option
        "4500 003c 1234 4000 40 06 3c51 c0000201 c6336402 c000 0019 01020304 00000000 a0 02 faf0 0000 0000 020405b4 0402 080a 00000064 00000000 01 030307",
        // ICMP fragmentation needed quoting TCP
        "4500 0038 0001 0000 fa 01 c2c0 cb007101 c0000201 03 04 334c 0000 0590 4500 05dc 1234 4000 40 06 36b1 c0000201 c6336402 c000 0019 01020304",
        // ICMPv6 Packet Too Big quoting TCP behind destination options
        "6000 0000 0040 3a 40 20010db80000000000000000000000fe 20010db8000000000000000000000001 02 00 7002 00000500 " +
        "6000 0000 0584 3c 40 20010db8000000000000000000000001 20010db8000000000000000000000002 06 00 0104 00000000 c001 024b a1b2c3d4",
        // IPv6 extension chain with an atomic fragment
        "6000 0000 004c 00 40 20010db8000000000000000000000001 20010db8000000000000000000000002 2b 00 0104 00000000 " +
        "3c 02 04 00 00 00 0000 20010db8000000000000000000000099 2c 00 0104 00000000 06 00 0000 deadbeef " +
        "c001 024b 11223344 00000000 70 02 faf0 0000 0000 020405a0 01010402",
        // IPv4 fragments
        "4500 0024 7777 2000 40 11 f71a c0000201 c6336402 14e9 0035 0020 0000 4142434445464748",
        "4500 0024 7777 0002 40 11 1719 c0000201 c6336402 494a4b4c4d4e4f505152535455565758",
    ];

    [Fact]
    public void Decode_RandomAndMutatedFrames_NeverThrows() => Run();

    internal static void Run()
    {
        var random = new Random(Seed);
        var decoder = new FrameDecoder(new IpReassembler(), new DecodeCounters());
        var seeds = new List<(int LinkType, byte[] Frame)>();
        foreach (var (linkType, header) in Links)
            foreach (string packet in Packets)
                seeds.Add((linkType, DecoderHarness.Hex(header + packet)));
        // Whole tunnelled frames (GRE, IP-in-IP, VXLAN, Geneve, PPPoE, ERSPAN, ...) and the edge cases.
        foreach (var row in TunnelDecodeTests.Encapsulated) seeds.Add((LinkTypes.Ethernet, DecoderHarness.Hex((string)row[1] + (string)row[2])));
        foreach (var row in TunnelEdgeCaseTests.Vectors2) seeds.Add((LinkTypes.Ethernet, DecoderHarness.Hex((string)row[1])));

        int[] allLinkTypes = [.. Links.Select(l => l.LinkType).Distinct()];
        long decoded = 0;
        var buffer = new byte[2048];
        for (int i = 0; i < seeds.Count * IterationsPerSeed; i++)
        {
            int linkType;
            int length;
            if (i % 4 == 0)
            {
                // Pure noise, biased to start like IP sometimes.
                linkType = allLinkTypes[random.Next(allLinkTypes.Length)];
                length = random.Next(0, 200);
                random.NextBytes(buffer.AsSpan(0, length));
                if (length > 0 && random.Next(2) == 0) buffer[0] = (byte)(random.Next(2) == 0 ? 0x45 : 0x60);
            }
            else
            {
                var (seedLink, seed) = seeds[random.Next(seeds.Count)];
                linkType = seedLink;
                seed.CopyTo(buffer, 0);
                length = seed.Length;
                int mutations = random.Next(1, 6);
                for (int m = 0; m < mutations; m++)
                {
                    switch (random.Next(5))
                    {
                        case 0: buffer[random.Next(length)] = (byte)random.Next(256); break;
                        case 1: buffer[random.Next(length)] ^= (byte)(1 << random.Next(8)); break;
                        case 2: length = random.Next(length + 1); break;
                        case 3: // extend with noise
                            int extra = random.Next(1, 64);
                            random.NextBytes(buffer.AsSpan(length, extra));
                            length += extra;
                            break;
                        case 4: buffer[random.Next(length)] = random.Next(2) == 0 ? (byte)0 : (byte)0xff; break;
                    }
                    if (length == 0) break;
                }
            }

            int wireLength = random.Next(4) == 0 ? length + random.Next(0, 70000) : length;
            if (random.Next(50) == 0) wireLength = random.Next(0, length + 1); // impossible (wire < captured)
            if (DecodeOne(decoder, linkType, buffer.AsSpan(0, length), wireLength) == DecodeStatus.Ok) decoded++;
        }
        // The mutations must still reach the transport decoders, not only be rejected at the link layer.
        Assert.True(decoded > seeds.Count * IterationsPerSeed / 10, $"only {decoded} frames decoded to the transport layer");
        Assert.Equal(decoder.Counters.Frames, seeds.Count * (long)IterationsPerSeed);
        // ... and the decapsulation paths, not only plain IP.
        Assert.True(decoder.Counters.Decapsulated > seeds.Count * IterationsPerSeed / 50, $"only {decoder.Counters.Decapsulated} frames decapsulated");
    }

    private static DecodeStatus DecodeOne(FrameDecoder decoder, int linkType, ReadOnlySpan<byte> data, int wireLength)
    {
        var frame = new RawFrame(data, wireLength, new Timestamp(1), linkType, 0);
        var p = new DecodedPacket();
        DecodeStatus status = decoder.Decode(in frame, ref p);
        // Invariants that must hold for any input.
        // A reassembled payload lives in the reassembler's buffer and can be longer than this frame.
        Assert.True(p.Reassembled || p.Payload.Length <= data.Length);
        if (status == DecodeStatus.Ok)
        {
            Assert.True(p.IpVersion is 4 or 6);
            Assert.True(p.IpHeaderLength <= p.IpPacketLength);
            Assert.InRange(p.Encap.Depth, 0, Encapsulation.MaxLayers);
            Assert.True(p.Encap.MtuOverhead <= p.Encap.HeaderBytes);
            Assert.InRange(p.Payload.Length, 0, p.PayloadWireLength);
        }
        return status;
    }
}
