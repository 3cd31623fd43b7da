using System.Text;
using PathProbe.Analysis.Dns;
using PathProbe.Capture;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;
using PathProbe.Reports;
using static PathProbe.Tests.Analysis.Dns.DnsTestPackets;

namespace PathProbe.Tests.Analysis.Dns;

public sealed class DnsAnalyzerTests
{
    private const string Client = "198.51.100.10", Server = "203.0.113.53";

    private static InputSummary Input() => new() { Path = "test" };

    private static List<DnsTransaction> Transactions(CaptureAnalysis a) =>
        a.Flows.Select(f => f.App).OfType<DnsFlowState>().SelectMany(s => s.Transactions).ToList();

    private static byte[] A(string ip) => IpAddress.Parse(ip).ToIPAddress().GetAddressBytes();

    [Fact]
    public void Response_MatchingQuery_AnsweredWithRecordsSizesAndResponseTime()
    {
        var e = new Engine();
        Feed(e, Udp(Client, 40000, Server, 53, Query(0x1234, "mx.example.test", DnsType.A, edns: 1232)), 0);
        Feed(e, Udp(Server, 53, Client, 40000, Response(0x1234, "MX.Example.Test", DnsType.A, new[] { (DnsType.A, A("203.0.113.25")) }, edns: 4096)), 0.012);
        var a = e.Complete(Input());

        var t = Assert.Single(Transactions(a));
        Assert.Equal(DnsOutcome.Answered, t.Outcome);
        Assert.Equal("mx.example.test", t.Name);
        Assert.Equal(1232, t.QueryEdnsSize);
        Assert.Equal(0.012, t.ResponseSeconds!.Value, 6);
        Assert.Equal(new[] { "A 203.0.113.25" }, t.Response!.Records);
        Assert.Equal(4096, t.Response.EdnsSize);
        Assert.False(t.Response.Fragmented);
        Assert.Empty(a.Findings);
    }

    [Fact]
    public void Response_ForOtherQuestionWithSameId_NotMatchedAndQueryTimesOut()
    {
        var e = new Engine();
        Feed(e, Udp(Client, 40000, Server, 53, Query(7, "a.example.test", DnsType.TXT)), 0);
        Feed(e, Udp(Server, 53, Client, 40000, Response(7, "b.example.test", DnsType.TXT, Array.Empty<(DnsType, byte[])>())), 0.01);
        Feed(e, Udp(Client, 1111, "192.0.2.9", 2222, new byte[] { 1 }), 6); // unrelated traffic moves capture time on
        Assert.Contains(e.Findings, f => f.Name == "dns-timeout"); // decided during the capture, not only at the end
        var a = e.Complete(Input());

        var state = a.Flows.Select(f => f.App).OfType<DnsFlowState>().Single();
        Assert.Equal(1, state.UnmatchedResponses);
        Assert.Equal(DnsOutcome.TimedOut, Assert.Single(state.Transactions).Outcome);
        var f = Assert.Single(a.Findings, x => x.Name == "dns-timeout");
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.Contains("TXT a.example.test (id 7,", f.Summary); // DNS ids are numbers, as in flows[].dns
    }

    [Fact]
    public void Query_CaptureEndsBeforeTimeout_NoFindingOutcomeCaptureEnded()
    {
        var e = new Engine();
        Feed(e, Udp(Client, 40000, Server, 53, Query(9, "late.example.test", DnsType.MX)), 0);
        Feed(e, Udp(Client, 1111, "192.0.2.9", 2222, new byte[] { 1 }), 4.9);
        var a = e.Complete(Input());
        Assert.Equal(DnsOutcome.CaptureEnded, Assert.Single(Transactions(a)).Outcome);
        Assert.DoesNotContain(a.Findings, f => f.Name == "dns-timeout");
    }

