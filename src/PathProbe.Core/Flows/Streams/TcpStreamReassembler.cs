using System.Buffers;
using PathProbe.Decoding;
using PathProbe.Primitives;

namespace PathProbe.Flows.Streams;

/// <summary>
/// Puts one direction of a TCP connection back in order for an application decoder (RFC 9293 3.4, 3.10.7.4).
/// </summary>
/// <remarks>
/// <para>In-order segments (the common case) are handed to the sink straight from the frame, without a copy; only
/// out-of-order bytes are copied (pooled buffers) until the hole before them fills. Buffered chunks never overlap:
/// the first copy of a byte wins, later copies are compared with it and differing bytes are counted
/// (<see cref="ConflictingOverlaps"/>: a middlebox rewriting data, or an evasion attempt). Bytes already delivered are
/// not kept, so a retransmission of them is counted but cannot be compared.</para>
/// <para>A hole is declared a gap (<see cref="ITcpStreamSink.OnGap"/>) when the capture can no longer fill it:
/// (1) the other side acknowledges past it (<see cref="PeerAck"/>: the receiver got bytes the capture missed),
/// (2) the segment was cut by the snap length (the cut tail is a gap as soon as it is reached: a retransmission
/// would be cut the same way), (3) <see cref="Flush"/> at end of input, RST or close. Real network loss is
/// not a gap: the sender retransmits and the receiver does not acknowledge past the hole, so the data waits in the
/// buffer, within its bounds.</para>
/// <para>Bounds: <see cref="MaxBufferedBytes"/> and <see cref="MaxBufferedChunks"/> per direction, plus the shared
/// <see cref="StreamBudget"/>. Hitting one is counted in <see cref="BoundHits"/>, the buffer is released and the
/// direction is abandoned (the sink is told why); the rest of the analysis continues.</para>
/// <para>The stream starts at ISN+1 when the SYN was captured, else at the first segment with data. One instance per
/// direction per flow; not thread-safe. Steady-state in-order delivery allocates nothing.</para>
/// </remarks>
public sealed class TcpStreamReassembler
{
    public const int DefaultMaxBufferedBytes = 256 * 1024;
    public const int DefaultMaxBufferedChunks = 2048;

    /// <summary>An acknowledgement further than this past the next expected byte is taken as bogus, not as a gap.</summary>
    private const int MaxAckGap = 1 << 30;

    private struct Chunk
    {
        public uint Seq;
        public int Length;
        /// <summary>Pooled copy of the bytes; null for a hole (bytes cut by the snap length).</summary>
        public byte[]? Data;
        public Timestamp Time;
        public readonly uint End => SeqNum.Add(Seq, Length);
    }

    private readonly StreamBudget? _budget;
    private List<Chunk>? _chunks; // sorted by Seq, non-overlapping; allocated on first out-of-order segment
    private bool _started;
    private uint _next;
    private bool _finSeen;
    private uint _finSeq;

