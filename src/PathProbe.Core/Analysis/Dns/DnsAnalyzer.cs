using System.Globalization;
using System.Runtime.CompilerServices;
using PathProbe.Decoding;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Flows.Streams;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;
using static PathProbe.Findings.FindingText;

namespace PathProbe.Analysis.Dns;

public sealed class DnsOptions
{
    /// <summary>A query without an answer this long after it was first sent is a <c>dns-timeout</c> (capture time).
    /// 5 s is the stub resolver's default (resolv.conf <c>timeout:5</c>) and dig's.</summary>
    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>A TCP query for the same question this soon after a truncated UDP answer is its retry.</summary>
    public TimeSpan RetryWindow { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Transactions stored per flow; further queries on the flow are counted, not tracked.</summary>
    public int MaxTransactionsPerFlow { get; init; } = 256;
    /// <summary>Transactions stored per analysis (they are kept for the report); further queries are counted.</summary>
    public int MaxTransactions { get; init; } = 100_000;
    /// <summary>Answer records summarised per response.</summary>
    public int MaxRecordsListed { get; init; } = 8;
    /// <summary>Findings of each DNS kind per analysis; further ones are counted in <see cref="DnsCounters.FindingsSuppressed"/>.</summary>
    public int MaxFindingsPerKind { get; init; } = 200;
}

/// <summary>Analysis-wide DNS counters (the per-flow ones are in <see cref="DnsFlowState"/>).</summary>
public sealed class DnsCounters
{
    public long Messages;
    public long Queries;
    public long Responses;
    public long Malformed;
    public long Transactions;
    public long NotTracked;
    public long TimedOut;
    public long FindingsSuppressed;
    /// <summary>Times the question index (for retries across flows) was cleared to stay within its bound.</summary>
    public long RetryIndexResets;
}

/// <summary>
/// DNS over UDP and TCP (port 53) in captured traffic: decodes each message, matches answers to queries (flow, id,
/// question), times out unanswered queries (<c>dns-timeout</c>), links a truncated UDP answer to the TCP retry
/// (<c>dns-truncated</c>), and notes answers that arrived fragmented or larger than the query's EDNS buffer.
/// </summary>
/// <remarks>
/// Cost: the engine calls <see cref="Tick"/> for every packet (one comparison) and <see cref="OnPacket"/> only for
/// TCP/UDP packets on port 53. Queries allocate their transaction record, responses their summary; both bounded.
/// End of input (<see cref="Finish"/>): a query older than the timeout is a <c>dns-timeout</c>; a younger one is
/// marked <see cref="DnsOutcome.CaptureEnded"/> ("no answer before the capture ended") without a finding, because
/// the answer may simply not have been captured yet.
/// </remarks>
public sealed class DnsAnalyzer(DnsOptions options, Action<Finding> report)
{
    private const int RetryIndexCapacity = 16_384;

    private readonly long _timeout = (long)options.QueryTimeout.TotalNanoseconds;
    private readonly long _retryWindow = (long)options.RetryWindow.TotalNanoseconds;
    private readonly StreamBudget _budget = new();
    // Unanswered transactions in the order they were first sent: the head is the next to time out.
    private DnsTransaction? _oldest, _newest;
    private long _nextDeadline = long.MaxValue;
    // Latest transaction per (client, server, question): retries on a new port or over TCP find their predecessor.
    private readonly Dictionary<QuestionKey, DnsTransaction> _byQuestion = new();
    // Latest transaction per (flow, id): the fragmentation detector links lost answer fragments to their query.
    private readonly Dictionary<(int Flow, ushort Id), DnsTransaction> _byFlowId = new();
    private readonly List<DnsTransaction> _truncated = new();
    private int _timeoutFindings, _truncatedFindings;

    public DnsCounters Counters { get; } = new();

    private readonly record struct QuestionKey(IpAddress Client, IpAddress Server, string Name, DnsType Type);

    /// <summary>Per packet: times out queries whose deadline passed. One comparison when none is due.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Tick(long now)
    {
        if (now > _nextDeadline) ExpireDue(now);
    }

