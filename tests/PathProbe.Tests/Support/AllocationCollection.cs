namespace PathProbe.Tests.Support;

/// <summary>
/// Tests that measure allocations with GC.GetAllocatedBytesForCurrentThread run alone, after the parallel tests:
/// while other tests run, the runtime's tiering and class loading can land on the measuring thread.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationCollection
{
    public const string Name = "allocation measurements";
}
