using PathProbe.Capture;
using PathProbe.Primitives;
using static PathProbe.Tests.Capture.CaptureTestHelpers;

namespace PathProbe.Tests.Capture;

/// <summary>Steady-state reading and writing allocate nothing per packet (a cheap stand-in for the benchmark).</summary>
[Collection(PathProbe.Tests.Support.AllocationCollection.Name)]
public class AllocationTests
{
    private static long AllocatedWhileReading(byte[] capture, int bufferSize)
    {
        // Warm-up pass over the whole capture: every code path is jitted (and tiered) before measuring.
        using (var warm = OpenBytes(capture, bufferSize))
            while (warm.TryRead(out _)) { }
        using var source = OpenBytes(capture, bufferSize);
        Assert.True(source.TryRead(out _)); // warm-up: JIT, first fill
        long before = GC.GetAllocatedBytesForCurrentThread();
        long sum = 0;
        while (source.TryRead(out var frame)) sum += frame.Data.Length;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(source.End.IsClean);
        Assert.True(sum > 0);
        return allocated;
    }

    [Fact]
    public void TryRead_PcapSteadyState_AllocatesNothing()
    {
        var b = new CaptureBytes(false).PcapHeader();
        for (int i = 0; i < 2000; i++) b.PcapRecord((uint)i, 0, CaptureBytes.Bytes(60 + i % 1400));

        Assert.Equal(0, AllocatedWhileReading(b.ToArray(), 8192));
    }

    [Fact]
    public void TryRead_PcapNgSteadyState_AllocatesNothing()
    {
        var b = new CaptureBytes(true).Shb().Idb(1, 0).Idb(101, 0);
        for (int i = 0; i < 2000; i++)
        {
            if (i % 100 == 0) b.Block(4, new byte[16]); // NRB, skipped (an ISB allocates its statistics record: not per packet)
            b.Epb((uint)(i % 2), (ulong)i * 1000, CaptureBytes.Bytes(60 + i % 1400));
        }

        Assert.Equal(0, AllocatedWhileReading(b.ToArray(), 8192));
    }

    [Fact]
    public void WritePacket_SteadyState_AllocatesNothing()
    {
        using var w = new PcapNgWriter(Stream.Null);
        w.AddInterface(LinkTypes.Ethernet);
        byte[] data = CaptureBytes.Bytes(1500);
        // Warm up every path that is measured (write, buffer turnover, flush) so that first-call and tiering effects
        // are not counted; it failed now and then with one write of warm-up and no flush.
        for (int i = 0; i < 2000; i++) w.WritePacket(0, new Timestamp(i), data, data.Length);
        w.Flush();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 2000; i++) w.WritePacket(0, new Timestamp(i), data, data.Length);
        w.Flush();

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
