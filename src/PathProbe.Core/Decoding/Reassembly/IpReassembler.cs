using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using PathProbe.Primitives;

namespace PathProbe.Decoding.Reassembly;

/// <summary>Identifies the datagram a fragment belongs to (RFC 791: src, dst, protocol, id; RFC 8200 4.5: src, dst, id).</summary>
/// <remarks>
/// The hash goes through <see cref="HashCode"/> (randomly seeded per process): the generated record hash is a
/// linear combination in which <see cref="Id"/> is attacker-chosen, so bucket collisions could be computed offline.
/// </remarks>
public readonly record struct FragmentKey(IpAddress Src, IpAddress Dst, uint Id, byte Protocol, byte IpVersion)
{
    public override int GetHashCode() => HashCode.Combine(Src, Dst, Id, Protocol, IpVersion);
}

public enum ReassemblyResult : byte
{
    /// <summary>Fragment stored, datagram not complete.</summary>
    Held,
    /// <summary>This fragment completed the datagram; the payload is returned.</summary>
    Completed,
    /// <summary>Dropped: duplicate, bad offset, oversize, or memory bound hit (see counters).</summary>
    Dropped,
}

public sealed class ReassemblyOptions
{
    /// <summary>Capture-time timeout after the first fragment (Linux ipfrag_time default: 30 s).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Bytes held in incomplete datagrams at most (counted as the size of the buffers held, not payload bytes).</summary>
    public long MaxBytes { get; init; } = 64L * 1024 * 1024;
    /// <summary>Incomplete datagrams held at most.</summary>
    public int MaxDatagrams { get; init; } = 16_384;
    /// <summary>How many incomplete-datagram records are kept for reports.</summary>
    public int MaxIncompleteRecords { get; init; } = 1_000;
    /// <summary>
    /// Distinct fragments one datagram may have. A 64 KiB datagram over a 1280-byte IPv6 link needs 54;
    /// more than this is treated as a tiny-fragment attack and the datagram is dropped.
    /// </summary>
    public int MaxFragmentsPerDatagram { get; init; } = 256;
    /// <summary>
    /// Bytes of the first fragment's payload (transport header onward) copied into each incomplete-datagram record,
    /// so a report can say what was lost (e.g. the DNS header and question of an answer whose other fragments never
    /// came). One copy per record, so at most <see cref="MaxIncompleteRecords"/> of them; 0 keeps none.
    /// </summary>
    public int IncompleteHeadBytes { get; init; } = 512;

    /// <summary>Where datagram buffers come from (<see cref="ArrayPool{T}.Shared"/>). Tests pass a pool that scribbles
    /// over returned arrays, to prove no span is read after its buffer went back.</summary>
    internal ArrayPool<byte> Pool { get; init; } = ArrayPool<byte>.Shared;
}

public sealed class ReassemblyCounters
{
    /// <summary>Every call to <see cref="IpReassembler.Add"/>.</summary>
    public long Fragments;
    public long Completed;
    public long TimedOut;
    public long OpenAtEnd;
    /// <summary>Datagrams dropped because two fragments overlapped with different bounds or bytes (RFC 5722).</summary>
    public long Overlaps;
    /// <summary>Exact duplicate fragments (same offset, length and bytes) ignored (RFC 8200 4.5).</summary>
    public long Duplicates;
    /// <summary>Fragments whose end lies past the largest legal datagram; their datagram is dropped.</summary>
    public long Oversize;
    /// <summary>Datagrams evicted (oldest first) or refused to stay within MaxBytes / MaxDatagrams.</summary>
    public long DroppedMemoryBound;
    public long Incomplete => TimedOut + OpenAtEnd;

    /// <summary>Datagrams dropped because fragments disagree on the end (second last fragment, data past the end).</summary>
    public long Inconsistent;
    /// <summary>Datagrams dropped for having more than MaxFragmentsPerDatagram fragments.</summary>
    public long TooManyFragments;
    /// <summary>Single fragments ignored: a non-last fragment that is empty or not a multiple of 8 bytes (RFC 791, RFC 8200 4.5).</summary>
    public long BadFragments;
    /// <summary>Offset 0 and no more fragments: processed alone, never merged with other fragments (RFC 6946).</summary>
    public long AtomicFragments;
    /// <summary>Incomplete datagrams counted but not stored because MaxIncompleteRecords was reached.</summary>
    public long IncompleteRecordsNotStored;
}

