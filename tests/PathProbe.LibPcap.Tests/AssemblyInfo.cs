// Live-capture tests run one at a time: they create network namespaces and capture on them.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