    [Fact]
    public void Query_OlderThanTimeoutAtEnd_TimesOutAtEnd()
    {
        var e = new Engine(new AnalysisOptions { Dns = new DnsOptions { QueryTimeout = TimeSpan.FromSeconds(2) } });
        Feed(e, Udp(Client, 40000, Server, 53, Query(9, "late.example.test", DnsType.MX)), 0);
        Feed(e, Udp(Client, 40000, Server, 53, Query(9, "late.example.test", DnsType.MX)), 1.5); // retransmission, same id
        Feed(e, Udp(Client, 1111, "192.0.2.9", 2222, new byte[] { 1 }), 1.9);
        Assert.Empty(e.Findings);
        var a = e.Complete(Input());
        // Capture time ended at 1.9 s: not yet past the timeout from the first send.
        Assert.DoesNotContain(a.Findings, f => f.Name == "dns-timeout");

        e = new Engine(new AnalysisOptions { Dns = new DnsOptions { QueryTimeout = TimeSpan.FromSeconds(2) } });
        Feed(e, Udp(Client, 40000, Server, 53, Query(9, "late.example.test", DnsType.MX)), 0);
        Feed(e, Udp(Client, 40000, Server, 53, Query(9, "late.example.test", DnsType.MX)), 1.5);
        Feed(e, Udp(Client, 1111, "192.0.2.9", 2222, new byte[] { 1 }), 2.5);
        a = e.Complete(Input());
        var t = Assert.Single(Transactions(a));
        Assert.Equal(2, t.Sends);
        var f = Assert.Single(a.Findings);
        Assert.Equal("dns-timeout", f.Name);
        Assert.Contains("2 times over 1.5 s", f.Summary);
    }

    /// <summary>A retry with a new id, from a new port (two flows, two attempts) or from the same port (one flow, one
    /// client endpoint, two tries): linked to the first query, one timeout for the question, said retried.</summary>
    [Theory]
    [InlineData(40001, 2)]
    [InlineData(40000, 1)]
    public void RetryWithNewId_LinkedAndOneTimeoutForTheQuestion_SaidRetried(int secondPort, int flows)
    {
        var e = new Engine();
        Feed(e, Udp(Client, 40000, Server, 53, Query(0x55, "x.example.test", DnsType.TXT)), 0);
        Feed(e, Udp(Client, (ushort)secondPort, Server, 53, Query(0x56, "x.example.test", DnsType.TXT)), 2);
        Feed(e, Udp(Client, 1111, "192.0.2.9", 2222, new byte[] { 1 }), 20);
        var a = e.Complete(Input());
        var tx = Transactions(a).OrderBy(t => t.FirstSent).ToList();
        Assert.Same(tx[0], tx[1].RetryOf);
        var f = Assert.Single(a.Findings, x => x.Name == "dns-timeout");
        Assert.Equal(flows, f.Flows.Count);
        Assert.Contains("retried with a new id", f.Summary);
        var v = f.Verdict<PathProbe.Findings.Kinds.DnsTimeoutVerdict>();
        Assert.Equal(2, v.Tries);
        Assert.Equal(flows, v.Attempts.Count);
    }

    /// <summary>A question retried more often than the verdict follows (64 tries): it counts 64, not 65.</summary>
    [Fact]
    public void ManyRetries_TriesCountedUpToTheBound()
    {
        var e = new Engine();
        for (int i = 0; i < 70; i++)
            Feed(e, Udp(Client, (ushort)(40000 + i), Server, 53, Query((ushort)(0x100 + i), "z.example.test", DnsType.TXT)), i * 0.5);
        Feed(e, Udp(Client, 1111, "192.0.2.9", 2222, new byte[] { 1 }), 100);
        var a = e.Complete(Input());
        var f = Assert.Single(a.Findings, x => x.Name == "dns-timeout");
        Assert.Equal(64, f.Verdict<PathProbe.Findings.Kinds.DnsTimeoutVerdict>().Tries);
    }