/// <summary>Why a datagram ended up in <see cref="IpReassembler.Incomplete"/>.</summary>
public enum IncompleteReason : byte
{
    OpenAtEnd,
    TimedOut,
    /// <summary>Evicted to stay within the memory bound.</summary>
    Evicted,
}

/// <summary>A datagram whose fragments never all arrived (timed out, or still open at the end of input).</summary>
public readonly record struct IncompleteDatagram(
    FragmentKey Key,
    Timestamp FirstSeen,
    Timestamp LastSeen,
    int FragmentsReceived,
    int BytesReceived,
    bool FirstFragmentSeen,
    bool LastFragmentSeen,
    /// <summary>Payload length of the whole datagram when the last fragment was seen, else -1.</summary>
    int TotalPayloadLength,
    /// <summary>Transport ports from the first fragment, when it was seen.</summary>
    ushort SrcPort,
    ushort DstPort,
    bool TimedOut)
{
    public IncompleteReason Reason { get; init; }
    /// <summary>Payload bytes of the first fragment (offset 0) when it was seen, else 0.</summary>
    public int FirstFragmentLength { get; init; }
    /// <summary>A copy of the first <see cref="ReassemblyOptions.IncompleteHeadBytes"/> payload bytes of the first
    /// fragment (transport header onward); empty when the first fragment was not seen.</summary>
    public ReadOnlyMemory<byte> FirstFragmentHead { get; init; }
}

/// <summary>
/// IPv4/IPv6 fragment reassembly on capture time with a memory bound (RFC 791, RFC 815, RFC 8200 4.5).
/// The span returned by <see cref="Add"/> is valid until the next call. Not thread-safe: one per decoding thread.
/// </summary>
/// <remarks>
/// <para>Overlap policy. RFC 8200 4.5 (and RFC 5722 before it) requires an IPv6 datagram with overlapping
/// fragments to be discarded as a whole, allowing exact duplicates to be dropped alone. Linux applies the
/// same rule to IPv4 since 2018 (FragmentSmack, CVE-2018-5391), so whatever an overlap was meant to smuggle
/// past a middlebox never reaches a Linux host; Wireshark instead keeps the first copy. We follow RFC 8200
/// for both families: a fragment identical in offset, length and bytes counts <see cref="ReassemblyCounters.Duplicates"/>
/// and is ignored; any other overlap (teardrop, rewritten bytes, re-fragmented copy) drops the datagram and counts
/// <see cref="ReassemblyCounters.Overlaps"/>. Dropped datagrams are not listed in <see cref="Incomplete"/>: they
/// did arrive, but were refused. Later fragments of a dropped datagram, like a late duplicate of a completed
/// one, open a new entry, as on Linux; it ends as timed out or open at end.</para>
/// <para>Memory. Each datagram holds one pooled buffer (grown by doubling up to 64 KiB, exact when the
/// last fragment came first) and a sorted array of fragment ranges, so a fragment costs O(log n) to place and
/// at most O(n) to insert with n bounded by <see cref="ReassemblyOptions.MaxFragmentsPerDatagram"/>. The bound
/// counts buffer capacity, not payload: a 8-byte fragment at offset 65000 costs 64 KiB. When a fragment
/// would exceed <see cref="ReassemblyOptions.MaxBytes"/> or <see cref="ReassemblyOptions.MaxDatagrams"/>, the
/// oldest datagrams are evicted (counted and recorded as <see cref="IncompleteReason.Evicted"/>): the oldest
/// is the one most likely to be lost or an attacker's filler, and refusing new fragments instead would let a
/// flood of never-completed datagrams block all reassembly until they time out.</para>
/// <para>Age is first-fragment time in arrival order: a list in creation order makes the head the oldest, so
/// the lazy expiry in <see cref="Add"/> checks one entry. With out-of-order capture times an entry may outlive
/// its timeout until those created before it have gone.</para>
/// </remarks>
public sealed class IpReassembler
{
    /// <summary>IPv4: total length is 16 bits and includes at least a 20-byte header (RFC 791; "ping of death").</summary>
    public const int MaxIpv4Payload = 65535 - 20;
    /// <summary>IPv6 without jumbograms: the payload length field is 16 bits (RFC 8200 3).</summary>
    public const int MaxIpv6Payload = 65535;

