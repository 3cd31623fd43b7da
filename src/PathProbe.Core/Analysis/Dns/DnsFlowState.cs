using System.Buffers;
using System.Buffers.Binary;
using PathProbe.Decoding;
using PathProbe.Flows;
using PathProbe.Flows.Streams;
using PathProbe.Primitives;

namespace PathProbe.Analysis.Dns;

/// <summary>
/// DNS state of one flow (<see cref="Flow.App"/>): its transactions and counters, and for TCP the two stream
/// reassemblers with the length-prefix framing of RFC 1035 §4.2.2 / RFC 7766 §8.
/// </summary>
public sealed class DnsFlowState : IReusableApplication
{
    // The flow's transactions in the order they were sent: the first in a field of its own, the rest in a list made
    // with the second. Most DNS flows carry one query (a resolver's random source port per query): they hold no list.
    private DnsTransaction? _first;
    private List<DnsTransaction>? _more;

    internal DnsFlowState(DnsTransport transport) => Transport = transport;

    public DnsTransport Transport { get; private set; }
    /// <summary>The flow's transactions, oldest first (a view; reading it allocates nothing).</summary>
    public DnsTransactions Transactions => new(this);
    internal int TransactionCount => _first is null ? 0 : 1 + (_more?.Count ?? 0);
    internal DnsTransaction TransactionAt(int i) => i == 0 ? _first! : _more![i - 1];

    public long Queries { get; internal set; }
    public long Responses { get; internal set; }
    /// <summary>Messages too short or damaged to read even the header or, for responses, to match.</summary>
    public long Malformed { get; internal set; }
    /// <summary>Responses with no matching query (sent before the capture started, or duplicates).</summary>
    public long UnmatchedResponses { get; internal set; }
    /// <summary>Queries not tracked because a transaction limit was reached.</summary>
    public long NotTracked { get; internal set; }
    /// <summary>TCP: directions whose stream had a gap (length-prefixed messages cannot be re-synchronised) or were abandoned.</summary>
    public int TcpStreamsLost { get; internal set; }

    internal void Add(DnsTransaction t)
    {
        if (_first is null) _first = t;
        else (_more ??= new List<DnsTransaction>(3)).Add(t);
    }

    /// <summary>Most recent transaction of this flow with this id and question (name compared case-insensitively;
    /// <paramref name="hasName"/> false: the message had no readable question, which matches only such a query).</summary>
    internal DnsTransaction? Find(ushort id, ReadOnlySpan<char> name, bool hasName, Protocols.Dns.DnsType type, bool anyQuestion)
    {
        for (int i = TransactionCount - 1; i >= 0; i--)
        {
            var t = TransactionAt(i);
            if (t.Id != id) continue;
            if (anyQuestion) return t;
            if (t.Type != type) continue;
            if (hasName ? t.Name is not null && Protocols.Dns.DnsName.Equal(t.Name, name) : t.Name is null) return t;
        }
        return null;
    }

    /// <summary>The most recent transaction with DNS id <paramref name="id"/>, whatever its question.</summary>
    internal DnsTransaction? LatestWithId(ushort id)
    {
        for (int i = TransactionCount - 1; i >= 0; i--)
            if (TransactionAt(i) is { } t && t.Id == id) return t;
        return null;
    }

    public string? Phase
    {
        get
        {
            foreach (var t in Transactions)
                if (t.Outcome == DnsOutcome.Pending) return "waiting";
            return _first is not null ? "idle" : null;
        }
    }

    public PathProbe.Findings.SmtpPosition? Position => null;

    /// <summary>States of recycled flow records waiting for the next DNS flows of this thread (<see cref="ThreadSpares{T}"/>)
    /// at most.</summary>
    internal const int SpareStates = 1024;

    /// <summary>A DNS state for a new flow: one a recycled record gave back (<see cref="IReusableApplication.Recycle"/>),
    /// else a new one.</summary>
    internal static DnsFlowState Take(DnsTransport transport)
    {
        if (ThreadSpares<DnsFlowState>.Take() is not { } s) return new DnsFlowState(transport);
        s.Transport = transport;
        return s;
    }

