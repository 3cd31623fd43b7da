using PathProbe.Analysis.Tcp;
using PathProbe.Decoding;
using PathProbe.Flows.Tcp;

namespace PathProbe.Tests.Analysis;

/// <summary>
/// A TCP side's arrays are sized to what it uses (issue 16 item 5): the ring of TSvals (4 entries first, up to 32)
/// and the RTT samples (4 first, up to 64) grow as the side sends. A short connection (a DNS query over TCP) sends a
/// few of each, where the fixed arrays took 432 and 536 bytes per side. Growing must not change a number: each test
/// runs the growing arrays against the fixed ones they replaced (kept here as the reference).
/// </summary>
public sealed class TcpStateSizingTests
{
    /// <summary>The ring as it was: 32 entries from the first TSval on.</summary>
    private sealed class FixedRing
    {
        public readonly uint[] Vals = new uint[32];
        public readonly long[] Times = new long[32];
        public int Next;
        public readonly List<long> Samples = new();

        public static void Step(FixedRing f, FixedRing r, uint tsval, uint ecr, long now, bool sample)
        {
            int last = (f.Next + 31) & 31;
            if (f.Times[last] == 0 || f.Vals[last] != tsval)
            {
                f.Vals[f.Next] = tsval;
                f.Times[f.Next] = now;
                f.Next = (f.Next + 1) & 31;
            }
            if (!sample) return;
            for (int i = 0; i < 32; i++)
                if (r.Times[i] != 0 && r.Vals[i] == ecr)
                {
                    if (now >= r.Times[i]) r.Samples.Add(now - r.Times[i]);
                    return;
                }
        }
    }

    [Fact]
    public void TimestampRing_Growing_GivesTheFixedRingsSamples()
    {
        var rng = new Random(16);
        int grownToFull = 0, small = 0;
        for (int run = 0; run < 400; run++)
        {
            var f = new TcpEndpointState();
            var r = new TcpEndpointState();
            var ff = new FixedRing();
            var fr = new FixedRing();
            // Short runs (a DNS query) and long ones that wrap the full ring several times.
            int steps = run % 4 == 0 ? rng.Next(100, 400) : rng.Next(1, 12);
            uint tsF = (uint)rng.Next(), tsR = (uint)rng.Next();
            long now = 1_790_000_000_000_000_000;
            var sentF = new List<uint>();
            var sentR = new List<uint>();
            bool everSent = false;
            for (int s = 0; s < steps; s++)
            {
                now += rng.Next(1, 3_000_000);
                bool fromF = rng.Next(2) == 0;
                // TSvals mostly rise; some repeat (several segments in one tick), some go back (a reordered capture).
                ref uint ts = ref (fromF ? ref tsF : ref tsR);
                int kind = rng.Next(10);
                if (kind < 6) ts += (uint)rng.Next(1, 5);
                else if (kind == 9) ts -= (uint)rng.Next(1, 40);
                var echoed = fromF ? sentR : sentF;
                uint ecr = echoed.Count > 0 && rng.Next(5) > 0 ? echoed[rng.Next(Math.Max(0, echoed.Count - 40), echoed.Count)] : (uint)rng.Next();
                bool sample = rng.Next(3) > 0;
                var p = new DecodedPacket();
                p.TcpOptions.HasTimestamps = true;
                p.TcpOptions.TsVal = ts;
                p.TcpOptions.TsEcr = ecr;
                if (fromF)
                {
                    TcpAnalyzer.TimestampRtt(f, r, ref p, now, sample);
                    FixedRing.Step(ff, fr, ts, ecr, now, sample);
                    sentF.Add(ts);
                }
                else
                {
                    TcpAnalyzer.TimestampRtt(r, f, ref p, now, sample);
                    FixedRing.Step(fr, ff, ts, ecr, now, sample);
                    sentR.Add(ts);
                }
                everSent = true;
            }
            Assert.True(everSent);
            foreach (var (side, fixedSide) in new[] { (f, ff), (r, fr) })
            {
                Assert.Equal(fixedSide.Samples.Count, side.Rtt.Count);
                if (fixedSide.Samples.Count > 0)
                {
                    Assert.Equal(fixedSide.Samples.Min(), side.Rtt.MinNanos);
                    Assert.Equal(fixedSide.Samples.Max(), side.Rtt.MaxNanos);
                    Assert.Equal(fixedSide.Samples[^1], side.Rtt.LastNanos);
                }
                if (side.TsTimes is null) continue;
                // Every entry sits where the fixed ring has it.
                Assert.Equal(fixedSide.Next, side.TsNext);
                Assert.Equal(fixedSide.Times.AsSpan(0, side.TsTimes.Length).ToArray(), side.TsTimes);
                Assert.Equal(fixedSide.Vals.AsSpan(0, side.TsVals!.Length).ToArray(), side.TsVals);
                Assert.All(fixedSide.Times.AsSpan(side.TsTimes.Length).ToArray(), t => Assert.Equal(0, t));
                if (side.TsTimes.Length == TcpAnalyzer.TsRing) grownToFull++;
                else if (side.TsTimes.Length <= 8) small++;
            }
            // The flow leaves the table: its arrays go back to the thread's free lists, and the next runs take them
            // (GrowArrays), so these runs also check that an array taken again reads as a new one.
            f.ReleaseForReport();
            r.ReleaseForReport();
        }
        // Both kinds of run happened: rings that stayed small and rings that grew to their full size (and wrapped).
        Assert.True(grownToFull > 50 && small > 200, $"{grownToFull} full rings, {small} small ones");
    }