    /// <summary>A decoded TCP or UDP packet on port 53. Returns the transaction a UDP answer in this packet was
    /// matched to (for the fragmentation detector), else null.</summary>
    public DnsTransaction? OnPacket(Flow flow, bool fromClient, ref DecodedPacket p)
    {
        if (flow.Protocol == FlowProtocol.Udp)
        {
            var state = State(flow, DnsTransport.Udp);
            if (state is null) return null;
            return OnMessage(flow, state, fromClient, p.Payload, p.PayloadWireLength, p.Time, DnsTransport.Udp,
                p.Reassembled, p.FragmentCount, p.LargestFragment, p.IpPacketLength);
        }
        if (flow.Protocol == FlowProtocol.Tcp)
        {
            var state = State(flow, DnsTransport.Tcp);
            state?.OnTcpSegment(fromClient, ref p);
        }
        return null;
    }

    internal void OnTcpMessage(Flow flow, DnsFlowState state, bool fromClient, ReadOnlySpan<byte> message, Timestamp time) =>
        OnMessage(flow, state, fromClient, message, message.Length, time, DnsTransport.Tcp, false, 0, 0, 0);

    /// <summary>The flow leaves the table: a TCP flow's buffered stream data is delivered and its buffers returned.</summary>
    public void FlowClosing(Flow flow, long now)
    {
        if (flow.App is DnsFlowState { Transport: DnsTransport.Tcp } s) s.CloseTcp(new Timestamp(now));
    }

    /// <summary>The most recent transaction on flow <paramref name="flowId"/> with DNS id <paramref name="id"/>.</summary>
    public DnsTransaction? FindTransaction(int flowId, ushort id) => _byFlowId.GetValueOrDefault((flowId, id));

    /// <summary>End of input at <paramref name="end"/>: remaining queries time out or are marked as cut off by the
    /// end of the capture; truncated answers without a TCP retry are reported.</summary>
    public void Finish(long end)
    {
        while (_oldest is { } t)
        {
            Unlink(t);
            if (end - t.FirstSent.UnixNanoseconds > _timeout) TimeOut(t, end);
            else
            {
                t.Outcome = DnsOutcome.CaptureEnded;
                // The last attempt is too young to judge, but the question itself has waited past the timeout.
                if (t.RetriedBy is null && t.RetryOf is not null && t.Root.Outcome == DnsOutcome.TimedOut) ReportTimeout(t, end);
            }
        }
        _nextDeadline = long.MaxValue;
        foreach (var t in _truncated)
            if (!t.TruncationReported) ReportTruncated(t, end);
        _truncated.Clear();
    }

    // ---- messages -------------------------------------------------------------------------------------------------

    private DnsFlowState? State(Flow flow, DnsTransport transport)
    {
        if (flow.App is DnsFlowState s) return s;
        if (flow.App is not null) return null; // another protocol analyzer owns the flow
        s = new DnsFlowState(transport);
        if (transport == DnsTransport.Tcp) s.AttachTcp(this, flow, _budget);
        flow.App = s;
        return s;
    }

    private DnsTransaction? OnMessage(Flow flow, DnsFlowState state, bool fromClient, ReadOnlySpan<byte> msg, int wireLength,
        Timestamp time, DnsTransport transport, bool reassembled, int fragments, int largestFragment, int ipLength)
    {
        Counters.Messages++;
        var status = DnsReader.Scan(msg, out var sum);
        if (status == DnsStatus.TruncatedHeader)
        {
            state.Malformed++;
            Counters.Malformed++;
            return null;
        }
        string? name = sum.QuestionsRead > 0 ? DnsReader.ReadNameText(msg, sum.QuestionNameOffset) : null;
        if (!sum.Header.IsResponse)
        {
            OnQuery(flow, state, fromClient, in sum, name, wireLength, time, transport);
            return null;
        }
        state.Responses++;
        Counters.Responses++;
        var t = state.Find(sum.Header.Id, name, sum.QuestionType, anyQuestion: sum.QuestionsRead == 0);
        if (t is null || t.Response is not null)
        {
            state.UnmatchedResponses++;
            return null;
        }
        t.Response = Summarise(msg, status, in sum, wireLength, time, reassembled, fragments, largestFragment, ipLength);
        if (t.Outcome == DnsOutcome.TimedOut) t.AnsweredLate = true;
        t.Outcome = DnsOutcome.Answered;
        if (t.InPendingList) Unlink(t);
        if (t.Response.Truncated && transport == DnsTransport.Udp && _truncated.Count < options.MaxFindingsPerKind) _truncated.Add(t);
        if (t.RetryOf is { Response.Truncated: true } udp && t.Transport == DnsTransport.Tcp && !udp.TruncationReported)
            ReportTruncated(udp, time.UnixNanoseconds);
        return t;
    }