    private const int MinBufferSize = 2048;
    private const int MaxBufferSize = 65536;
    // Enough for a 64 KiB datagram over 1500-byte links (45 fragments) without growing; 512 bytes per entry.
    private const int InitialFragmentSlots = 64;
    private const int MaxPooledEntries = 1024;

    private readonly ReassemblyOptions _options;
    private readonly long _timeoutNanos;
    private readonly Dictionary<FragmentKey, Entry> _entries = new();
    private readonly Stack<Entry> _freeEntries = new();
    private readonly List<IncompleteDatagram> _incomplete = new();
    private Entry? _oldest, _newest;
    private long _bytesHeld;
    // The buffer of the last completed datagram: the caller reads it until the next call, so it goes back
    // to the shared pool (where another thread could rent it) only then.
    private byte[]? _completedBuffer;

    public IpReassembler(ReassemblyOptions? options = null)
    {
        _options = options ?? new ReassemblyOptions();
        long ticks = _options.Timeout.Ticks;
        _timeoutNanos = ticks <= 0 ? 0 : ticks > long.MaxValue / 100 ? long.MaxValue : ticks * 100;
    }

    /// <summary>Payload bytes of the largest fragment of the datagram the last <see cref="Add"/> completed
    /// (what actually crossed the wire in one packet).</summary>
    public int LastCompletedLargestFragment { get; private set; }

    /// <summary>Largest payload a datagram of this IP version can reassemble to (the decoder rejects fragments beyond it).</summary>
    public static int MaxPayload(byte ipVersion) => ipVersion == 6 ? MaxIpv6Payload : MaxIpv4Payload;

    public ReassemblyCounters Counters { get; } = new();

    /// <summary>Records kept of incomplete datagrams (bounded by <see cref="ReassemblyOptions.MaxIncompleteRecords"/>).</summary>
    public IReadOnlyList<IncompleteDatagram> Incomplete => _incomplete;

    public ReassemblyOptions Options => _options;

    /// <summary>Datagrams currently waiting for fragments.</summary>
    public int OpenDatagrams => _entries.Count;

    /// <summary>Bytes of buffer currently held by open datagrams (what <see cref="ReassemblyOptions.MaxBytes"/> bounds).</summary>
    public long BytesHeld => _bytesHeld;

    /// <summary>
    /// Adds one fragment. <see cref="ReassemblyResult.Completed"/>: <paramref name="datagram"/> holds the whole payload,
    /// in a buffer of this reassembler valid until the next call (or, for an atomic fragment, <paramref name="data"/> itself).
    /// <see cref="ReassemblyResult.Dropped"/>: the fragment, and for overlap/oversize/inconsistency the whole datagram,
    /// was refused; the reason is counted in <see cref="Counters"/>. Never throws on packet content.
    /// </summary>
    /// <param name="offset">Byte offset of <paramref name="data"/> in the datagram's payload.</param>
    /// <param name="datagram">On Completed: the whole reassembled payload (transport header onward).</param>
    /// <remarks><paramref name="data"/> may point into the datagram the previous call returned (a fragment found inside a
    /// reassembled tunnel packet): that buffer goes back to the pool only after this call has copied what it needs, or,
    /// when this call returns <paramref name="data"/> itself (an atomic fragment), at the next call.</remarks>
    public ReassemblyResult Add(in FragmentKey key, int offset, bool moreFragments, ReadOnlySpan<byte> data, Timestamp time,
        out ReadOnlySpan<byte> datagram, out int fragmentCount)
    {
        byte[]? previous = _completedBuffer;
        _completedBuffer = null;
        ReassemblyResult result = AddCore(in key, offset, moreFragments, data, time, out datagram, out fragmentCount);
        if (previous is not null)
        {
            if (result == ReassemblyResult.Completed && _completedBuffer is null) _completedBuffer = previous;
            else _options.Pool.Return(previous);
        }
        return result;
    }

