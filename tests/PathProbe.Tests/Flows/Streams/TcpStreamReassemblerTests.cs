using System.Text;
using PathProbe.Decoding;
using PathProbe.Flows.Streams;
using PathProbe.Primitives;

namespace PathProbe.Tests.Flows.Streams;

/// <summary>Records what the reassembler delivers: data as text, gaps as "[gap N]", abandon as "[abandon]".</summary>
internal sealed class RecordingSink : ITcpStreamSink
{
    public readonly StringBuilder Text = new();
    public readonly List<Timestamp> Times = new();
    public string? Abandoned;
    public void OnData(ReadOnlySpan<byte> data, Timestamp time) { Text.Append(Encoding.Latin1.GetString(data)); Times.Add(time); }
    public void OnGap(int bytes, Timestamp time) => Text.Append($"[gap {bytes}]");
    public void OnAbandon(string reason) { Abandoned = reason; Text.Append("[abandon]"); }
    public override string ToString() => Text.ToString();
}

public sealed class TcpStreamReassemblerTests
{
    private const uint Isn = 1000;
    private static Timestamp T(int i) => new(1_700_000_000_000_000_000 + i * 1_000_000L);

    private static void Seg(TcpStreamReassembler r, RecordingSink s, uint seq, string data, int t = 0, TcpFlags flags = TcpFlags.Ack, int wire = -1)
    {
        var b = Encoding.Latin1.GetBytes(data);
        r.Segment(ref s, seq, b, wire < 0 ? b.Length : wire, T(t), flags);
    }

    private static (TcpStreamReassembler, RecordingSink) Started(uint isn = Isn)
    {
        var r = new TcpStreamReassembler();
        var s = new RecordingSink();
        r.Segment(ref s, isn, default, 0, T(0), TcpFlags.Syn);
        return (r, s);
    }

    [Fact]
    public void Segment_InOrder_DeliversEachSegment()
    {
        var (r, s) = Started();
        Seg(r, s, Isn + 1, "EHLO a\r\n");
        Seg(r, s, Isn + 9, "QUIT\r\n");
        Assert.Equal("EHLO a\r\nQUIT\r\n", s.ToString());
        Assert.Equal(14, r.DeliveredBytes);
        Assert.Equal(0, r.BufferedChunks);
    }

    [Fact]
    public void Segment_NoSynSeen_StartsAtFirstDataSegment()
    {
        var r = new TcpStreamReassembler();
        var s = new RecordingSink();
        Seg(r, s, 5000, "abc");
        Seg(r, s, 5003, "def");
        Assert.Equal("abcdef", s.ToString());
    }

    [Fact]
    public void Segment_OutOfOrder_BufferedUntilHoleFills()
    {
        var (r, s) = Started();
        Seg(r, s, Isn + 4, "def", 1);
        Seg(r, s, Isn + 7, "ghi", 2);
        Assert.Equal("", s.ToString());
        Assert.Equal(6, r.BufferedBytes);
        Seg(r, s, Isn + 1, "abc", 3);
        Assert.Equal("abcdefghi", s.ToString());
        Assert.Equal(0, r.BufferedBytes);
        Assert.Equal(2, r.OutOfOrderSegments);
        Assert.All(s.Times, t => Assert.Equal(T(3), t)); // readable when the hole filled
    }

    [Fact]
    public void Segment_RetransmittedDuplicate_DeliveredOnce()
    {
        var (r, s) = Started();
        Seg(r, s, Isn + 1, "abc");
        Seg(r, s, Isn + 1, "abc");
        Seg(r, s, Isn + 4, "def");
        Seg(r, s, Isn + 2, "bcdefg"); // overlaps delivered data, brings one new byte
        Assert.Equal("abcdefg", s.ToString());
        Assert.Equal(3 + 5, r.DuplicateBytes);
        Assert.Equal(0, r.ConflictingOverlaps);
    }

    [Fact]
    public void Segment_OverlapWithDifferentBytes_FirstCopyWinsAndConflictCounted()
    {
        var (r, s) = Started();
        Seg(r, s, Isn + 4, "DEF");       // buffered first
        Seg(r, s, Isn + 1, "abcdXFgh");  // fills the hole, overlaps DEF with dXF: 2 bytes differ
        Assert.Equal("abcDEFgh", s.ToString());
        Assert.Equal(1, r.ConflictingOverlaps);
        Assert.Equal(2, r.ConflictingBytes);
    }

    [Fact]
    public void Segment_OutOfOrderOverlappingBufferedChunks_NoDuplicateDelivery()
    {
        var (r, s) = Started();
        Seg(r, s, Isn + 5, "ef");
        Seg(r, s, Isn + 9, "ij");
        Seg(r, s, Isn + 4, "defghijk"); // spans both chunks and the space between
        Seg(r, s, Isn + 1, "abc");
        Assert.Equal("abcdefghijk", s.ToString());
        Assert.Equal(0, r.ConflictingOverlaps);
    }