    private void OnQuery(Flow flow, DnsFlowState state, bool fromClient, in DnsSummary sum, string? name, int wireLength,
        Timestamp time, DnsTransport transport)
    {
        state.Queries++;
        Counters.Queries++;
        // The same query again on the same flow (same id and question) is a retransmission, not a new transaction.
        var same = state.Find(sum.Header.Id, name, sum.QuestionType, anyQuestion: false);
        if (same is not null && same.Response is null)
        {
            same.Sends++;
            same.LastSent = time;
            return;
        }
        if (state.Transactions.Count >= options.MaxTransactionsPerFlow || Counters.Transactions >= options.MaxTransactions)
        {
            state.NotTracked++;
            Counters.NotTracked++;
            return;
        }
        // Orientation from the packet: the sender of a query is the client of this transaction.
        var t = new DnsTransaction
        {
            FlowId = flow.Id,
            Transport = transport,
            Client = fromClient ? flow.ClientAddress : flow.ServerAddress,
            ClientPort = fromClient ? flow.ClientPort : flow.ServerPort,
            Server = fromClient ? flow.ServerAddress : flow.ClientAddress,
            ServerPort = fromClient ? flow.ServerPort : flow.ClientPort,
            Id = sum.Header.Id,
            Name = name,
            Type = sum.QuestionType,
            Class = sum.QuestionClass,
            FirstSent = time,
            LastSent = time,
            QuerySize = wireLength,
            QueryEdnsSize = sum.HasEdns ? sum.UdpPayloadSize : null,
        };
        Counters.Transactions++;
        state.Add(t);
        _byFlowId[(flow.Id, t.Id)] = t;
        if (name is not null)
        {
            var key = new QuestionKey(t.Client, t.Server, DnsName.Normalize(name), t.Type);
            if (_byQuestion.TryGetValue(key, out var prev) && prev.RetriedBy is null &&
                time.UnixNanoseconds - prev.FirstSent.UnixNanoseconds <= _retryWindow &&
                (prev.Outcome != DnsOutcome.Answered || (prev.Response!.Truncated && prev.Transport == DnsTransport.Udp && transport == DnsTransport.Tcp)))
            {
                t.RetryOf = prev;
                prev.RetriedBy = t;
            }
            if (_byQuestion.Count >= RetryIndexCapacity)
            {
                _byQuestion.Clear();
                Counters.RetryIndexResets++;
            }
            _byQuestion[key] = t;
        }
        Link(t);
    }

    private DnsResponseInfo Summarise(ReadOnlySpan<byte> msg, DnsStatus status, in DnsSummary sum, int wireLength, Timestamp time,
        bool reassembled, int fragments, int largestFragment, int ipLength)
    {
        var records = new List<string>();
        int notListed = 0;
        string? malformed = status == DnsStatus.Ok ? null : status.ToString();
        if (wireLength > msg.Length) malformed ??= "CutBySnapLength";
        var m = DnsMessage.Decode(msg, out var st, out _);
        if (m is null) malformed ??= st.ToString();
        else
            foreach (var r in m.Answers)
            {
                if (records.Count >= options.MaxRecordsListed) { notListed++; continue; }
                records.Add(SafeText.Clean($"{DnsTransaction.TypeName(r.Type)} {DnsRecord.Describe(r.Data)}", 160));
            }
        return new DnsResponseInfo
        {
            Time = time,
            Size = wireLength,
            Rcode = sum.Rcode,
            Truncated = sum.Header.Truncated,
            Authoritative = sum.Header.Authoritative,
            AnswerCount = sum.Header.AnswerCount,
            AuthorityCount = sum.Header.AuthorityCount,
            AdditionalCount = sum.Header.AdditionalCount,
            EdnsSize = sum.HasEdns ? sum.UdpPayloadSize : null,
            Fragmented = reassembled,
            FragmentCount = reassembled ? fragments : 0,
            LargestFragment = reassembled ? largestFragment : 0,
            IpPacketLength = ipLength,
            Records = records,
            RecordsNotListed = notListed,
            Malformed = malformed,
        };
    }

