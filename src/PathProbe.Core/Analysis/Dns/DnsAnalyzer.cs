using System.Globalization;
using System.Runtime.CompilerServices;
using PathProbe.Decoding;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Flows.Streams;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;
using PathProbe.Findings.Kinds;

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
public sealed class DnsAnalyzer(DnsOptions options, FindingLog log)
{
    private const int RetryIndexCapacity = 16_384;

    private readonly long _timeout = (long)options.QueryTimeout.TotalNanoseconds;
    private readonly long _retryWindow = (long)options.RetryWindow.TotalNanoseconds;
    private readonly StreamBudget _budget = new();
    // Streams of TCP flows that closed, for the next TCP flows (bounded: SpareStreams).
    private readonly Stack<DnsTcpStreams> _spareStreams = new();
    internal const int SpareStreams = 256;
    // Unanswered transactions in the order they were first sent: the head is the next to time out.
    private DnsTransaction? _oldest, _newest;
    private long _nextDeadline = long.MaxValue;
    // Latest transaction per (client, server, question): retries on a new port or over TCP find their predecessor.
    private readonly Dictionary<QuestionKey, DnsTransaction> _byQuestion = new();
    private readonly List<DnsTransaction> _truncated = new();
    private int _timeoutFindings, _truncatedFindings;

    public DnsCounters Counters { get; } = new();

    // Record texts of the answers kept (strings are made when a report reads them) and the scratch they are written to.
    private readonly DnsTextArena _texts = new();
    /// <summary>Bytes the text arena holds (its chunks: what the answers kept for the report take).</summary>
    internal long TextBytes => _texts.Bytes;
    private readonly char[] _scratch = new char[DnsAnswerText.ScratchLength(options.MaxRecordsListed)];
    private readonly int[] _lengths = new int[Math.Max(1, options.MaxRecordsListed)];