    private ReassemblyResult AddCore(in FragmentKey key, int offset, bool moreFragments, ReadOnlySpan<byte> data, Timestamp time,
        out ReadOnlySpan<byte> datagram, out int fragmentCount)
    {
        datagram = default;
        fragmentCount = 0;
        Counters.Fragments++;
        if (offset < 0) ThrowNegativeOffset(offset);
        ExpireHead(time);

        long endLong = (long)offset + data.Length;
        int limit = MaxPayload(key.IpVersion);
        _entries.TryGetValue(key, out Entry? entry);

        if (endLong > limit)
        {
            Counters.Oversize++;
            if (entry is not null) Discard(entry);
            return ReassemblyResult.Dropped;
        }
        int end = (int)endLong;

        if (offset == 0 && !moreFragments)
        {
            // RFC 6946: an atomic fragment is a whole datagram; it must not disturb fragments with the same id.
            Counters.AtomicFragments++;
            Counters.Completed++;
            datagram = data;
            fragmentCount = 1;
            return ReassemblyResult.Completed;
        }

        if (moreFragments && (data.Length == 0 || (data.Length & 7) != 0))
        {
            // RFC 791 / RFC 8200 4.5: every fragment but the last carries a multiple of 8 bytes; such a fragment
            // would leave a hole or overlap its successor anyway. Drop it alone, as RFC 8200 asks.
            Counters.BadFragments++;
            return ReassemblyResult.Dropped;
        }

        if (entry is not null)
        {
            // A known end disagreeing with this fragment: second last fragment, or data past the end.
            bool inconsistent = moreFragments
                ? entry.Total >= 0 && end > entry.Total
                : (entry.Total >= 0 && entry.Total != end) || entry.MaxEnd > end;
            if (inconsistent)
            {
                Counters.Inconsistent++;
                Discard(entry);
                return ReassemblyResult.Dropped;
            }

            int i = entry.LowerBound(offset);
            if (i < entry.Count && entry.Starts[i] == offset && entry.Ends[i] == end)
            {
                // Same range. An exact duplicate (a retransmission, or a capture seeing both directions of a
                // tunnel) is ignored; different bytes are an overlap; the same bytes newly claiming to be the last
                // fragment (MF cleared) disagree on the end. A last fragment resent with MF set is tolerated, as Linux does.
                bool sameBytes = data.SequenceEqual(entry.Buffer.AsSpan(offset, data.Length));
                if (sameBytes && (moreFragments || entry.Total >= 0))
                {
                    Counters.Duplicates++;
                    entry.LastSeen = time;
                    return ReassemblyResult.Dropped;
                }
                if (sameBytes) Counters.Inconsistent++;
                else Counters.Overlaps++;
                Discard(entry);
                return ReassemblyResult.Dropped;
            }
            if ((i > 0 && entry.Ends[i - 1] > offset) || (i < entry.Count && entry.Starts[i] < end))
            {
                Counters.Overlaps++;
                Discard(entry);
                return ReassemblyResult.Dropped;
            }
            if (entry.Count >= _options.MaxFragmentsPerDatagram)
            {
                Counters.TooManyFragments++;
                Discard(entry);
                return ReassemblyResult.Dropped;
            }
            if (end > entry.Buffer.Length && !Grow(entry, NextBufferSize(entry.Buffer.Length, end, moreFragments)))
                return ReassemblyResult.Dropped;
            entry.Insert(i, offset, end);
        }
        else
        {
            if (_options.MaxFragmentsPerDatagram < 1) { Counters.TooManyFragments++; return ReassemblyResult.Dropped; }
            int size = NextBufferSize(0, end, moreFragments);
            if (!MakeRoom(size, newEntry: true, keep: null))
            {
                Counters.DroppedMemoryBound++;
                return ReassemblyResult.Dropped;
            }
            entry = NewEntry(key, time, size);
            entry.Insert(0, offset, end);
        }

        data.CopyTo(entry.Buffer.AsSpan(offset));
        entry.Covered += data.Length;
        entry.LastSeen = time;
        if (end > entry.MaxEnd) entry.MaxEnd = end;
        if (!moreFragments) entry.Total = end;
        if (offset == 0) entry.SetPorts(key.Protocol, data);

        if (entry.Total >= 0 && entry.Covered == entry.Total)
        {
            // No overlaps are ever stored, so covered bytes == total means no holes.
            Counters.Completed++;
            fragmentCount = entry.Count;
            int largest = 0;
            for (int i = 0; i < entry.Count; i++) largest = Math.Max(largest, entry.Ends[i] - entry.Starts[i]);
            LastCompletedLargestFragment = largest;
            byte[] buffer = entry.Buffer;
            datagram = new ReadOnlySpan<byte>(buffer, 0, entry.Total);
            _bytesHeld -= buffer.Length;
            entry.Buffer = null!;
            _completedBuffer = buffer;
            Remove(entry);
            return ReassemblyResult.Completed;
        }
        return ReassemblyResult.Held;
    }