    // ---- timeouts ---------------------------------------------------------------------------------------------------

    private void ExpireDue(long now)
    {
        while (_oldest is { } t && now - t.FirstSent.UnixNanoseconds > _timeout)
        {
            Unlink(t);
            TimeOut(t, now);
        }
        _nextDeadline = _oldest is null ? long.MaxValue : _oldest.FirstSent.UnixNanoseconds + _timeout;
    }

    private void TimeOut(DnsTransaction t, long now)
    {
        t.Outcome = DnsOutcome.TimedOut;
        Counters.TimedOut++;
        // A retry (new id or port) is still waiting: the last attempt of the question decides and reports for all.
        if (t.RetriedBy is null) ReportTimeout(t, now);
    }

    private void ReportTimeout(DnsTransaction t, long now)
    {
        if (_timeoutFindings >= options.MaxFindingsPerKind) { Counters.FindingsSuppressed++; return; }
        _timeoutFindings++;
        var root = t.Root;
        long waited = now - root.FirstSent.UnixNanoseconds;
        int sends = t.ChainSends;
        int lost = 0, attempts = 0;
        var ports = new List<string>();
        for (var x = t; x is not null && attempts++ < 64; x = x.RetryOf)
        {
            lost += x.AnswerDatagramsLost;
            ports.Insert(0, x.Client.ToEndpointString(x.ClientPort));
        }
        var ev = new Evidence
        {
            { "client", root.Client.ToEndpointString(root.ClientPort) },
            { "server", root.Server.ToEndpointString(root.ServerPort) },
            { "question", t.Question },
            { "id", root.IdText },
            { "transport", t.Transport == DnsTransport.Udp ? "udp" : "tcp" },
            { "sends", sends },
            { "firstSent", root.FirstSent },
            { "lastSent", t.LastSent },
            { "waitedSeconds", Math.Round(waited / 1e9, 6) },
            { "queryEdnsSize", t.QueryEdnsSize },
        };
        if (attempts > 1) ev.Add("attempts", ports.Distinct().ToList());
        if (lost > 0) ev.Add("answerDatagramsLost", lost);
        var flows = new List<int>();
        for (var x = t; x is not null && flows.Count < 64; x = x.RetryOf) if (!flows.Contains(x.FlowId)) flows.Insert(0, x.FlowId);
        string how = sends > 1
            ? $" {sends} times over {Sec(t.LastSent.UnixNanoseconds - root.FirstSent.UnixNanoseconds)}" +
              (attempts > 1 ? (t.Id != root.Id ? " (retried with a new id)" : " (retried from a new port)") : "")
            : "";
        report(new Finding
        {
            Kind = "dns-timeout",
            Severity = Severity.Warning,
            Flows = flows,
            Time = root.FirstSent,
            Summary = $"{root.Client} asked {root.Server.ToEndpointString(root.ServerPort)} for {t.Question} " +
                      $"(id {root.IdText}, {(t.Transport == DnsTransport.Udp ? "UDP" : "TCP")}){how} and got no answer in {Sec(waited)}" +
                      (lost > 0 ? $": {lost} answer datagram{(lost == 1 ? " was" : "s were")} sent but lost fragments on the way (see fragment-loss)" : ""),
            Evidence = ev,
            Advice = lost > 0
                ? "the server answered but the fragmented answer never arrived whole: lower the server's EDNS buffer size to 1232 (DNS Flag Day 2020) so large answers come truncated and are retried over TCP, or let IP fragments through the firewall"
                : "check that the server is reachable and serves this name (firewall on UDP/TCP port 53, server load or rate limiting, a lame delegation); " +
                  "a mail server that cannot resolve MX, A or PTR records defers mail, and slow DNS delays every SMTP session",
        });
    }

