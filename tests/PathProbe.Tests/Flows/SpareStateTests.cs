using PathProbe.Analysis.Dns;
using PathProbe.Flows;
using PathProbe.Flows.Tcp;

namespace PathProbe.Tests.Flows;

/// <summary>
/// The per-thread spares of per-flow state: TCP states given back by flow records that became UDP flows (or by held
/// SYNs), and the DNS states of recycled records. A spare is taken by the next flow instead of a new state, holds no
/// grown arrays while it waits, reads as new when taken, and the spares stay bounded. Each test runs on a thread of its
/// own, since the spares are per thread.
/// </summary>
public sealed class SpareStateTests
{
    private static void OnOwnThread(Action body)
    {
        Exception? error = null;
        var t = new Thread(() => { try { body(); } catch (Exception e) { error = e; } });
        t.Start();
        t.Join();
        if (error is not null) throw new Xunit.Sdk.XunitException("on the test's thread: " + error);
    }

    [Fact]
    public void TcpStates_GivenBack_AreTakenAgain_WithoutArrays_AndBounded()
    {
        OnOwnThread(() =>
        {
            int n = Flow.SpareTcpStates + 100;
            // n TCP flows at once, then their records all become UDP flows.
            var flows = Enumerable.Range(0, n).Select(_ => new Flow()).ToList();
            foreach (var f in flows) f.AttachTcp();
            var given = new HashSet<TcpConnectionState>(flows.Select(f => f.TcpIfMade!), ReferenceEqualityComparer.Instance);
            Assert.Equal(n, given.Count);
            foreach (var f in flows)
            {
                var c = f.TcpIfMade!;
                c.Client.PushUnacked(1000, 2000, 1, retransmitted: false); // a side that grew its array
                f.DetachTcp();
                Assert.Null(f.TcpIfMade);
                Assert.Null(c.Client.Unacked); // the spare holds no array: it went back to the free lists
            }
            var taken = new List<TcpConnectionState>();
            for (int i = 0; i < n; i++)
            {
                var f = new Flow();
                f.AttachTcp();
                taken.Add(f.TcpIfMade!);
            }
            // As many as the bound, each once; the rest are new.
            Assert.Equal(Flow.SpareTcpStates, taken.Count(given.Contains));
            Assert.Equal(n, taken.Distinct(ReferenceEqualityComparer.Instance).Count());
            Assert.All(taken, c => Assert.Equal((0, TcpHandshake.NotSeen, 0), (c.Client.UnackedCount, c.Handshake, c.SynCount)));
        });
    }

    [Fact]
    public void DnsStates_Recycled_AreTakenAgain_ReadingAsNew_AndBounded()
    {
        OnOwnThread(() =>
        {
            int n = DnsFlowState.SpareStates + 100;
            var made = Enumerable.Range(0, n).Select(_ => DnsFlowState.Take(DnsTransport.Udp)).ToList();
            Assert.Equal(n, made.Distinct(ReferenceEqualityComparer.Instance).Count()); // nothing to take yet: all new
            foreach (var s in made)
            {
                s.Queries = 3;
                s.UnmatchedResponses = 1;
                ((IReusableApplication)s).Recycle();
            }
            var taken = Enumerable.Range(0, n).Select(i => DnsFlowState.Take(i % 2 == 0 ? DnsTransport.Tcp : DnsTransport.Udp)).ToList();
            var madeSet = new HashSet<DnsFlowState>(made, ReferenceEqualityComparer.Instance);
            Assert.Equal(DnsFlowState.SpareStates, taken.Count(madeSet.Contains));
            for (int i = 0; i < n; i++)
            {
                var s = taken[i];
                Assert.Equal(i % 2 == 0 ? DnsTransport.Tcp : DnsTransport.Udp, s.Transport);
                Assert.Equal((0, 0L, 0L), (s.Transactions.Count, s.Queries, s.UnmatchedResponses));
                Assert.False(s.HasTcpStreams);
            }
        });
    }
    [Fact]
    public void ClosedSide_DataOnlyCounters_KeptAsTwoNumbers_BoxTakenByTheNextSide()
    {
        OnOwnThread(() =>
        {
            var healthy = new TcpEndpointState();
            healthy.CountersToWrite.DataSegments = 7;
            healthy.CountersToWrite.MaxBytesInFlight = 9000;
            var sick = new TcpEndpointState();
            sick.CountersToWrite.DataSegments = 5;
            sick.CountersToWrite.Retransmissions = 2;
            var before = (healthy.Counters, sick.Counters);

            healthy.ReleaseForReport();
            sick.ReleaseForReport();
            Assert.Equal(before, (healthy.Counters, sick.Counters)); // what the reports read is the same

            // The healthy side's box went to the spares, cleared: the next side starts from zero.
            var next = new TcpEndpointState();
            next.CountersToWrite.DataSegments++;
            Assert.Equal(new TcpCounters { DataSegments = 1 }, next.Counters);
            Assert.Equal(before.Item1, healthy.Counters);

            // A closed side written again (not done today) carries on from its numbers.
            healthy.CountersToWrite.KeepAlives++;
            Assert.Equal(before.Item1 with { KeepAlives = 1 }, healthy.Counters);

            // A recycled side reads as new, also one whose counters were kept as two numbers.
            var other = new TcpEndpointState();
            other.CountersToWrite.DataSegments = 3;
            other.ReleaseForReport();
            other.Reset();
            Assert.Equal(default, other.Counters);
        });
    }
    [Fact]
    public void OnlyDataAndInFlight_FalseForEveryOtherCounter()
    {
        // Each counter TcpCounters has (by reflection: a counter added later is covered) set alone to 1.
        foreach (var field in typeof(TcpCounters).GetFields())
        {
            object boxed = new TcpCounters();
            field.SetValue(boxed, Convert.ChangeType(1, field.FieldType));
            bool only = ((TcpCounters)boxed).OnlyDataAndInFlight;
            Assert.True(only == field.Name is nameof(TcpCounters.DataSegments) or nameof(TcpCounters.MaxBytesInFlight), field.Name);
        }
    }
}