    /// <summary>The flow record is recycled: the state lets its transactions go, reads as new, and waits for the next
    /// DNS flow of this thread (<see cref="Take"/>).</summary>
    void IReusableApplication.Recycle()
    {
        _first = null;
        _more?.Clear();
        Queries = Responses = Malformed = UnmatchedResponses = NotTracked = 0;
        TcpStreamsLost = 0;
        // Not closed through the flow table (which closes every flow before it recycles it): nothing is delivered now.
        if (_tcp is { } t) { _tcp = null; t.Owner.GiveBack(t); }
        ThreadSpares<DnsFlowState>.Give(this, SpareStates);
    }

    /// <summary>The flow's TCP streams are attached (from its first TCP packet until it closes).</summary>
    internal bool HasTcpStreams => _tcp is not null;

    // ---- TCP --------------------------------------------------------------------------------------------------
    // The two directions' reassemblers and framers while the TCP flow is in the table; the analyzer's spares otherwise.
    private DnsTcpStreams? _tcp;

    internal void AttachTcp(DnsTcpStreams streams, Flow flow)
    {
        streams.Attach(this, flow);
        _tcp = streams;
    }

    internal void OnTcpSegment(bool fromClient, ref DecodedPacket p)
    {
        if (_tcp is not { } t) return; // closed (no packet comes after that)
        var c = t.ClientFramer;
        var s = t.ServerFramer;
        if (fromClient)
        {
            t.Client.Segment(ref c, p.Seq, p.Payload, p.PayloadWireLength, p.Time, p.TcpFlags);
            if ((p.TcpFlags & TcpFlags.Ack) != 0) t.Server.PeerAck(ref s, p.Ack, p.Time);
        }
        else
        {
            t.Server.Segment(ref s, p.Seq, p.Payload, p.PayloadWireLength, p.Time, p.TcpFlags);
            if ((p.TcpFlags & TcpFlags.Ack) != 0) t.Client.PeerAck(ref c, p.Ack, p.Time);
        }
    }

    /// <summary>Flow closing: buffered stream data is delivered, and the streams go back to the analyzer (the flow has
    /// left the table; its record may be kept for the report, without them).</summary>
    internal void CloseTcp(Timestamp time)
    {
        if (_tcp is not { } t) return;
        var c = t.ClientFramer;
        var s = t.ServerFramer;
        t.Client.Flush(ref c, time);
        t.Server.Flush(ref s, time);
        _tcp = null;
        t.Owner.GiveBack(t);
    }
}

/// <summary>The two directions of a DNS-over-TCP flow: a stream reassembler and a message framer each. Made by the
/// analyzer (<see cref="DnsAnalyzer"/>) for a TCP flow and given back to it when the flow closes, for the next one.</summary>
internal sealed class DnsTcpStreams(DnsAnalyzer owner, StreamBudget budget)
{
    public readonly DnsAnalyzer Owner = owner;
    public readonly TcpStreamReassembler Client = new(budget), Server = new(budget);
    public readonly DnsTcpFramer ClientFramer = new(owner, fromClient: true);
    public readonly DnsTcpFramer ServerFramer = new(owner, fromClient: false);

    /// <summary>Delivers to <paramref name="state"/> of <paramref name="flow"/> from now on, as new streams would.</summary>
    public void Attach(DnsFlowState state, Flow flow)
    {
        ClientFramer.Attach(state, flow);
        ServerFramer.Attach(state, flow);
    }

    /// <summary>Lets the flow go: buffers are returned and nothing refers to its state any more.</summary>
    public void Release()
    {
        Client.Reuse();
        Server.Reuse();
        ClientFramer.Reuse();
        ServerFramer.Reuse();
    }
}