    public TcpStreamReassembler(StreamBudget? budget = null, int maxBufferedBytes = DefaultMaxBufferedBytes,
        int maxBufferedChunks = DefaultMaxBufferedChunks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBufferedBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBufferedChunks);
        _budget = budget;
        MaxBufferedBytes = maxBufferedBytes;
        MaxBufferedChunks = maxBufferedChunks;
    }

    public int MaxBufferedBytes { get; }
    public int MaxBufferedChunks { get; }

    /// <summary>True once the initial sequence number is known (SYN or first data segment).</summary>
    public bool Started => _started;
    /// <summary>Sequence number of the next byte to deliver (valid when <see cref="Started"/>).</summary>
    public uint NextSeq => _next;
    public bool Abandoned { get; private set; }
    public string? AbandonReason { get; private set; }
    public bool FinSeen => _finSeen;

    // ---- counters ------------------------------------------------------------------------------
    /// <summary>Bytes handed to the sink as data.</summary>
    public long DeliveredBytes { get; private set; }
    public long Gaps { get; private set; }
    public long GapBytes { get; private set; }
    /// <summary>Segments (or parts) that arrived ahead of a hole and were buffered.</summary>
    public long OutOfOrderSegments { get; private set; }
    /// <summary>Bytes received again (already delivered or already buffered).</summary>
    public long DuplicateBytes { get; private set; }
    /// <summary>Overlaps where the new copy differs from the first one.</summary>
    public long ConflictingOverlaps { get; private set; }
    public long ConflictingBytes { get; private set; }
    /// <summary>Segments whose payload was cut by the snap length.</summary>
    public long SnapCutSegments { get; private set; }
    public long BoundHits { get; private set; }
    public int BufferedBytes { get; private set; }
    public int PeakBufferedBytes { get; private set; }
    public int BufferedChunks => _chunks?.Count ?? 0;

    /// <summary>Feeds one captured segment of this direction.</summary>
    /// <param name="seq">The TCP sequence number.</param>
    /// <param name="payload">The captured payload (only valid during the call).</param>
    /// <param name="payloadWireLength">Payload length per the IP/TCP headers; more than payload.Length when the
    /// frame was cut by the snap length.</param>
    public void Segment<TSink>(ref TSink sink, uint seq, ReadOnlySpan<byte> payload, int payloadWireLength,
        Timestamp time, TcpFlags flags) where TSink : ITcpStreamSink
    {
        if (Abandoned) return;
        if (payloadWireLength < payload.Length) payloadWireLength = payload.Length;

        if ((flags & TcpFlags.Syn) != 0)
        {
            // SYN occupies one sequence number (RFC 9293 3.4). A repeated SYN only re-anchors a stream that has
            // produced nothing yet (a retransmitted SYN with another ISN after a port reuse).
            if (!_started || (DeliveredBytes == 0 && GapBytes == 0 && BufferedChunks == 0))
            {
                _next = SeqNum.Add(seq, 1);
                _started = true;
            }
            seq = SeqNum.Add(seq, 1);
        }

        if (payloadWireLength > 0)
        {
            if (!_started) { _next = seq; _started = true; }
            if (payload.Length < payloadWireLength) SnapCutSegments++;

            // Fast path: the next expected segment and nothing buffered: hand the frame's bytes over as they are.
            if (seq == _next && (_chunks == null || _chunks.Count == 0))
            {
                if (payload.Length > 0) Deliver(ref sink, payload, time);
                if (payloadWireLength > payload.Length) DeclareGap(ref sink, payloadWireLength - payload.Length, time);
            }
            else
            {
                SlowPath(ref sink, seq, payload, payloadWireLength, time);
            }
        }

        if ((flags & TcpFlags.Fin) != 0 && !_finSeen && _started)
        {
            _finSeen = true;
            _finSeq = SeqNum.Add(seq, payloadWireLength);
        }
    }

    /// <summary>The other direction acknowledged <paramref name="ack"/>: any hole before it was received by the peer
    /// but missed by the capture, so it becomes a gap now.</summary>
    public void PeerAck<TSink>(ref TSink sink, uint ack, Timestamp time) where TSink : ITcpStreamSink
    {
        if (Abandoned || !_started) return;
        uint limit = _finSeen ? SeqNum.Min(ack, _finSeq) : ack; // the ACK of a FIN covers no data
        int ahead = SeqNum.Diff(limit, _next);
        if (ahead <= 0 || ahead > MaxAckGap) return;
        SkipTo(ref sink, limit, time);
    }

    /// <summary>End of input (or RST/close): delivers everything buffered, declaring the holes between as gaps.</summary>
    public void Flush<TSink>(ref TSink sink, Timestamp time) where TSink : ITcpStreamSink
    {
        if (Abandoned || _chunks == null) return;
        while (_chunks.Count > 0 && !Abandoned)
            SkipTo(ref sink, _chunks[^1].End, time);
    }

    /// <summary>Returns buffered memory to the pool and the budget (for a flow that is dropped without a flush).</summary>
    public void Release()
    {
        if (_chunks == null) return;
        foreach (var c in _chunks) Free(c);
        _chunks.Clear();
        BufferedBytes = 0;
    }

    /// <summary>Starts over for a new connection (a closed DNS-over-TCP flow's or SMTP session's reassembler taken by the
    /// next one of its analyzer): buffered memory is given back (<see cref="Release"/>) and every field reads as in a new
    /// reassembler; the limits and the budget stay.</summary>
    internal void Reuse()
    {
        Release();
        _started = false; _next = 0; _finSeen = false; _finSeq = 0;
        Abandoned = false; AbandonReason = null;
        DeliveredBytes = 0; Gaps = 0; GapBytes = 0; OutOfOrderSegments = 0; DuplicateBytes = 0;
        ConflictingOverlaps = 0; ConflictingBytes = 0; SnapCutSegments = 0; BoundHits = 0;
        BufferedBytes = 0; PeakBufferedBytes = 0;
    }

    // ---- internals -----------------------------------------------------------------------------

    private void Deliver<TSink>(ref TSink sink, ReadOnlySpan<byte> data, Timestamp time) where TSink : ITcpStreamSink
    {
        _next = SeqNum.Add(_next, data.Length);
        DeliveredBytes += data.Length;
        sink.OnData(data, time);
    }

    private void DeclareGap<TSink>(ref TSink sink, int bytes, Timestamp time) where TSink : ITcpStreamSink
    {
        _next = SeqNum.Add(_next, bytes);
        Gaps++;
        GapBytes += bytes;
        sink.OnGap(bytes, time);
    }

    /// <summary>Advances to <paramref name="target"/>: buffered chunks are delivered, holes become gaps.</summary>
    private void SkipTo<TSink>(ref TSink sink, uint target, Timestamp time) where TSink : ITcpStreamSink
    {
        while (SeqNum.Before(_next, target) && !Abandoned)
        {
            if (_chunks != null && _chunks.Count > 0 && SeqNum.BeforeOrEqual(_chunks[0].Seq, _next))
            {
                DrainReady(ref sink, time, default, 0, 0);
                continue;
            }
            uint end = target;
            if (_chunks != null && _chunks.Count > 0) end = SeqNum.Min(end, _chunks[0].Seq);
            DeclareGap(ref sink, SeqNum.Diff(end, _next), time);
        }
        if (!Abandoned) DrainReady(ref sink, time, default, 0, 0);
    }

    /// <summary>
    /// General case: the segment is old, overlaps, is out of order, or arrives while chunks are buffered.
    /// The new segment covers [seq, seq + wire), of which [seq, seq + payload.Length) was captured.
    /// </summary>
    private void SlowPath<TSink>(ref TSink sink, uint seq, ReadOnlySpan<byte> payload, int wire, Timestamp time)
        where TSink : ITcpStreamSink
    {
        uint end = SeqNum.Add(seq, wire);
        if (SeqNum.BeforeOrEqual(end, _next)) { DuplicateBytes += wire; return; } // a retransmission of delivered data

        uint cur = seq;
        if (SeqNum.Before(cur, _next))
        {
            DuplicateBytes += SeqNum.Diff(_next, cur);
            cur = _next;
        }

        while (!Abandoned)
        {
            // Buffered chunks that are now in order go first (they arrived first: their bytes win).
            DrainReady(ref sink, time, payload, seq, wire);
            if (Abandoned) return;
            if (SeqNum.Before(cur, _next)) cur = _next; // the chunks covered part of this segment
            if (!SeqNum.Before(cur, end)) return;

            if (cur != _next)
            {
                InsertOutOfOrder(ref sink, seq, payload, cur, end, time);
                return;
            }

            uint limit = end;
            if (_chunks != null && _chunks.Count > 0) limit = SeqNum.Min(limit, _chunks[0].Seq);
            int from = SeqNum.Diff(cur, seq);
            int to = SeqNum.Diff(limit, seq);
            int capTo = Math.Min(to, payload.Length);
            if (capTo > from) Deliver(ref sink, payload[from..capTo], time);
            if (to > Math.Max(from, payload.Length)) DeclareGap(ref sink, to - Math.Max(from, payload.Length), time);
            cur = _next;
        }
    }

    /// <summary>Delivers buffered chunks that start at or before the next expected byte. When a new segment is
    /// being processed (<paramref name="newSeq"/>, <paramref name="newPayload"/>), the bytes it shares with those
    /// chunks are compared (first copy wins).</summary>
    private void DrainReady<TSink>(ref TSink sink, Timestamp time, ReadOnlySpan<byte> newPayload, uint newSeq, int newWire)
        where TSink : ITcpStreamSink
    {
        if (_chunks == null) return;
        // Drained chunks are removed once at the end: RemoveAt(0) per chunk would make filling a hole quadratic.
        int drained = 0;
        while (drained < _chunks.Count && SeqNum.BeforeOrEqual(_chunks[drained].Seq, _next))
        {
            Chunk c = _chunks[drained++];
            int skip = SeqNum.Diff(_next, c.Seq);
            if (skip < c.Length)
            {
                if (newWire > 0) CompareOverlap(c, skip, newPayload, newSeq, newWire);
                // Buffered data is delivered with the time of the segment that made it deliverable: that is when
                // the receiving application could first read it.
                Timestamp t = c.Time > time ? c.Time : time;
                if (c.Data != null) Deliver(ref sink, c.Data.AsSpan(skip, c.Length - skip), t);
                else DeclareGap(ref sink, c.Length - skip, t);
            }
            Free(c);
        }
        _chunks.RemoveRange(0, drained);
    }

    /// <summary>Counts bytes of the new segment that overlap chunk <paramref name="c"/> (from offset
    /// <paramref name="skip"/>) and differ from it. Holes and uncaptured bytes are not compared.</summary>
    private void CompareOverlap(in Chunk c, int skip, ReadOnlySpan<byte> newPayload, uint newSeq, int newWire)
    {
        if (c.Data == null) return;
        uint a = SeqNum.Add(c.Seq, skip);
        if (SeqNum.Before(a, newSeq)) a = newSeq;
        uint capEnd = SeqNum.Add(newSeq, newPayload.Length);
        uint b = SeqNum.Min(c.End, capEnd);
        int n = SeqNum.Diff(b, a);
        if (n <= 0) return;
        DuplicateBytes += n;
        var mine = c.Data.AsSpan(SeqNum.Diff(a, c.Seq), n);
        var theirs = newPayload.Slice(SeqNum.Diff(a, newSeq), n);
        if (!mine.SequenceEqual(theirs))
        {
            ConflictingOverlaps++;
            for (int i = 0; i < n; i++) if (mine[i] != theirs[i]) ConflictingBytes++;
        }
    }

    /// <summary>Buffers the parts of [cur, end) not already buffered (copies), comparing the parts that are.</summary>
    private void InsertOutOfOrder<TSink>(ref TSink sink, uint seq, ReadOnlySpan<byte> payload, uint cur, uint end, Timestamp time)
        where TSink : ITcpStreamSink
    {
        _chunks ??= new List<Chunk>(8);
        OutOfOrderSegments++;
        int i = 0;
        while (i < _chunks.Count && SeqNum.BeforeOrEqual(_chunks[i].End, cur)) i++;
        while (SeqNum.Before(cur, end))
        {
            if (i < _chunks.Count && SeqNum.BeforeOrEqual(_chunks[i].Seq, cur))
            {
                // cur lies inside chunk i: compare and move past it.
                CompareOverlap(_chunks[i], 0, payload, seq, SeqNum.Diff(end, seq));
                cur = _chunks[i].End;
                i++;
                continue;
            }
            uint pieceEnd = end;
            if (i < _chunks.Count) pieceEnd = SeqNum.Min(pieceEnd, _chunks[i].Seq);
            // Split into the captured part and the part cut by the snap length (a hole).
            uint capEnd = SeqNum.Add(seq, payload.Length);
            if (SeqNum.Before(cur, capEnd))
            {
                uint dataEnd = SeqNum.Min(pieceEnd, capEnd);
                if (!AddChunk(ref sink, i, cur, payload.Slice(SeqNum.Diff(cur, seq), SeqNum.Diff(dataEnd, cur)), hole: false, time)) return;
                i++;
                cur = dataEnd;
            }
            if (SeqNum.Before(cur, pieceEnd))
            {
                if (!AddChunk(ref sink, i, cur, default, hole: true, time, SeqNum.Diff(pieceEnd, cur))) return;
                i++;
                cur = pieceEnd;
            }
        }
    }

    private bool AddChunk<TSink>(ref TSink sink, int index, uint seq, ReadOnlySpan<byte> data, bool hole, Timestamp time, int holeLength = 0)
        where TSink : ITcpStreamSink
    {
        int length = hole ? holeLength : data.Length;
        if (_chunks!.Count >= MaxBufferedChunks)
        {
            Abandon(ref sink, $"more than {MaxBufferedChunks} out-of-order chunks buffered");
            return false;
        }
        byte[]? copy = null;
        if (!hole)
        {
            if (BufferedBytes + length > MaxBufferedBytes)
            {
                Abandon(ref sink, $"more than {MaxBufferedBytes} out-of-order bytes buffered in one direction");
                return false;
            }
            if (_budget != null && !_budget.TryReserve(length))
            {
                Abandon(ref sink, $"stream reassembly memory budget of {_budget.Capacity} bytes exhausted");
                return false;
            }
            copy = ArrayPool<byte>.Shared.Rent(length);
            data.CopyTo(copy);
            BufferedBytes += length;
            if (BufferedBytes > PeakBufferedBytes) PeakBufferedBytes = BufferedBytes;
        }
        _chunks.Insert(index, new Chunk { Seq = seq, Length = length, Data = copy, Time = time });
        return true;
    }

    private void Free(in Chunk c)
    {
        if (c.Data == null) return;
        BufferedBytes -= c.Length;
        _budget?.Release(c.Length);
        ArrayPool<byte>.Shared.Return(c.Data);
    }

    private void Abandon<TSink>(ref TSink sink, string reason) where TSink : ITcpStreamSink
    {
        BoundHits++;
        Abandoned = true;
        AbandonReason = reason;
        Release();
        sink.OnAbandon(reason);
    }
}
