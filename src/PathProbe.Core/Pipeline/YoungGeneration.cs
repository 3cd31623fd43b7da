namespace PathProbe.Pipeline;

/// <summary>
/// Keeps the garbage collector's youngest generation small while the heap is small, so that peak memory follows what
/// the analysis keeps rather than what it allocated on the way. On a machine with a large L3 cache the runtime lets
/// generation 0 grow to 128 MB between collections (<c>GCgen0MaxBudget</c>, measured with 32 MB of L3); an analysis
/// that keeps 100 MB of flows for its report, and lets as much go again (the per-packet state of closed flows, the
/// report's own text), then peaks near twice what it keeps.
/// <para>
/// <see cref="Check"/> is called where much is allocated, never per packet: every few thousand frames by the reading
/// loop, after each end-of-input stage, as the JSON report streams out, and on each status tick of a live capture. Once <see cref="Budget"/> bytes were
/// allocated since the last collection it collects generation 0 (the runtime widens a collection to older generations
/// when their budgets are spent). Past <see cref="HeapLimit"/> of heap it leaves collections to the runtime: there the
/// young generation is a small part of the peak and each collection of it costs more, because a large old generation's
/// references into it are scanned. A fixed 16 MB budget (the runtime setting) took 30 % more CPU on DNS-heavy traffic
/// with 450 MB of transactions kept for the report (benchmark set (c)); this takes 9 % there, while that heap is still
/// under the limit (README "Memory").
/// </para>
/// <para>Cheap (two counters read); may be called from several threads (parallel workers): a race costs at most one
/// collection more or less.</para>
/// </summary>
public static class YoungGeneration
{
    // 16 MB until the per-side arrays were reused (GrowArrays) and closing sessions stopped allocating: with half the
    // allocation, 32 MB gives the same peaks (benchmark sets, 1 M SYNs, 30,000 sessions, within 3 MB) for fewer collections.
    internal const long Budget = 32L << 20;
    internal const long HeapLimit = 192L << 20;
    private static readonly Policy s_policy = new();

    public static void Check()
    {
        if (s_policy.Decide(GC.GetTotalAllocatedBytes(precise: false), GC.CollectionCount(0), static () => GC.GetTotalMemory(forceFullCollection: false)))
        {
            GC.Collect(0, GCCollectionMode.Forced, blocking: true, compacting: false);
            s_policy.Collected(GC.CollectionCount(0));
        }
    }

    /// <summary>The decision, on the numbers it is given (tests give it their own).</summary>
    internal sealed class Policy
    {
        private long _allocatedAtCollection;
        private int _collections = -1;

        /// <summary>Collect when <see cref="Budget"/> bytes were allocated since the runtime's last collection (or the
        /// last one this policy asked for) and the heap is not past <see cref="HeapLimit"/>; the heap is asked for only
        /// then.</summary>
        public bool Decide(long allocated, int collections, Func<long> heap)
        {
            if (collections != _collections)
            {
                // The runtime collected since the last check (or this is the first): count from here.
                _collections = collections;
                _allocatedAtCollection = allocated;
                return false;
            }
            if (allocated - _allocatedAtCollection < Budget) return false;
            _allocatedAtCollection = allocated;
            return heap() <= HeapLimit;
        }

        /// <summary>The collection asked for was made: the runtime's count after it.</summary>
        public void Collected(int collections) => _collections = collections;
    }
}