/// <summary>A flow's DNS transactions, oldest first: a view of <see cref="DnsFlowState"/> (a struct, so that reading
/// and enumerating it allocates nothing).</summary>
public readonly struct DnsTransactions : IReadOnlyList<DnsTransaction>
{
    private readonly DnsFlowState _state;

    internal DnsTransactions(DnsFlowState state) => _state = state;

    public int Count => _state.TransactionCount;
    public DnsTransaction this[int index] =>
        (uint)index < (uint)Count ? _state.TransactionAt(index) : throw new ArgumentOutOfRangeException(nameof(index));

    public Enumerator GetEnumerator() => new(_state);
    IEnumerator<DnsTransaction> IEnumerable<DnsTransaction>.GetEnumerator() => GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public struct Enumerator : IEnumerator<DnsTransaction>
    {
        private readonly DnsFlowState _state;
        private int _index;

        internal Enumerator(DnsFlowState state) { _state = state; _index = -1; }

        public readonly DnsTransaction Current => _state.TransactionAt(_index);
        readonly object System.Collections.IEnumerator.Current => Current;
        public bool MoveNext() => ++_index < _state.TransactionCount;
        public void Reset() => _index = -1;
        public readonly void Dispose() { }
    }
}

/// <summary>
/// Splits one direction of a DNS-over-TCP stream into messages (2-byte length, then the message). A message that
/// lies whole in one delivered span is parsed in place; one split across segments is gathered in a pooled buffer
/// of exactly its length (at most 65,535 bytes, one per direction).
/// </summary>
internal sealed class DnsTcpFramer(DnsAnalyzer owner, bool fromClient) : ITcpStreamSink
{
    private DnsFlowState _state = null!;
    private Flow _flow = null!;
    private int _lengthBytes, _length, _have;
    private byte _lengthHigh;
    private byte[]? _buffer;
    private bool _lost;

    /// <summary>Frames the stream of <paramref name="f"/> for <paramref name="s"/> (<see cref="DnsTcpStreams.Attach"/>).</summary>
    public void Attach(DnsFlowState s, Flow f)
    {
        _state = s;
        _flow = f;
    }

    /// <summary>Starts over for another flow: the buffer goes back, and the flow and its state are let go.</summary>
    public void Reuse()
    {
        Release();
        _lengthBytes = _length = _have = 0;
        _lengthHigh = 0;
        _lost = false;
        _state = null!;
        _flow = null!;
    }

    public void OnData(ReadOnlySpan<byte> data, Timestamp time)
    {
        while (!_lost && data.Length > 0)
        {
            if (_lengthBytes < 2)
            {
                if (_lengthBytes == 0 && data.Length >= 2)
                {
                    _length = BinaryPrimitives.ReadUInt16BigEndian(data);
                    _lengthBytes = 2;
                    data = data[2..];
                }
                else if (_lengthBytes == 0) { _lengthHigh = data[0]; _lengthBytes = 1; data = data[1..]; }
                else { _length = (_lengthHigh << 8) | data[0]; _lengthBytes = 2; data = data[1..]; }
                if (_lengthBytes == 2 && _length == 0) { _state.Malformed++; _lengthBytes = 0; }
                continue;
            }
            if (_have == 0 && data.Length >= _length)
            {
                owner.OnTcpMessage(_flow, _state, fromClient, data[.._length], time);
                data = data[_length..];
                _lengthBytes = 0;
                continue;
            }
            _buffer ??= ArrayPool<byte>.Shared.Rent(_length);
            int n = Math.Min(data.Length, _length - _have);
            data[..n].CopyTo(_buffer.AsSpan(_have));
            _have += n;
            data = data[n..];
            if (_have == _length)
            {
                owner.OnTcpMessage(_flow, _state, fromClient, _buffer.AsSpan(0, _length), time);
                _have = 0;
                _lengthBytes = 0;
                Release();
            }
        }
    }

    /// <summary>Bytes the capture missed: message boundaries are lost for the rest of the stream (no markers to
    /// re-synchronise on), so this direction is no longer parsed.</summary>
    public void OnGap(int bytes, Timestamp time) => Lose();

    public void OnAbandon(string reason) => Lose();

    private void Lose()
    {
        if (_lost) return;
        _lost = true;
        _state.TcpStreamsLost++;
        Release();
    }

    public void Release()
    {
        if (_buffer is null) return;
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = null;
    }
}
