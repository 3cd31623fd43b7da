// The namespace tests run one at a time: each builds three namespaces and times its probes.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