    [Fact]
    public void TruncatedUdpAnswer_ThenTcpRetrySplitAcrossSegments_RecognisedAsRetry()
    {
        var e = new Engine();
        Feed(e, Udp(Client, 40000, Server, 53, Query(0x100, "big.example.test", DnsType.TXT)), 0);
        Feed(e, Udp(Server, 53, Client, 40000, Response(0x100, "big.example.test", DnsType.TXT, Array.Empty<(DnsType, byte[])>(), tc: true)), 0.001);
        // TCP: handshake, the query, then the answer with its length prefix split across three segments.
        Feed(e, Tcp(Client, 45000, Server, 53, 1000, 0, Syn), 0.002);
        Feed(e, Tcp(Server, 53, Client, 45000, 5000, 1001, (byte)(Syn | Ack)), 0.0021);
        var q = Framed(Query(0x200, "big.example.test", DnsType.TXT));
        Feed(e, Tcp(Client, 45000, Server, 53, 1001, 5001, (byte)(Psh | Ack), q), 0.0022);
        var answer = Framed(Response(0x200, "big.example.test", DnsType.TXT,
            Enumerable.Range(0, 6).Select(i => (DnsType.TXT, Txt(new string((char)('a' + i), 200), "v=spf1 -all")))));
        uint seq = 5001;
        foreach (var (from, to) in new[] { (0, 1), (1, 700), (700, answer.Length) })
        {
            Feed(e, Tcp(Server, 53, Client, 45000, seq, (uint)(1001 + q.Length), (byte)(Psh | Ack), answer[from..to]), 0.003);
            seq += (uint)(to - from);
        }
        var a = e.Complete(Input());

        var tx = Transactions(a);
        var udp = tx.Single(t => t.Transport == DnsTransport.Udp);
        var tcp = tx.Single(t => t.Transport == DnsTransport.Tcp);
        Assert.True(udp.Response!.Truncated);
        Assert.Same(tcp, udp.RetriedBy);
        Assert.Equal(DnsOutcome.Answered, tcp.Outcome);
        Assert.Equal(6, tcp.Response!.AnswerCount);
        Assert.Equal(answer.Length - 2, tcp.Response.Size);
        var f = Assert.Single(a.Findings);
        Assert.Equal("dns-truncated", f.Name);
        Assert.Equal(Severity.Info, f.Severity);
        Assert.Equal(new[] { udp.FlowId, tcp.FlowId }, f.Flows);
    }

    [Fact]
    public void TruncatedUdpAnswer_NoTcpRetry_Warning()
    {
        var e = new Engine();
        Feed(e, Udp(Client, 40000, Server, 53, Query(0x100, "big.example.test", DnsType.TXT)), 0);
        Feed(e, Udp(Server, 53, Client, 40000, Response(0x100, "big.example.test", DnsType.TXT, Array.Empty<(DnsType, byte[])>(), tc: true)), 0.001);
        var a = e.Complete(Input());
        var f = Assert.Single(a.Findings);
        Assert.Equal("dns-truncated", f.Name);
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.Contains("no TCP retry", f.Summary);
    }

    [Fact]
    public void PerFlowLimit_FurtherQueriesCountedNotTracked()
    {
        var e = new Engine(new AnalysisOptions { Dns = new DnsOptions { MaxTransactionsPerFlow = 3 } });
        for (int i = 0; i < 5; i++) Feed(e, Udp(Client, 40000, Server, 53, Query((ushort)i, $"n{i}.example.test", DnsType.A)), i * 0.001);
        var a = e.Complete(Input());
        var s = a.Flows.Select(f => f.App).OfType<DnsFlowState>().Single();
        Assert.Equal(3, s.Transactions.Count);
        Assert.Equal(2, s.NotTracked);
        Assert.Equal(5, s.Queries);
        Assert.Equal(2, a.Dns!.NotTracked);
    }