    [Fact]
    public void PeerAck_PastHole_DeclaresGapAndResumes()
    {
        var (r, s) = Started();
        Seg(r, s, Isn + 1, "MAIL FROM:<a>\r\n");
        Seg(r, s, Isn + 16 + 10, "RCPT TO:<c>\r\n"); // 10 bytes never captured
        Assert.Equal("MAIL FROM:<a>\r\n", s.ToString());
        r.PeerAck(ref s, Isn + 16 + 10 + 13, T(5));
        Assert.Equal("MAIL FROM:<a>\r\n[gap 10]RCPT TO:<c>\r\n", s.ToString());
        Assert.Equal(1, r.Gaps);
        Assert.Equal(10, r.GapBytes);
    }

    [Fact]
    public void PeerAck_BeyondAllData_GapUpToAck()
    {
        var (r, s) = Started();
        Seg(r, s, Isn + 1, "abc");
        r.PeerAck(ref s, Isn + 1 + 3 + 100, T(1));
        Seg(r, s, Isn + 104, "xyz");
        Assert.Equal("abc[gap 100]xyz", s.ToString());
    }

    [Fact]
    public void PeerAck_OfFin_IsNotAGap()
    {
        var (r, s) = Started();
        Seg(r, s, Isn + 1, "abc", flags: TcpFlags.Ack | TcpFlags.Fin);
        r.PeerAck(ref s, Isn + 1 + 3 + 1, T(1));
        Assert.Equal("abc", s.ToString());
        Assert.Equal(0, r.Gaps);
    }

    [Fact]
    public void Flush_WithHoles_DeliversBufferedAfterGaps()
    {
        var (r, s) = Started();
        Seg(r, s, Isn + 1, "ab");
        Seg(r, s, Isn + 5, "ef");
        Seg(r, s, Isn + 9, "ij");
        r.Flush(ref s, T(9));
        Assert.Equal("ab[gap 2]ef[gap 2]ij", s.ToString());
        Assert.Equal(0, r.BufferedBytes);
    }

    [Theory]
    [InlineData(0xFFFF_FFF0u)]
    [InlineData(0xFFFF_FFFFu)] // SYN at the last number: data starts at 0
    [InlineData(0xFFFF_FFFEu)]
    public void Segment_SequenceWrapsAt2Pow32_InOrderAndOutOfOrder(uint isn)
    {
        var (r, s) = Started(isn);
        uint d = isn + 1;
        Seg(r, s, unchecked(d + 20), "UVWXYZ");        // after the wrap, out of order
        for (int i = 0; i < 20; i += 5)
            Seg(r, s, unchecked(d + (uint)i), "abcdefghijklmnopqrst".Substring(i, 5));
        Assert.Equal("abcdefghijklmnopqrstUVWXYZ", s.ToString());
        Assert.Equal(unchecked(d + 26), r.NextSeq);
    }

    [Fact]
    public void SeqNum_ComparesAcrossWrap()
    {
        Assert.True(SeqNum.Before(0xFFFF_FFF0u, 0x10u));
        Assert.True(SeqNum.After(0x10u, 0xFFFF_FFF0u));
        Assert.Equal(0x20, SeqNum.Diff(0x10u, 0xFFFF_FFF0u));
        Assert.Equal(0xFFFF_FFF0u, SeqNum.Min(0x10u, 0xFFFF_FFF0u));
    }

    [Fact]
    public void Segment_SnapLengthCut_TailDeliveredAsGap()
    {
        var (r, s) = Started();
        Seg(r, s, Isn + 1, "abcd", wire: 10);       // 6 bytes cut by the snap length
        Seg(r, s, Isn + 11, "klm");
        Assert.Equal("abcd[gap 6]klm", s.ToString());
        Assert.Equal(1, r.SnapCutSegments);
    }

    [Fact]
    public void Segment_SnapLengthCutOutOfOrder_HoleKeptInPlace()
    {
        var (r, s) = Started();
        Seg(r, s, Isn + 4, "de", wire: 5);          // "de" + 3 cut
        Seg(r, s, Isn + 9, "ij");
        Seg(r, s, Isn + 1, "abc");
        Assert.Equal("abcde[gap 3]ij", s.ToString());
    }

    [Fact]
    public void Segment_PerDirectionBoundHit_AbandonsAndCounts()
    {
        var r = new TcpStreamReassembler(maxBufferedBytes: 100);
        var s = new RecordingSink();
        r.Segment(ref s, Isn, default, 0, T(0), TcpFlags.Syn);
        for (int i = 0; i < 20; i++) Seg(r, s, (uint)(Isn + 100 + i * 10), new string('x', 10));
        Assert.True(r.Abandoned);
        Assert.Equal(1, r.BoundHits);
        Assert.NotNull(s.Abandoned);
        Assert.Equal(0, r.BufferedBytes);
        Seg(r, s, Isn + 1, "late");
        Assert.Equal("[abandon]", s.ToString()); // nothing after abandoning
    }

