using PathProbe.Capture;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Primitives;

namespace PathProbe.Tests.Decoding;

[Collection(PathProbe.Tests.Support.AllocationCollection.Name)]
public class FrameDecoderTests
{
    [Fact]
    public void Constructor_NullArguments_Throw()
    {
        Assert.Throws<ArgumentNullException>(() => new FrameDecoder(null!, new DecodeCounters()));
        Assert.Throws<ArgumentNullException>(() => new FrameDecoder(new IpReassembler(), null!));
    }

    [Fact]
    public void Constructor_KeepsCountersAndReassembler()
    {
        var counters = new DecodeCounters();
        var reassembler = new IpReassembler();
        var decoder = new FrameDecoder(reassembler, counters);
        Assert.Same(counters, decoder.Counters);
        Assert.Same(reassembler, decoder.Reassembler);
    }

    [Fact]
    public void Decode_SteadyState_AllocatesNothing()
    {
        // Stands in for the [MemoryDiagnoser] benchmark until one exists: every non-fragment path, malformed ones included.
        var decoder = new FrameDecoder(new IpReassembler(), new DecodeCounters());
        (int LinkType, byte[] Data)[] frames =
        [
            (LinkTypes.Ethernet, DecoderHarness.Hex(Vectors.EthDstSrc + "88a8 00c8 8100 0064 0800" + Vectors.Ip4TcpSyn)),
            (LinkTypes.LinuxSll2, DecoderHarness.Hex("86dd 0000 00000002 0001 00 06 00005e0053020000" + Vectors.Ip6Udp)),
            (LinkTypes.Raw, DecoderHarness.Hex("4500 003c 1234 4000 40 06 3c51 c0000201 c6336402 c000 0019 01020304 00000000 a0 02 faf0 0000 0000 020405b4 0402 080a 00000064 00000000 01 030307")),
            (LinkTypes.Raw, DecoderHarness.Hex("4500 0038 0001 0000 fa 01 c2c0 cb007101 c0000201 03 04 334c 0000 0590 4500 05dc 1234 4000 40 06 36b1 c0000201 c6336402 c000 0019 01020304")),
            (LinkTypes.Raw, DecoderHarness.Hex("4500 0028 0003 0000 fa 01 c2ce cb007101 c0000201 0b 00 e137 00000000 4500 0028 4242 0000 01 11 8b4c")),
            (LinkTypes.Ethernet, DecoderHarness.Hex(Vectors.EthDstSrc + "0806 0001 0800 0604 0001")),
            (LinkTypes.Raw, DecoderHarness.Hex("4400 0020 1234 4000 40 11 0000 c0000201 c6336402 00000000")),
            (LinkTypes.Null, DecoderHarness.Hex("1e000000" + Vectors.Ip6Udp)),
        ];

        // Every encapsulation, and the tunnels that are counted as not decoded, malformed or not IP.
        frames = [.. frames,
            .. TunnelDecodeTests.Encapsulated.Select(r => (LinkTypes.Ethernet, DecoderHarness.Hex((string)r[1] + (string)r[2]))),
            .. TunnelEdgeCaseTests.Vectors2.Select(r => (LinkTypes.Ethernet, DecoderHarness.Hex((string)r[1])))];

        long before = 0;
        for (int round = 0; round < 2; round++) // first round warms up (JIT, statics, the first count of each reason)
        {
            before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++)
            {
                foreach (var (linkType, data) in frames)
                {
                    var frame = new RawFrame(data, data.Length, new Timestamp(i), linkType, 0);
                    var p = new DecodedPacket();
                    decoder.Decode(in frame, ref p);
                }
            }
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
