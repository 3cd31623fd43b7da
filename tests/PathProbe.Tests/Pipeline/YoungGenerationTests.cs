using PathProbe.Pipeline;

namespace PathProbe.Tests.Pipeline;

/// <summary><see cref="YoungGeneration"/>'s policy: once 16 MB were allocated since the last collection, collect;
/// not past the heap limit; a collection of the runtime's own starts the count again. (Its effect on a real run:
/// SmtpSessionsMemoryTests, and README "Memory".)</summary>
public sealed class YoungGenerationTests
{
    private const long MB = 1L << 20;

    [Fact]
    public void Decide_EverySixteenMegabytesWithoutACollection_Collects()
    {
        var p = new YoungGeneration.Policy();
        int heapAsked = 0;
        long Heap() { heapAsked++; return 50 * MB; }
        Assert.False(p.Decide(0, 7, Heap)); // the first check only starts counting
        var decisions = new List<long>();
        int count = 7;
        for (long mb = 1; mb <= 64; mb++)
            if (p.Decide(mb * MB, count, Heap)) { decisions.Add(mb); p.Collected(++count); }
        // After each collection it asked for, the runtime's count moved (Collected): counting goes on from there.
        Assert.Equal([16L, 32, 48, 64], decisions);
        Assert.Equal(4, heapAsked); // the heap is asked for only when the budget was reached
    }

    [Fact]
    public void Decide_RuntimeCollectedMeanwhile_CountsFromThere()
    {
        var p = new YoungGeneration.Policy();
        Assert.False(p.Decide(0, 1, () => 0));
        Assert.False(p.Decide(10 * MB, 1, () => 0));
        Assert.False(p.Decide(20 * MB, 2, () => 0)); // the runtime collected at about 20 MB
        Assert.False(p.Decide(30 * MB, 2, () => 0)); // 10 MB since
        Assert.True(p.Decide(36 * MB, 2, () => 0));  // 16 MB since
    }

    [Fact]
    public void Decide_HeapPastTheLimit_LeavesItToTheRuntime()
    {
        var p = new YoungGeneration.Policy();
        Assert.False(p.Decide(0, 1, () => YoungGeneration.HeapLimit + 1));
        Assert.False(p.Decide(16 * MB, 1, () => YoungGeneration.HeapLimit + 1));
        Assert.False(p.Decide(31 * MB, 1, () => YoungGeneration.HeapLimit));  // 15 MB since the last decision
        Assert.True(p.Decide(32 * MB, 1, () => YoungGeneration.HeapLimit));
    }
}