    [Fact]
    public void Segment_GlobalBudgetExhausted_AbandonsOnlyThatDirection()
    {
        var budget = new StreamBudget(50);
        var a = new TcpStreamReassembler(budget);
        var b = new TcpStreamReassembler(budget);
        var sa = new RecordingSink();
        var sb = new RecordingSink();
        a.Segment(ref sa, Isn, default, 0, T(0), TcpFlags.Syn);
        b.Segment(ref sb, Isn, default, 0, T(0), TcpFlags.Syn);
        Seg(a, sa, Isn + 10, new string('a', 40));
        Seg(b, sb, Isn + 10, new string('b', 40)); // does not fit
        Assert.False(a.Abandoned);
        Assert.True(b.Abandoned);
        Assert.Equal(40, budget.Used);
        Seg(a, sa, Isn + 1, "123456789");
        Assert.Equal(0, budget.Used);
        Assert.Equal("123456789" + new string('a', 40), sa.ToString());
    }

    [Fact]
    public void Segment_TooManyChunks_Abandons()
    {
        var r = new TcpStreamReassembler(maxBufferedChunks: 4);
        var s = new RecordingSink();
        r.Segment(ref s, Isn, default, 0, T(0), TcpFlags.Syn);
        for (int i = 0; i < 6; i++) Seg(r, s, (uint)(Isn + 10 + i * 2), "x");
        Assert.True(r.Abandoned);
        Assert.Equal(1, r.BoundHits);
    }

    [Fact]
    public void Segment_RandomOrderAndDuplicates_SameStreamAsInOrder()
    {
        var rnd = new Random(1234);
        byte[] data = new byte[5000];
        rnd.NextBytes(data);
        for (int round = 0; round < 50; round++)
        {
            uint isn = (uint)rnd.NextInt64(0, 1L << 32);
            var segs = new List<(uint seq, int off, int len)>();
            for (int off = 0; off < data.Length;)
            {
                int len = Math.Min(rnd.Next(1, 300), data.Length - off);
                segs.Add((unchecked(isn + 1 + (uint)off), off, len));
                off += len;
            }
            // Shuffle locally (reordering within a window) and add duplicates with random overlaps.
            var order = segs.Select((sg, i) => (sg, key: i + rnd.Next(0, 8))).OrderBy(x => x.key).Select(x => x.sg).ToList();
            for (int k = 0; k < 20; k++)
            {
                int off = rnd.Next(0, data.Length - 1);
                int len = Math.Min(rnd.Next(1, 500), data.Length - off);
                order.Insert(rnd.Next(order.Count), (unchecked(isn + 1 + (uint)off), off, len));
            }
            var r = new TcpStreamReassembler();
            var s = new CollectingSink();
            r.Segment(ref s, isn, default, 0, T(0), TcpFlags.Syn);
            foreach (var (seq, off, len) in order)
                r.Segment(ref s, seq, data.AsSpan(off, len), len, T(1), TcpFlags.Ack);
            Assert.Equal(data, s.Bytes.ToArray());
            Assert.Equal(0, r.ConflictingOverlaps);
            Assert.Equal(0, r.BufferedBytes);
        }
    }

    private sealed class CollectingSink : ITcpStreamSink
    {
        public readonly List<byte> Bytes = new();
        public void OnData(ReadOnlySpan<byte> data, Timestamp time) => Bytes.AddRange(data);
        public void OnGap(int bytes, Timestamp time) => throw new InvalidOperationException("unexpected gap");
        public void OnAbandon(string reason) => throw new InvalidOperationException(reason);
    }
}

[Collection(PathProbe.Tests.Support.AllocationCollection.Name)]
public sealed class TcpStreamReassemblerAllocationTests
{
    private struct CountingSink : ITcpStreamSink
    {
        public long Bytes;
        public void OnData(ReadOnlySpan<byte> data, Timestamp time) => Bytes += data.Length;
        public void OnGap(int bytes, Timestamp time) { }
        public void OnAbandon(string reason) { }
    }

    [Fact]
    public void Segment_InOrderSteadyState_AllocatesNothing()
    {
        var r = new TcpStreamReassembler(new StreamBudget());
        var sink = new CountingSink();
        byte[] payload = new byte[1448];
        uint seq = 0xFFFF_0000;
        r.Segment(ref sink, seq, default, 0, default, TcpFlags.Syn);
        seq++;
        void Run(int n)
        {
            for (int i = 0; i < n; i++)
            {
                r.Segment(ref sink, seq, payload, payload.Length, new Timestamp(i), TcpFlags.Ack | TcpFlags.Psh);
                r.Segment(ref sink, seq, payload, payload.Length, new Timestamp(i), TcpFlags.Ack); // retransmission
                r.PeerAck(ref sink, seq, new Timestamp(i));
                seq += (uint)payload.Length;
            }
        }
        Run(1000); // warm-up (tiering)
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run(10_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(11_000L * 1448, sink.Bytes);
    }
}