    /// <summary>The RTT samples as they were: 64 slots from the first sample on, then the reservoir.</summary>
    private sealed class FixedSamples
    {
        private readonly long[] _s = new long[RttStats.ExactSamples];
        private int _stored;
        private long _count;
        private ulong _rng = 0x9E3779B97F4A7C15UL;

        public void Add(long nanos)
        {
            if (nanos < 0) return;
            _count++;
            if (_stored < _s.Length) { _s[_stored++] = nanos; return; }
            _rng ^= _rng << 13; _rng ^= _rng >> 7; _rng ^= _rng << 17;
            ulong j = Math.BigMul(_rng, (ulong)_count, out _);
            if (j < (ulong)_s.Length) _s[j] = nanos;
        }

        public long Median()
        {
            if (_stored == 0) return -1;
            var copy = _s.AsSpan(0, _stored).ToArray();
            Array.Sort(copy);
            return _stored % 2 == 1 ? copy[_stored / 2] : (copy[_stored / 2 - 1] + copy[_stored / 2]) / 2;
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(17)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(1000)]
    public void RttSamples_Growing_SameMedianAsTheFixedArray(int samples)
    {
        var rng = new Random(samples);
        var stats = new RttStats();
        var reference = new FixedSamples();
        for (int i = 0; i < samples; i++)
        {
            long v = rng.Next(1, 50_000_000);
            stats.Add(v);
            reference.Add(v);
            if (i % 7 == 0) Assert.Equal(reference.Median(), stats.MedianNanos());
        }
        Assert.Equal(samples, stats.Count);
        Assert.Equal(reference.Median(), stats.MedianNanos());
        // Frozen at the flow's close: the same median, the samples let go.
        stats.Freeze();
        Assert.Equal(reference.Median(), stats.MedianNanos());
    }

    /// <summary>A recycled flow record's samples (<see cref="RttStats.Reset"/>) are a new record's: past 64 samples the
    /// reservoir picks the same ones, so the median does not depend on which record a flow got.</summary>
    [Fact]
    public void RttSamples_AfterReset_SameReservoirAsANewRecord()
    {
        var rng = new Random(7);
        var samples = Enumerable.Range(0, 500).Select(_ => (long)rng.Next(1, 50_000_000)).ToArray();
        var recycled = new RttStats();
        for (int i = 0; i < 300; i++) recycled.Add(rng.Next(1, 9_000)); // the record's earlier flow
        recycled.Reset();
        var fresh = new RttStats();
        foreach (long v in samples) { recycled.Add(v); fresh.Add(v); }
        Assert.Equal(fresh.MedianNanos(), recycled.MedianNanos());
        Assert.Equal(new FixedSamplesOf(samples).Median(), fresh.MedianNanos());
    }

    private sealed class FixedSamplesOf
    {
        private readonly FixedSamples _s = new();
        public FixedSamplesOf(IEnumerable<long> values) { foreach (long v in values) _s.Add(v); }
        public long Median() => _s.Median();
    }

    [Fact]
    public void RttSamples_Median_AllocatesNothing()
    {
        var stats = new RttStats();
        for (int i = 0; i < 40; i++) stats.Add(1000 + i * 37 % 11);
        _ = stats.MedianNanos();
        long before = GC.GetAllocatedBytesForCurrentThread();
        long m = stats.MedianNanos();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(m > 0);
    }
}