    [Fact]
    public void Transactions_ViewOfOneAndOfSeveral_InOrderAndAllocatesNothing()
    {
        var e = new Engine();
        Feed(e, Udp(Client, 40001, Server, 53, Query(1, "one.example.test", DnsType.A)), 0);
        for (int i = 0; i < 5; i++) Feed(e, Udp(Client, 40002, Server, 53, Query((ushort)(10 + i), $"n{i}.example.test", DnsType.MX)), 0.001 * (i + 1));
        var a = e.Complete(Input());
        var states = a.Flows.Select(f => f.App).OfType<DnsFlowState>().ToList();
        var one = states.Single(s => s.Queries == 1).Transactions;
        var five = states.Single(s => s.Queries == 5).Transactions;

        Assert.Single(one);
        Assert.Equal("one.example.test", one[0].Name);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"n{i}.example.test"), five.Select(t => t.Name));
        Assert.Equal(new[] { 10, 11, 12, 13, 14 }, Enumerable.Range(0, five.Count).Select(i => (int)five[i].Id));
        Assert.Equal(14, five[^1].Id);
        Assert.Throws<ArgumentOutOfRangeException>(() => five[5]);
        Assert.Throws<ArgumentOutOfRangeException>(() => one[-1]);
        Assert.Empty(new DnsFlowState(DnsTransport.Udp).Transactions);

        // Reading and enumerating the view allocates nothing.
        var state = states.Single(s => s.Queries == 5);
        int n = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var t in state.Transactions) n += t.Id;
        n += state.Transactions.Count;
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(10 + 11 + 12 + 13 + 14 + 5, n);
    }

    [Fact]
    public void SameQuestionName_OneStringForAllItsTransactions_UpToThePoolsBounds()
    {
        var e = new Engine();
        string longName = string.Join('.', Enumerable.Repeat("label", 20)) + ".example.test"; // 132 characters
        for (int i = 0; i < 3; i++)
        {
            Feed(e, Udp(Client, (ushort)(41000 + i), Server, 53, Query((ushort)i, "mx.example.test", DnsType.MX)), i * 0.001);
            Feed(e, Udp(Client, (ushort)(42000 + i), Server, 53, Query((ushort)i, longName, DnsType.TXT)), i * 0.001);
        }
        var tx = Transactions(e.Complete(Input()));
        var mx = tx.Where(t => t.Type == DnsType.MX).ToList();
        var txt = tx.Where(t => t.Type == DnsType.TXT).ToList();
        Assert.Equal(3, mx.Count);
        Assert.All(mx, t => Assert.Same(mx[0].Name, t.Name));
        // A name over the pool's length limit gets a string of its own each time, with the same text.
        Assert.Equal(3, txt.Count);
        Assert.All(txt, t => Assert.Equal(longName, t.Name));
        Assert.NotSame(txt[0].Name, txt[1].Name);
    }

    [Fact]
    public void TcpFlowClosed_StreamsLetGo_TransactionsKept()
    {
        var e = new Engine();
        Feed(e, Tcp(Client, 45000, Server, 53, 1000, 0, Syn), 0);
        Feed(e, Tcp(Server, 53, Client, 45000, 5000, 1001, (byte)(Syn | Ack)), 0.001);
        var q = Framed(Query(0x200, "tcp.example.test", DnsType.TXT));
        Feed(e, Tcp(Client, 45000, Server, 53, 1001, 5001, (byte)(Psh | Ack), q), 0.002);
        // The answer's first half only: the framer holds it in a buffer when the flow closes.
        var answer = Framed(Response(0x200, "tcp.example.test", DnsType.TXT, new[] { (DnsType.TXT, Txt("v=spf1 -all")) }));
        Feed(e, Tcp(Server, 53, Client, 45000, 5001, (uint)(1001 + q.Length), (byte)(Psh | Ack), answer[..(answer.Length / 2)]), 0.003);
        var state = e.Flows.LiveFlows.Select(f => f.App).OfType<DnsFlowState>().Single();
        Assert.True(state.HasTcpStreams);
        var a = e.Complete(Input());

        Assert.Same(state, a.Flows.Select(f => f.App).OfType<DnsFlowState>().Single());
        Assert.False(state.HasTcpStreams);
        Assert.Equal("tcp.example.test", Assert.Single(state.Transactions).Name);
        Assert.Equal(1, state.Queries);
    }

    /// <summary>Flows beyond the report limit leave their records to new flows, and their DNS states (and a TCP flow's
    /// streams) go with them: a new flow starts with nothing of the old one's (no transaction, no counter, no half
    /// message in a framer), and the run makes a handful of states for hundreds of flows.</summary>
    [Fact]
    public void RecycledRecords_ReuseDnsStatesAndStreams_NothingCarriedOver()
    {
        var e = new Engine(new AnalysisOptions { Flows = new PathProbe.Flows.FlowTableOptions { MaxReportedFlows = 2 } });
        var states = new HashSet<DnsFlowState>(ReferenceEqualityComparer.Instance);
        double t = 0;
        for (int i = 0; i < 300; i++, t += 40) // each flow leaves the table (UDP exchange: 30 s; TCP closed: 60 s) before the next few
        {
            ushort port = (ushort)(40000 + i);
            string name = $"q{i}.example.test";
            if (i % 3 != 2)
            {
                Feed(e, Udp(Client, port, Server, 53, Query((ushort)i, name, DnsType.TXT)), t);
                Feed(e, Udp(Server, 53, Client, port, Response((ushort)i, name, DnsType.TXT, new[] { (DnsType.TXT, Txt("v=spf1 -all")) })), t + 0.01);
            }
            else
            {
                // TCP: the answer comes in two segments, so the framer holds half a message between them; the previous
                // TCP flow of a reused state ended with half a message held (its last segment never came).
                Feed(e, Tcp(Client, port, Server, 53, 1000, 0, Syn), t);
                Feed(e, Tcp(Server, 53, Client, port, 5000, 1001, (byte)(Syn | Ack)), t + 0.001);
                var q = Framed(Query((ushort)i, name, DnsType.TXT));
                Feed(e, Tcp(Client, port, Server, 53, 1001, 5001, (byte)(Psh | Ack), q), t + 0.002);
                var answer = Framed(Response((ushort)i, name, DnsType.TXT, new[] { (DnsType.TXT, Txt("v=spf1 -all")) }));
                int half = answer.Length / 2;
                uint ack = (uint)(1001 + q.Length);
                Feed(e, Tcp(Server, 53, Client, port, 5001, ack, (byte)(Psh | Ack), answer[..half]), t + 0.003);
                Feed(e, Tcp(Server, 53, Client, port, (uint)(5001 + half), ack, (byte)(Psh | Ack), answer[half..]), t + 0.004);
                // A third message's first half, never completed.
                Feed(e, Tcp(Server, 53, Client, port, (uint)(5001 + answer.Length), ack, (byte)(Psh | Ack), answer[..half]), t + 0.005);
                Feed(e, Tcp(Client, port, Server, 53, ack, (uint)(5001 + answer.Length + half), (byte)(Fin | Ack)), t + 0.006);
                Feed(e, Tcp(Server, 53, Client, port, (uint)(5001 + answer.Length + half), ack + 1, (byte)(Fin | Ack)), t + 0.007);
            }
            var live = e.Flows.LiveFlows.Where(f => f.ClientPort == port).Select(f => f.App).OfType<DnsFlowState>().Single();
            states.Add(live);
            var tr = Assert.Single(live.Transactions);
            Assert.Equal(name, tr.Name);
            Assert.Equal(DnsOutcome.Answered, tr.Outcome);
            Assert.Equal(new[] { "TXT \"v=spf1 -all\"" }, tr.Response!.Records);
            Assert.Equal((1, 1, 0, 0), (live.Queries, live.Responses, live.UnmatchedResponses, live.Malformed));
            Assert.Equal(i % 3 == 2 ? DnsTransport.Tcp : DnsTransport.Udp, live.Transport);
            Assert.Equal(i % 3 == 2, live.HasTcpStreams);
        }
        var a = e.Complete(Input());

        Assert.Equal(300, a.Dns!.Transactions);
        Assert.Equal(300, a.Dns.Responses);
        Assert.Equal(2, a.Flows.Count); // the report limit: the rest were recycled
        Assert.All(a.Flows.Select(f => f.App).OfType<DnsFlowState>(), s => Assert.Single(s.Transactions));
        Assert.InRange(states.Count, 2, 8); // the two kept, and a few that pass from record to record
    }

    /// <summary>The fragmentation detector links a lost answer to the flow's latest query with the answer's DNS id
    /// (the flow's own transactions are searched; there is no analysis-wide index to grow).</summary>
    [Fact]
    public void FindTransaction_LatestOnTheFlowWithThatId()
    {
        var e = new Engine();
        Feed(e, Udp(Client, 40010, Server, 53, Query(7, "a.example.test", DnsType.TXT)), 0);
        Feed(e, Udp(Client, 40010, Server, 53, Query(8, "b.example.test", DnsType.TXT)), 0.001);
        Feed(e, Udp(Client, 40010, Server, 53, Query(7, "c.example.test", DnsType.TXT)), 0.002);
        Feed(e, Udp(Client, 40011, Server, 53, Query(7, "d.example.test", DnsType.TXT)), 0.003);
        var flows = e.Flows.LiveFlows.ToList();
        var first = flows.Single(f => f.ClientPort == 40010);
        var second = flows.Single(f => f.ClientPort == 40011);
        Assert.Equal("c.example.test", DnsAnalyzer.FindTransaction(first, 7)!.Name);
        Assert.Equal("b.example.test", DnsAnalyzer.FindTransaction(first, 8)!.Name);
        Assert.Equal("d.example.test", DnsAnalyzer.FindTransaction(second, 7)!.Name);
        Assert.Null(DnsAnalyzer.FindTransaction(second, 8));
    }

    [Fact]
    public void GlobalLimit_CountsAcrossFlows()
    {
        var e = new Engine(new AnalysisOptions { Dns = new DnsOptions { MaxTransactions = 2 } });
        for (int i = 0; i < 4; i++) Feed(e, Udp(Client, (ushort)(40000 + i), Server, 53, Query(1, "n.example.test", DnsType.A)), i);
        var a = e.Complete(Input());
        Assert.Equal(2, Transactions(a).Count);
        Assert.Equal(2, a.Dns!.NotTracked);
    }

    /// <summary>Past the limit a flow without transactions counts its queries as not tracked and its answers as
    /// unmatched (without reading their questions); a tracked flow still matches its answers and retransmissions.</summary>
    [Fact]
    public void GlobalLimit_UntrackedFlowsCountQueriesAndAnswers_TrackedOnesStillMatch()
    {
        var e = new Engine(new AnalysisOptions { Dns = new DnsOptions { MaxTransactions = 1 } });
        var q = Query(1, "n.example.test", DnsType.A);
        var r = Response(1, "n.example.test", DnsType.A, new[] { (DnsType.A, A("192.0.2.1")) });
        Feed(e, Udp(Client, 40000, Server, 53, q), 0);
        Feed(e, Udp(Client, 40001, Server, 53, q), 0.1);
        Feed(e, Udp(Client, 40001, Server, 53, q), 0.2); // resent: still not tracked
        Feed(e, Udp(Server, 53, Client, 40001, r), 0.3);
        Feed(e, Udp(Client, 40000, Server, 53, q), 0.4); // resent on the tracked flow: the same transaction
        Feed(e, Udp(Server, 53, Client, 40000, r), 0.5);
        var a = e.Complete(Input());

        var tracked = a.Flows.Single(f => f.ClientPort == 40000).App as DnsFlowState;
        var untracked = a.Flows.Single(f => f.ClientPort == 40001).App as DnsFlowState;
        var t = Assert.Single(tracked!.Transactions);
        Assert.Equal((DnsOutcome.Answered, 2), (t.Outcome, t.Sends));
        Assert.Equal((2L, 1L, 0L, 0L), (tracked.Queries, tracked.Responses, tracked.NotTracked, tracked.UnmatchedResponses));
        Assert.Empty(untracked!.Transactions);
        Assert.Equal((2L, 1L, 2L, 1L), (untracked.Queries, untracked.Responses, untracked.NotTracked, untracked.UnmatchedResponses));
        Assert.Equal((4L, 2L, 2L, 1L), (a.Dns!.Queries, a.Dns.Responses, a.Dns.NotTracked, a.Dns.Transactions));
    }

    [Theory]
    [InlineData("0102 0304 05")]                                         // shorter than a header
    [InlineData("0001 0100 0001 0000 0000 0000 c00c 0001 0001")]         // question name points at itself
    [InlineData("0001 0100 0001 0000 0000 0000 3f61")]                   // label runs past the end
    [InlineData("0001 0100 ffff ffff ffff ffff")]                        // counts far beyond the data
    [InlineData("0001 8100 0001 0001 0000 0000 00 0001 0001 c0ff 0001 0001 00000000 0004 01020304")] // pointer past the end
    public void HostileMessages_NeverThrow_AndAreCountedOrTracked(string hex)
    {
        var msg = Convert.FromHexString(hex.Replace(" ", ""));
        var e = new Engine();
        Feed(e, Udp(Client, 40000, Server, 53, msg), 0);
        Feed(e, Udp(Server, 53, Client, 40000, msg), 0.001);
        Feed(e, Tcp(Client, 45000, Server, 53, 1, 0, Syn), 0.002);
        Feed(e, Tcp(Client, 45000, Server, 53, 2, 0, Psh, Framed(msg)), 0.003);
        var a = e.Complete(Input());
        Assert.Equal(3, a.Dns!.Messages); // UDP query, UDP "response", one TCP message
        Assert.Equal(msg.Length < DnsHeader.Length ? 3 : 0, a.Dns.Malformed);
    }

    [Fact]
    public void RandomPayloads_OnPort53_NeverThrowAndStayBounded()
    {
        var rng = new Random(53);
        var e = new Engine(new AnalysisOptions { Dns = new DnsOptions { MaxTransactionsPerFlow = 16 } });
        uint seq = 1;
        for (int i = 0; i < 3000; i++)
        {
            var data = new byte[rng.Next(0, 300)];
            rng.NextBytes(data);
            if (data.Length > 2 && i % 2 == 0) data[2] &= 0x7F; // many of them queries
            double t = i * 0.01;
            if (i % 3 == 0)
            {
                Feed(e, Tcp(Client, 45000, Server, 53, seq, 0, Psh, data), t);
                seq += (uint)data.Length;
            }
            else Feed(e, Udp(i % 2 == 0 ? Client : Server, (ushort)(i % 2 == 0 ? 40000 : 53), i % 2 == 0 ? Server : Client, (ushort)(i % 2 == 0 ? 53 : 40000), data), t);
        }
        var a = e.Complete(Input());
        foreach (var s in a.Flows.Select(f => f.App).OfType<DnsFlowState>()) Assert.True(s.Transactions.Count <= 16);
        using var ms = new MemoryStream();
        JsonReport.Write(ms, new[] { a });
        Assert.DoesNotContain((byte)0x1B, ms.ToArray());
    }

    [Fact]
    public void ControlCharactersInNamesAndTxt_DoNotReachReports()
    {
        var e = new Engine();
        var nameWire = new byte[] { 9, (byte)'e', (byte)'v', (byte)'i', (byte)'l', 0x1B, (byte)'[', (byte)'3', (byte)'1', (byte)'m' }
            .Concat(Name("example.test")).ToArray();
        var q = Query(1, "x.example.test", DnsType.TXT);
        // Replace the question name with one holding an ESC byte.
        q = q[..12].Concat(nameWire).Concat(q[(12 + Name("x.example.test").Length)..]).ToArray();
        var r = Response(1, "x.example.test", DnsType.TXT, new[] { (DnsType.TXT, Txt("v=spf1 \u001b]0;pwned\u0007 -all")) });
        r = r[..12].Concat(nameWire).Concat(r[(12 + Name("x.example.test").Length)..]).ToArray();
        Feed(e, Udp(Client, 40000, Server, 53, q), 0);
        Feed(e, Udp(Server, 53, Client, 40000, r), 0.001);
        Feed(e, Udp(Client, 40001, Server, 53, q.Select((b, i) => i == 1 ? (byte)2 : b).ToArray()), 0.002);
        Feed(e, Udp(Client, 1111, "192.0.2.9", 2222, new byte[] { 1 }), 10);
        var a = e.Complete(Input());
        Assert.NotEmpty(a.Findings); // the second query timed out: its summary quotes the name
        using var ms = new MemoryStream();
        JsonReport.Write(ms, new[] { a });
        var sw = new StringWriter();
        TextReport.Write(sw, new[] { a });
        foreach (var text in new[] { Encoding.UTF8.GetString(ms.ToArray()), sw.ToString() })
        {
            Assert.DoesNotContain('\u001b', text);
            Assert.DoesNotContain('\u0007', text);
        }
        Assert.Contains("evil\\027[31m", Transactions(a)[0].Name);
    }

    [Fact]
    public void NonDnsTraffic_SteadyState_AllocatesNothing()
    {
        var e = new Engine();
        var pkt = Udp(Client, 40000, "192.0.2.9", 9999, new byte[64]);
        var back = Udp("192.0.2.9", 9999, Client, 40000, new byte[64]);
        for (int i = 0; i < 100; i++) { Feed(e, pkt, i * 0.001); Feed(e, back, i * 0.001); }
        var frame = new RawFrame(pkt, pkt.Length, new Timestamp(T0 + 1_000_000_000), LinkTypes.Raw, 0);
        var frame2 = new RawFrame(back, back.Length, new Timestamp(T0 + 1_000_000_000), LinkTypes.Raw, 0);
        // Once unmeasured: the loop's methods reach their optimised code (tiered compilation), and whatever the new
        // second of capture time does once is done.
        for (int i = 0; i < 10_000; i++) { e.Process(in frame); e.Process(in frame2); }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) { e.Process(in frame); e.Process(in frame2); }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void FlowApp_DescribesPosition()
    {
        var e = new Engine();
        Feed(e, Udp(Client, 40000, Server, 53, Query(0xab, "w.example.test", DnsType.AAAA)), 0);
        var flow = e.Flows.LiveFlows.Single();
        var app = Assert.IsType<DnsFlowState>(flow.App);
        Assert.Equal("waiting", app.Phase);
        Assert.Null(app.Position); // a DNS flow has no SMTP position
    }
}