    /// <summary>Client, server, question; the name compared as DNS compares names (ASCII case-insensitive, one
    /// trailing dot ignored), without making a normalised copy of it.</summary>
    private readonly struct QuestionKey(IpAddress client, IpAddress server, string name, DnsType type) : IEquatable<QuestionKey>
    {
        private readonly IpAddress _client = client, _server = server;
        private readonly string _name = name;
        private readonly DnsType _type = type;

        public bool Equals(QuestionKey o) => _client == o._client && _server == o._server && _type == o._type && DnsName.Equal(_name, o._name);
        public override bool Equals(object? obj) => obj is QuestionKey k && Equals(k);
        public override int GetHashCode() => HashCode.Combine(_client, _server, _type, DnsName.Comparer.GetHashCode(_name));
    }

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
        if (flow.AppIfMade is DnsFlowState { Transport: DnsTransport.Tcp } s) s.CloseTcp(new Timestamp(now));
    }

    /// <summary>A closed TCP flow's streams come back: released, they wait for the next TCP flow (or, beyond
    /// <see cref="SpareStreams"/>, go to the collector).</summary>
    internal void GiveBack(DnsTcpStreams streams)
    {
        streams.Release();
        if (_spareStreams.Count < SpareStreams) _spareStreams.Push(streams);
    }

    /// <summary>The most recent transaction on <paramref name="flow"/> with DNS id <paramref name="id"/> (the
    /// fragmentation detector links lost answer fragments to their query).</summary>
    public static DnsTransaction? FindTransaction(Flow flow, ushort id) =>
        flow.AppIfMade is DnsFlowState s ? s.LatestWithId(id) : null;

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
        var app = flow.App;
        if (app is DnsFlowState s) return s;
        if (app is not null) return null; // another protocol analyzer owns the flow
        s = DnsFlowState.Take(transport);
        if (transport == DnsTransport.Tcp) s.AttachTcp(_spareStreams.Count > 0 ? _spareStreams.Pop() : new DnsTcpStreams(this, _budget), flow);
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
        bool query = !sum.Header.IsResponse;
        if (state.TransactionCount == 0 && (!query || !CanTrack(state)))
        {
            // Nothing on the flow to match, and no transaction to make: the question's text is not needed.
            if (query)
            {
                state.Queries++;
                Counters.Queries++;
                state.NotTracked++;
                Counters.NotTracked++;
            }
            else
            {
                state.Responses++;
                Counters.Responses++;
                state.UnmatchedResponses++;
            }
            return null;
        }
        // The analyzer's own scratch (not stackalloc: 2 KB zeroed for every message).
        Span<char> name = _nameScratch;
        int nameLength = 0;
        bool hasName = sum.QuestionsRead > 0 && DnsReader.TryReadNameText(msg, sum.QuestionNameOffset, name, out nameLength);
        if (query)
        {
            OnQuery(flow, state, fromClient, in sum, name[..nameLength], hasName, wireLength, time, transport);
            return null;
        }
        state.Responses++;
        Counters.Responses++;
        var t = state.Find(sum.Header.Id, name[..nameLength], hasName, sum.QuestionType, anyQuestion: sum.QuestionsRead == 0);
        if (t is null || t.Answered)
        {
            state.UnmatchedResponses++;
            return null;
        }
        Summarise(ref t._answer, msg, status, in sum, wireLength, time, reassembled, fragments, largestFragment, ipLength);
        t.Answered = true;
        if (t.Outcome == DnsOutcome.TimedOut) t.AnsweredLate = true;
        t.Outcome = DnsOutcome.Answered;
        if (t.InPendingList) Unlink(t);
        if (t._answer.Truncated && transport == DnsTransport.Udp && _truncated.Count < options.MaxFindingsPerKind) _truncated.Add(t);
        if (t.RetryOf is { Answered: true, Answer.Truncated: true } udp && t.Transport == DnsTransport.Tcp && !udp.TruncationReported)
            ReportTruncated(udp, time.UnixNanoseconds);
        return t;
    }

    private void OnQuery(Flow flow, DnsFlowState state, bool fromClient, in DnsSummary sum, ReadOnlySpan<char> nameText, bool hasName,
        int wireLength, Timestamp time, DnsTransport transport)
    {
        state.Queries++;
        Counters.Queries++;
        // The same query again on the same flow (same id and question) is a retransmission, not a new transaction.
        var same = state.Find(sum.Header.Id, nameText, hasName, sum.QuestionType, anyQuestion: false);
        if (same is not null && !same.Answered)
        {
            same.Sends++;
            same.LastSent = time;
            return;
        }
        if (!CanTrack(state))
        {
            state.NotTracked++;
            Counters.NotTracked++;
            return;
        }
        string? name = hasName ? NameText(nameText) : null;
        // Orientation from the packet: the sender of a query is the client of this transaction.
        var t = new DnsTransaction
        {
            FlowId = flow.Id,
            Flow = flow,
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
        if (name is not null)
        {
            var key = new QuestionKey(t.Client, t.Server, name, t.Type);
            if (_byQuestion.TryGetValue(key, out var prev) && prev.RetriedBy is null &&
                time.UnixNanoseconds - prev.FirstSent.UnixNanoseconds <= _retryWindow &&
                (prev.Outcome != DnsOutcome.Answered || (prev.Answer.Truncated && prev.Transport == DnsTransport.Udp && transport == DnsTransport.Tcp)))
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

    /// <summary>A new query on the flow gets a transaction (neither limit is reached).</summary>
    private bool CanTrack(DnsFlowState state) =>
        state.TransactionCount < options.MaxTransactionsPerFlow && Counters.Transactions < options.MaxTransactions;

    private readonly char[] _nameScratch = new char[DnsName.MaxTextLength];

    /// <summary>The question name as a string: one string per name for the first <see cref="NamePoolCapacity"/>
    /// names of up to <see cref="NamePoolMaxLength"/> characters (a mail server's resolver asks the same names again
    /// and again: MX, A, TXT of the same domains), a new one for the rest.</summary>
    private string NameText(ReadOnlySpan<char> text)
    {
        if (text.Length > NamePoolMaxLength) return new string(text);
        if (_names.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(text, out var known)) return known;
        var name = new string(text);
        if (_names.Count < NamePoolCapacity) _names.Add(name, name);
        return name;
    }

    internal const int NamePoolCapacity = 4096, NamePoolMaxLength = 96;
    private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);

    /// <summary>Fills in the transaction's response: numbers from the scan, the answer records' texts into the arena
    /// (no allocation: <see cref="DnsAnswerText"/>).</summary>
    private void Summarise(ref DnsResponseData r, ReadOnlySpan<byte> msg, DnsStatus status, in DnsSummary sum, int wireLength, Timestamp time,
        bool reassembled, int fragments, int largestFragment, int ipLength)
    {
        string? malformed = status == DnsStatus.Ok ? null : status.ToString();
        if (wireLength > msg.Length) malformed ??= "CutBySnapLength";
        var st = DnsAnswerText.Describe(msg, options.MaxRecordsListed, _scratch, _lengths, out int listed, out int notListed, out var txt);
        if (st != DnsStatus.Ok) malformed ??= st.ToString();
        r.Time = time;
        r.Size = wireLength;
        r.Rcode = (ushort)sum.Rcode; // 12 bits
        r.Truncated = sum.Header.Truncated;
        r.Authoritative = sum.Header.Authoritative;
        r.AnswerCount = sum.Header.AnswerCount;
        r.AuthorityCount = sum.Header.AuthorityCount;
        r.AdditionalCount = sum.Header.AdditionalCount;
        r.EdnsSize = sum.HasEdns ? sum.UdpPayloadSize : null;
        r.Fragmented = reassembled;
        r.FragmentCount = reassembled ? (ushort)Math.Min(fragments, ushort.MaxValue) : (ushort)0; // at most 8,192 in one datagram
        r.LargestFragment = reassembled ? largestFragment : 0;
        r.IpPacketLength = ipLength;
        r.Texts = _texts.Add(_scratch, _lengths, listed);
        r.RecordsNotListed = notListed;
        r.LargestTxtBytes = txt.LargestBytes;
        r.LargestTxtIsSpf = txt.LargestIsSpf;
        r.TxtRecords = txt.Records;
        r.TxtBytes = txt.Bytes;
        r.Malformed = malformed;
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
        int lost = 0, attempts = 0;
        var ports = new List<Endpoint>();
        var flows = new List<FlowFacts>();
        for (var x = t; x is not null && attempts < 64; x = x.RetryOf)
        {
            attempts++;
            lost += x.AnswerDatagramsLost;
            var ep = new Endpoint(x.Client, x.ClientPort);
            if (!ports.Contains(ep)) ports.Insert(0, ep);
            if (Facts(x) is { } ff && !flows.Any(f => f.Id == ff.Id)) flows.Insert(0, ff);
        }
        log.Raise(new DnsTimeoutVerdict
        {
            Flows = flows,
            Client = new Endpoint(root.Client, root.ClientPort),
            Server = new Endpoint(root.Server, root.ServerPort),
            Question = t.Question,
            Id = root.Id,
            LastId = t.Id,
            Tcp = t.Transport == DnsTransport.Tcp,
            Sends = t.ChainSends,
            FirstSent = root.FirstSent,
            LastSent = t.LastSent,
            WaitedNanos = now - root.FirstSent.UnixNanoseconds,
            QueryEdnsSize = t.QueryEdnsSize,
            Attempts = ports,
            Tries = attempts,
            AnswerDatagramsLost = lost,
        });
    }

    /// <summary>The numbers of the transaction's flow, while its record still belongs to it.</summary>
    private static FlowFacts? Facts(DnsTransaction t) => t.Flow is { } f && f.Id == t.FlowId ? FlowFacts.Of(f) : null;

    private void ReportTruncated(DnsTransaction udp, long now)
    {
        udp.TruncationReported = true;
        if (_truncatedFindings >= options.MaxFindingsPerKind) { Counters.FindingsSuppressed++; return; }
        _truncatedFindings++;
        ref readonly var r = ref udp.Answer;
        var tcp = udp.RetriedBy is { Transport: DnsTransport.Tcp } x ? x : null;
        var flows = new List<FlowFacts>();
        if (Facts(udp) is { } a) flows.Add(a);
        if (tcp is not null && Facts(tcp) is { } b) flows.Add(b);
        log.Raise(new DnsTruncatedVerdict
        {
            Flows = flows,
            Client = new Endpoint(udp.Client, udp.ClientPort),
            Server = new Endpoint(udp.Server, udp.ServerPort),
            Question = udp.Question,
            Id = udp.Id,
            UdpAnswerSize = r.Size,
            AnswerTime = r.Time,
            QueryEdnsSize = udp.QueryEdnsSize,
            TcpFlow = tcp?.FlowId,
            RetryAfterNanos = tcp is null ? null : tcp.FirstSent.UnixNanoseconds - r.Time.UnixNanoseconds,
            TcpAnswerSize = tcp is { Answered: true } ? tcp.Answer.Size : null,
            TcpRcode = tcp is { Answered: true } ? DnsTransaction.RcodeName(tcp.Answer.Rcode) : null,
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
}
