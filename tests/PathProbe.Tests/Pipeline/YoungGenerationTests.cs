using PathProbe.Pipeline;

namespace PathProbe.Tests.Pipeline;

/// <summary><see cref="YoungGeneration"/>: once 16 MB were allocated since the last collection, a check collects;
/// past the heap limit it leaves collections to the runtime.</summary>
public sealed class YoungGenerationTests
{
    /// <summary>Allocating garbage and checking every megabyte, as the reading loop checks every few thousand frames:
    /// at least one collection per 16 MB whatever the runtime's own budget (128 MB on this project's machine, where
    /// without the checks 64 MB of garbage passed without one).</summary>
    [SkippableFact]
    public void Check_AfterBudgetAllocated_Collects()
    {
        // Past the heap limit the check leaves collections to the runtime (by design): the test host's own heap (other
        // tests running beside) may be that large.
        Skip.If(GC.GetTotalMemory(forceFullCollection: false) > YoungGeneration.HeapLimit - (64L << 20),
            "the test process's heap is near YoungGeneration.HeapLimit: the check would rightly not collect");
        YoungGeneration.Check(); // start counting from here
        int before = GC.CollectionCount(0);
        long sink = 0;
        for (int mb = 0; mb < 64; mb++)
        {
            for (int i = 0; i < 16; i++) sink += new byte[64 * 1024].Length; // 1 MB of garbage
            YoungGeneration.Check();
        }
        Assert.Equal(64L << 20, sink);
        int collections = GC.CollectionCount(0) - before;
        Assert.True(collections >= 64 / 16 - 1, $"{collections} generation-0 collections while 64 MB were allocated with checks");
    }
}