    private void ReportTruncated(DnsTransaction udp, long now)
    {
        udp.TruncationReported = true;
        if (_truncatedFindings >= options.MaxFindingsPerKind) { Counters.FindingsSuppressed++; return; }
        _truncatedFindings++;
        var r = udp.Response!;
        var tcp = udp.RetriedBy is { Transport: DnsTransport.Tcp } x ? x : null;
        int limit = udp.QueryEdnsSize ?? 512;
        var ev = new Evidence
        {
            { "client", udp.Client.ToEndpointString(udp.ClientPort) },
            { "server", udp.Server.ToEndpointString(udp.ServerPort) },
            { "question", udp.Question },
            { "id", udp.IdText },
            { "udpAnswerSize", r.Size },
            { "queryEdnsSize", udp.QueryEdnsSize },
            { "tcpRetry", tcp is not null },
        };
        string tail;
        if (tcp is not null)
        {
            ev.Add("tcpFlow", tcp.FlowId);
            ev.Add("tcpRetryAfterSeconds", Math.Round((tcp.FirstSent.UnixNanoseconds - r.Time.UnixNanoseconds) / 1e9, 6));
            if (tcp.Response is { } tr) ev.Add("tcpAnswerSize", tr.Size);
            tail = tcp.Response is { } a
                ? $"; the client retried over TCP {Sec(tcp.FirstSent.UnixNanoseconds - r.Time.UnixNanoseconds)} later (flow {tcp.FlowId}) and got a {N(a.Size)}-byte answer ({DnsTransaction.RcodeName(a.Rcode)})"
                : $"; the client retried over TCP (flow {tcp.FlowId}) but got no answer there";
        }
        else tail = "; no TCP retry was seen: if TCP port 53 is blocked toward the server, this lookup fails";
        bool answered = tcp?.Response is not null;
        report(new Finding
        {
            Kind = "dns-truncated",
            Severity = answered ? Severity.Info : Severity.Warning,
            Flows = tcp is null ? new[] { udp.FlowId } : new[] { udp.FlowId, tcp.FlowId },
            Time = r.Time,
            Summary = $"{udp.Server.ToEndpointString(udp.ServerPort)} answered {udp.Question} (id {udp.IdText}) over UDP with a truncated " +
                      $"{N(r.Size)}-byte message (TC set; the query {(udp.QueryEdnsSize is { } e ? $"offered an EDNS buffer of {N(e)} bytes" : "had no EDNS, so 512 bytes is the limit")})" + tail,
            Evidence = ev,
            Advice = answered
                ? "nothing is broken: the answer does not fit the UDP size the client offered, so it is fetched over TCP (one more round trip); keep TCP port 53 open toward the server"
                : "the answer needs TCP: allow TCP port 53 between the client and the server (RFC 7766 makes TCP support mandatory), or shorten the record so it fits in UDP",
        });
    }

    // ---- pending list -------------------------------------------------------------------------------------------

    private void Link(DnsTransaction t)
    {
        t.Older = _newest;
        t.Newer = null;
        if (_newest is null) _oldest = t; else _newest.Newer = t;
        _newest = t;
        t.InPendingList = true;
        if (_oldest == t) _nextDeadline = t.FirstSent.UnixNanoseconds + _timeout;
    }

    private void Unlink(DnsTransaction t)
    {
        if (t.Older is null) _oldest = t.Newer; else t.Older.Newer = t.Newer;
        if (t.Newer is null) _newest = t.Older; else t.Newer.Older = t.Older;
        t.Older = t.Newer = null;
        t.InPendingList = false;
        _nextDeadline = _oldest is null ? long.MaxValue : _oldest.FirstSent.UnixNanoseconds + _timeout;
    }

    internal static string Sec(long nanos) => nanos < 1_000_000_000
        ? (nanos / 1e6).ToString(nanos < 10_000_000 ? "0.0#" : "0", CultureInfo.InvariantCulture) + " ms"
        : (nanos / 1e9).ToString(nanos < 10_000_000_000 ? "0.0#" : "0.#", CultureInfo.InvariantCulture) + " s";}
