using PathProbe.Pipeline;

namespace PathProbe.Tests.Pipeline;

/// <summary><see cref="YoungGeneration"/>'s policy: once 32 MB were allocated since the last collection, collect;
/// not past the heap limit; a collection of the runtime's own starts the count again. (Its effect on a real run:
/// SmtpSessionsMemoryTests, and README "Memory".)</summary>
public sealed class YoungGenerationTests
{
    private const long MB = 1L << 20;

    [Fact]
    public void Decide_EveryBudgetWithoutACollection_Collects()
    {
        var p = new YoungGeneration.Policy();
        int heapAsked = 0;
        long Heap() { heapAsked++; return 50 * MB; }
        Assert.False(p.Decide(0, 7, Heap)); // the first check only starts counting
        var decisions = new List<long>();
        int count = 7;
        for (long mb = 1; mb <= 128; mb++)
            if (p.Decide(mb * MB, count, Heap)) { decisions.Add(mb); p.Collected(++count); }
        // After each collection it asked for, the runtime's count moved (Collected): counting goes on from there.
        Assert.Equal([32L, 64, 96, 128], decisions);
        Assert.Equal(4, heapAsked); // the heap is asked for only when the budget was reached
    }

    [Fact]
    public void Decide_RuntimeCollectedMeanwhile_CountsFromThere()
    {
        var p = new YoungGeneration.Policy();
        Assert.False(p.Decide(0, 1, () => 0));
        Assert.False(p.Decide(20 * MB, 1, () => 0));
        Assert.False(p.Decide(40 * MB, 2, () => 0)); // the runtime collected at about 40 MB
        Assert.False(p.Decide(70 * MB, 2, () => 0)); // 30 MB since
        Assert.True(p.Decide(72 * MB, 2, () => 0));  // 32 MB since
    }

    [Fact]
    public void Decide_HeapPastTheLimit_LeavesItToTheRuntime()
    {
        var p = new YoungGeneration.Policy();
        Assert.False(p.Decide(0, 1, () => YoungGeneration.HeapLimit + 1));
        Assert.False(p.Decide(32 * MB, 1, () => YoungGeneration.HeapLimit + 1));
        Assert.False(p.Decide(63 * MB, 1, () => YoungGeneration.HeapLimit));  // 31 MB since the last decision
        Assert.True(p.Decide(64 * MB, 1, () => YoungGeneration.HeapLimit));
    }
}