    /// <summary>Times out datagrams whose first fragment is older than the timeout at <paramref name="now"/>.</summary>
    public void Expire(Timestamp now)
    {
        ReleaseCompletedBuffer();
        ExpireHead(now);
    }

    /// <summary>End of input: every datagram still open is counted as incomplete.</summary>
    public void Finish()
    {
        ReleaseCompletedBuffer();
        while (_oldest is { } e)
        {
            Counters.OpenAtEnd++;
            Record(e, IncompleteReason.OpenAtEnd);
            Remove(e);
        }
    }

    private void ExpireHead(Timestamp now)
    {
        while (_oldest is { } e && IsExpired(e.FirstSeen, now))
        {
            Counters.TimedOut++;
            Record(e, IncompleteReason.TimedOut);
            Remove(e);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsExpired(Timestamp first, Timestamp now)
    {
        long f = first.UnixNanoseconds, n = now.UnixNanoseconds;
        // Unsigned difference: capture times come from the file and may be anything, so no overflow.
        return n > f && unchecked((ulong)n - (ulong)f) > (ulong)_timeoutNanos;
    }

    /// <summary>
    /// A power of two, as <see cref="ArrayPool{T}.Shared"/> hands out, so the memory bound is checked against the
    /// real size. Once the last fragment is known no more than the datagram is asked for.
    /// </summary>
    private static int NextBufferSize(int current, int end, bool moreFragments)
    {
        int want = moreFragments ? Math.Max(Math.Max(end, current * 2), MinBufferSize) : Math.Max(end, 16);
        return Math.Min((int)BitOperations.RoundUpToPowerOf2((uint)want), MaxBufferSize);
    }

    private bool Grow(Entry entry, int size)
    {
        if (!MakeRoom(size - entry.Buffer.Length, newEntry: false, keep: entry))
        {
            Counters.DroppedMemoryBound++;
            Record(entry, IncompleteReason.Evicted);
            Remove(entry);
            return false;
        }
        byte[] bigger = _options.Pool.Rent(size);
        // Fragments are stored in place, so everything up to the highest end is copied (holes included).
        entry.Buffer.AsSpan(0, entry.MaxEnd).CopyTo(bigger);
        _bytesHeld += bigger.Length - entry.Buffer.Length;
        _options.Pool.Return(entry.Buffer);
        entry.Buffer = bigger;
        return true;
    }

    /// <summary>Evicts the oldest datagrams (other than <paramref name="keep"/>) until <paramref name="bytes"/> more fit.</summary>
    private bool MakeRoom(long bytes, bool newEntry, Entry? keep)
    {
        if (bytes > _options.MaxBytes || (newEntry && _options.MaxDatagrams < 1)) return false;
        while (_bytesHeld + bytes > _options.MaxBytes || (newEntry && _entries.Count >= _options.MaxDatagrams))
        {
            Entry? victim = _oldest;
            if (victim == keep) victim = victim?.Newer;
            if (victim is null) return false;
            Counters.DroppedMemoryBound++;
            Record(victim, IncompleteReason.Evicted);
            Remove(victim);
        }
        return true;
    }

    private Entry NewEntry(in FragmentKey key, Timestamp time, int bufferSize)
    {
        Entry e = _freeEntries.Count > 0 ? _freeEntries.Pop() : new Entry();
        e.Key = key;
        e.FirstSeen = e.LastSeen = time;
        e.Buffer = _options.Pool.Rent(bufferSize);
        _bytesHeld += e.Buffer.Length;
        e.Older = _newest;
        if (_newest is null) _oldest = e; else _newest.Newer = e;
        _newest = e;
        _entries.Add(key, e);
        return e;
    }

    /// <summary>Drops a datagram refused for its content (overlap, oversize, ...): counted by the caller, not recorded.</summary>
    private void Discard(Entry e) => Remove(e);

    private void Remove(Entry e)
    {
        bool removed = _entries.Remove(e.Key);
        Debug.Assert(removed);
        if (e.Older is null) _oldest = e.Newer; else e.Older.Newer = e.Newer;
        if (e.Newer is null) _newest = e.Older; else e.Newer.Older = e.Older;
        if (e.Buffer is not null)
        {
            _bytesHeld -= e.Buffer.Length;
            _options.Pool.Return(e.Buffer);
        }
        e.Reset();
        if (_freeEntries.Count < MaxPooledEntries) _freeEntries.Push(e);
    }

    private void Record(Entry e, IncompleteReason reason)
    {
        if (_incomplete.Count >= _options.MaxIncompleteRecords)
        {
            Counters.IncompleteRecordsNotStored++;
            return;
        }
        bool firstSeen = e.Count > 0 && e.Starts[0] == 0;
        int firstLength = firstSeen ? e.Ends[0] : 0;
        // Allocated once per recorded datagram (bounded by MaxIncompleteRecords), never per fragment.
        byte[] head = firstSeen && _options.IncompleteHeadBytes > 0 && e.Buffer is not null
            ? e.Buffer.AsSpan(0, Math.Min(firstLength, _options.IncompleteHeadBytes)).ToArray()
            : Array.Empty<byte>();
        _incomplete.Add(new IncompleteDatagram(e.Key, e.FirstSeen, e.LastSeen, e.Count, e.Covered,
            FirstFragmentSeen: firstSeen,
            LastFragmentSeen: e.Total >= 0,
            TotalPayloadLength: e.Total,
            e.SrcPort, e.DstPort,
            TimedOut: reason == IncompleteReason.TimedOut) { Reason = reason, FirstFragmentLength = firstLength, FirstFragmentHead = head });
    }

    private void ReleaseCompletedBuffer()
    {
        if (_completedBuffer is null) return;
        _options.Pool.Return(_completedBuffer);
        _completedBuffer = null;
    }

    [DoesNotReturn, StackTraceHidden]
    private static void ThrowNegativeOffset(int offset) =>
        throw new ArgumentOutOfRangeException(nameof(offset), offset, "Fragment offset must not be negative.");

    /// <summary>One datagram being reassembled. Reused through a free list.</summary>
    private sealed class Entry
    {
        public FragmentKey Key;
        public Timestamp FirstSeen, LastSeen;
        public byte[] Buffer = null!;
        // Stored fragments sorted by start; never overlapping (an overlap drops the datagram).
        public int[] Starts = new int[InitialFragmentSlots];
        public int[] Ends = new int[InitialFragmentSlots];
        public int Count;
        public int Covered;
        public int MaxEnd;
        public int Total = -1;
        public ushort SrcPort, DstPort;
        public Entry? Older, Newer;

        /// <summary>Index of the first fragment starting at or after <paramref name="offset"/>.</summary>
        public int LowerBound(int offset)
        {
            int lo = 0, hi = Count;
            // Fragments usually arrive in order: check the append case first.
            if (hi > 0 && Starts[hi - 1] < offset) return hi;
            while (lo < hi)
            {
                int mid = (lo + hi) >>> 1;
                if (Starts[mid] < offset) lo = mid + 1; else hi = mid;
            }
            return lo;
        }

        public void Insert(int index, int start, int end)
        {
            if (Count == Starts.Length)
            {
                // Grows by doubling, at most to MaxFragmentsPerDatagram (checked by the caller): per datagram
                // 8 bytes x that limit, outside MaxBytes but bounded by MaxDatagrams.
                Array.Resize(ref Starts, Count * 2);
                Array.Resize(ref Ends, Count * 2);
            }
            if (index < Count)
            {
                Array.Copy(Starts, index, Starts, index + 1, Count - index);
                Array.Copy(Ends, index, Ends, index + 1, Count - index);
            }
            Starts[index] = start;
            Ends[index] = end;
            Count++;
        }

        public void SetPorts(byte protocol, ReadOnlySpan<byte> first)
        {
            // Protocols with source and destination port in their first 4 bytes: TCP, UDP, DCCP, SCTP, UDP-Lite.
            if (first.Length < 4 || protocol is not (6 or 17 or 33 or 132 or 136)) return;
            SrcPort = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(first);
            DstPort = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(first.Slice(2));
        }

        public void Reset()
        {
            if (Starts.Length > InitialFragmentSlots)
            {
                // Only a datagram of tiny fragments grows these; do not keep that memory in the free list.
                Starts = new int[InitialFragmentSlots];
                Ends = new int[InitialFragmentSlots];
            }
            Key = default;
            Buffer = null!;
            Count = Covered = MaxEnd = 0;
            Total = -1;
            SrcPort = DstPort = 0;
            Older = Newer = null;
        }
    }
}
