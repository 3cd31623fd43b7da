using PathProbe.Flows.Tcp;

namespace PathProbe.Tests.Analysis;

/// <summary>
/// The per-thread free lists of the per-side arrays (<see cref="GrowArrays{T}"/>): an array given back is taken again
/// by the next side that needs its size, reads as a new one (all zero), and the lists stay bounded.
/// </summary>
public sealed class GrowArraysTests
{
    [Fact]
    public void Rent_AfterReturn_GivesTheSameArrayCleared()
    {
        // A size no other code on this thread uses in between (the lists are per thread).
        var a = GrowArrays<long>.Rent(1 << 14);
        a.AsSpan().Fill(7);
        GrowArrays<long>.Return(a);
        var b = GrowArrays<long>.Rent(1 << 14);
        Assert.Same(a, b);
        Assert.All(b, x => Assert.Equal(0, x));
        // Taken: the next one is new.
        Assert.NotSame(b, GrowArrays<long>.Rent(1 << 14));
    }

    [Fact]
    public void Grow_CopiesEntries_AndGivesTheOldArrayBack()
    {
        var small = GrowArrays<UnackedSegment>.Rent(1 << 13);
        for (int i = 0; i < small.Length; i++) small[i] = new UnackedSegment { Seq = (uint)i, Next = (uint)i + 1, Time = i };
        var big = GrowArrays<UnackedSegment>.Grow(small, 1 << 14);
        Assert.Equal(1 << 14, big.Length);
        for (int i = 0; i < small.Length; i++) Assert.Equal((uint)i, big[i].Seq);
        Assert.All(big.AsSpan(1 << 13).ToArray(), u => Assert.Equal(default, u));
        var again = GrowArrays<UnackedSegment>.Rent(1 << 13);
        Assert.Same(small, again);
        Assert.All(again, u => Assert.Equal(default, u));
    }

    [Fact]
    public void Return_IsBounded_AndIgnoresOtherLengths()
    {
        // 2^15 longs are 256 KiB: at most 4 of that size wait.
        var given = Enumerable.Range(0, 6).Select(_ => new long[1 << 15]).ToList();
        foreach (var a in given) GrowArrays<long>.Return(a);
        var taken = Enumerable.Range(0, 6).Select(_ => GrowArrays<long>.Rent(1 << 15)).ToList();
        Assert.Equal(4, taken.Count(t => given.Any(g => ReferenceEquals(g, t))));

        var odd = new long[12];
        GrowArrays<long>.Return(odd);
        GrowArrays<long>.Return(null);
        Assert.NotSame(odd, GrowArrays<long>.Rent(8));
        Assert.NotSame(odd, GrowArrays<long>.Rent(16));
    }
}
