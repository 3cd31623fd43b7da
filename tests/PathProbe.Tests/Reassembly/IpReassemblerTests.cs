using PathProbe.Decoding.Reassembly;
using static PathProbe.Tests.Reassembly.R;

namespace PathProbe.Tests.Reassembly;

[Collection(PathProbe.Tests.Support.AllocationCollection.Name)]
public class IpReassemblerTests
{
    private static readonly byte[] P3000 = Payload(3000);

    [Fact]
    public void Add_InOrder_CompletesWithOriginalBytes()
    {
        var r = new IpReassembler();
        Assert.Equal(ReassemblyResult.Held, r.AddSlice(V4(), P3000, 0, 1480).Result);
        Assert.Equal(ReassemblyResult.Held, r.AddSlice(V4(), P3000, 1480, 1480).Result);
        var last = r.AddSlice(V4(), P3000, 2960, 40);
        Assert.Equal(ReassemblyResult.Completed, last.Result);
        Assert.Equal(P3000, last.Datagram);
        Assert.Equal(3, last.FragmentCount);
        Assert.Equal(1, r.Counters.Completed);
        Assert.Equal(3, r.Counters.Fragments);
        Assert.Equal(0, r.OpenDatagrams);
        Assert.Equal(0, r.BytesHeld);
    }

    [Fact]
    public void Add_ReverseOrder_Completes()
    {
        var r = new IpReassembler();
        Assert.Equal(ReassemblyResult.Held, r.AddSlice(V4(), P3000, 2960, 40).Result);
        Assert.Equal(ReassemblyResult.Held, r.AddSlice(V4(), P3000, 1480, 1480).Result);
        var first = r.AddSlice(V4(), P3000, 0, 1480);
        Assert.Equal(ReassemblyResult.Completed, first.Result);
        Assert.Equal(P3000, first.Datagram);
        Assert.Equal(3, first.FragmentCount);
    }

    [Fact]
    public void Add_Shuffled_Completes()
    {
        var payload = Payload(8 * 100 + 5);
        int[] order = [7, 2, 9, 0, 4, 1, 8, 3, 6, 5, 10, 11, 12];
        var r = new IpReassembler();
        Outcome o = default;
        for (int k = 0; k < order.Length; k++)
        {
            int off = order[k] * 64;
            int len = Math.Min(64, payload.Length - off);
            o = r.AddSlice(V4(), payload, off, len);
            Assert.Equal(k == order.Length - 1 ? ReassemblyResult.Completed : ReassemblyResult.Held, o.Result);
        }
        Assert.Equal(payload, o.Datagram);
        Assert.Equal(13, o.FragmentCount);
    }

    [Fact]
    public void Add_ExactDuplicate_CountedAndIgnored()
    {
        var r = new IpReassembler();
        r.AddSlice(V4(), P3000, 0, 1480);
        Assert.Equal(ReassemblyResult.Dropped, r.AddSlice(V4(), P3000, 0, 1480).Result);
        r.AddSlice(V4(), P3000, 2960, 40);
        Assert.Equal(ReassemblyResult.Dropped, r.AddSlice(V4(), P3000, 2960, 40).Result); // duplicate last
        var done = r.AddSlice(V4(), P3000, 1480, 1480);
        Assert.Equal(ReassemblyResult.Completed, done.Result);
        Assert.Equal(P3000, done.Datagram);
        Assert.Equal(3, done.FragmentCount);
        Assert.Equal(2, r.Counters.Duplicates);
        Assert.Equal(0, r.Counters.Overlaps);
    }

    [Fact]
    public void Add_SameRangeDifferentBytes_DropsDatagram()
    {
        var r = new IpReassembler();
        r.AddSlice(V4(), P3000, 0, 1480);
        var evil = (byte[])P3000.Clone();
        evil[100] ^= 0xFF;
        Assert.Equal(ReassemblyResult.Dropped, r.AddSlice(V4(), evil, 0, 1480).Result);
        Assert.Equal(1, r.Counters.Overlaps);
        Assert.Equal(0, r.OpenDatagrams);
        Assert.Equal(0, r.BytesHeld);
        // The rest arrives: a new entry starts, which never completes (the first fragment was consumed by the drop).
        Assert.Equal(ReassemblyResult.Held, r.AddSlice(V4(), P3000, 1480, 1480).Result);
        Assert.Equal(ReassemblyResult.Held, r.AddSlice(V4(), P3000, 2960, 40).Result);
        Assert.Equal(0, r.Counters.Completed);
        Assert.Empty(r.Incomplete); // refused datagrams are counted, not recorded as incomplete
    }

    [Theory]
    [InlineData(0, 1480, 1472, 16)]   // teardrop: second starts inside the first
    [InlineData(1480, 1480, 0, 1488)] // second covers the start of the first
    [InlineData(1480, 64, 1400, 200)] // second straddles the first
    [InlineData(1480, 64, 1480, 128)] // same start, longer
    [InlineData(1480, 128, 1480, 64)] // same start, shorter
    public void Add_OverlapWithIdenticalBytes_DropsDatagram(int off1, int len1, int off2, int len2)
    {
        // RFC 8200 4.5: only exact duplicates may be ignored; any other overlap discards the datagram,
        // even when the overlapping bytes agree.
        var r = new IpReassembler();
        r.AddSlice(V4(), P3000, off1, len1);
        Assert.Equal(ReassemblyResult.Dropped, r.AddSlice(V4(), P3000, off2, len2).Result);
        Assert.Equal(1, r.Counters.Overlaps);
        Assert.Equal(0, r.Counters.Duplicates);
        Assert.Equal(0, r.OpenDatagrams);
    }

    [Fact]
    public void Add_Ipv4EndPastMaximum_CountsOversizeAndDropsDatagram()
    {
        var r = new IpReassembler();
        r.Add(V4(), 0, true, new byte[1480]);
        // 65512 + 8 = 65520 > 65535 - 20 ("ping of death").
        Assert.Equal(ReassemblyResult.Dropped, r.Add(V4(), 65512, false, new byte[8]).Result);
        Assert.Equal(1, r.Counters.Oversize);
        Assert.Equal(0, r.OpenDatagrams);
        // Exactly at the limit is fine.
        Assert.Equal(ReassemblyResult.Held, r.Add(V4(), 65512, false, new byte[3]).Result);
    }

    [Fact]
    public void Add_Ipv6EndPastMaximum_CountsOversize()
    {
        var r = new IpReassembler();
        Assert.Equal(ReassemblyResult.Held, r.Add(V6(), 65528, false, new byte[7]).Result); // ends at 65535
        Assert.Equal(ReassemblyResult.Dropped, r.Add(V6(2), 65528, false, new byte[8]).Result);
        Assert.Equal(1, r.Counters.Oversize);
    }

    [Fact]
    public void Add_SecondLastFragmentWithDifferentEnd_DropsAsInconsistent()
    {
        var r = new IpReassembler();
        r.AddSlice(V4(), P3000, 2960, 40);
        Assert.Equal(ReassemblyResult.Dropped, r.Add(V4(), 2960, false, P3000.AsSpan(2960, 32)).Result);
        Assert.Equal(1, r.Counters.Inconsistent);
        Assert.Equal(0, r.OpenDatagrams);
    }

    [Fact]
    public void Add_DataPastKnownEnd_DropsAsInconsistent()
    {
        var r = new IpReassembler();
        r.Add(V4(), 1480, false, new byte[100]); // ends at 1580
        Assert.Equal(ReassemblyResult.Dropped, r.Add(V4(), 1576, true, new byte[8]).Result);
        Assert.Equal(1, r.Counters.Inconsistent);

        r.Add(V4(7), 1480, true, new byte[800]); // data up to 2280
        Assert.Equal(ReassemblyResult.Dropped, r.Add(V4(7), 2000, false, new byte[10]).Result); // last ends before data
        Assert.Equal(2, r.Counters.Inconsistent);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(1481)]
    public void Add_NonLastFragmentNotMultipleOf8_DroppedAlone(int length)
    {
        var r = new IpReassembler();
        r.AddSlice(V4(), P3000, 2960, 40);
        Assert.Equal(ReassemblyResult.Dropped, r.Add(V4(), 0, true, P3000.AsSpan(0, length)).Result);
        Assert.Equal(1, r.Counters.BadFragments);
        Assert.Equal(1, r.OpenDatagrams); // the datagram itself is kept
    }

    [Fact]
    public void Add_AtomicFragment_CompletesAloneWithoutTouchingOpenDatagram()
    {
        var r = new IpReassembler();
        r.Add(V6(), 1232, false, new byte[100]);
        var atomic = r.Add(V6(), 0, false, P3000.AsSpan(0, 50));
        Assert.Equal(ReassemblyResult.Completed, atomic.Result);
        Assert.Equal(P3000.AsSpan(0, 50).ToArray(), atomic.Datagram);
        Assert.Equal(1, atomic.FragmentCount);
        Assert.Equal(1, r.Counters.AtomicFragments);
        Assert.Equal(1, r.OpenDatagrams);
    }

    [Fact]
    public void Expire_AfterTimeout_RecordsTimedOut()
    {
        var r = new IpReassembler(new ReassemblyOptions { Timeout = TimeSpan.FromSeconds(30) });
        r.AddSlice(V4(), P3000, 0, 1480, T(100));
        r.AddSlice(V4(), P3000, 2960, 40, T(110));
        r.Expire(T(130)); // 30 s exactly: not older than the timeout yet
        Assert.Equal(1, r.OpenDatagrams);
        r.Expire(T(130.5));
        Assert.Equal(0, r.OpenDatagrams);
        Assert.Equal(1, r.Counters.TimedOut);
        Assert.Equal(1, r.Counters.Incomplete);
        var rec = Assert.Single(r.Incomplete);
        Assert.True(rec.TimedOut);
        Assert.Equal(IncompleteReason.TimedOut, rec.Reason);
        Assert.Equal(T(100), rec.FirstSeen);
        Assert.Equal(T(110), rec.LastSeen);
        Assert.Equal(2, rec.FragmentsReceived);
        Assert.Equal(1520, rec.BytesReceived);
        Assert.True(rec.FirstFragmentSeen);
        Assert.True(rec.LastFragmentSeen);
        Assert.Equal(3000, rec.TotalPayloadLength);
        Assert.Equal(0, r.BytesHeld);
    }

    [Fact]
    public void Add_AfterTimeout_ExpiresLazilyAndStartsNewDatagram()
    {
        var r = new IpReassembler(new ReassemblyOptions { Timeout = TimeSpan.FromSeconds(30) });
        r.AddSlice(V4(), P3000, 0, 1480, T(0));
        r.AddSlice(V4(), P3000, 1480, 1480, T(10));
        // The last fragment arrives too late: the old datagram timed out, this one starts afresh.
        Assert.Equal(ReassemblyResult.Held, r.AddSlice(V4(), P3000, 2960, 40, T(31)).Result);
        Assert.Equal(1, r.Counters.TimedOut);
        Assert.Equal(1, r.OpenDatagrams);
        Assert.Equal(2, Assert.Single(r.Incomplete).FragmentsReceived);
        // An unrelated key also triggers expiry.
        r.Add(V4(99), 0, true, new byte[8], T(62));
        Assert.Equal(2, r.Counters.TimedOut);
    }

    [Fact]
    public void Finish_RecordsOpenDatagramsWithFlagsAndPorts()
    {
        var r = new IpReassembler();
        var udpHeader = new byte[16];
        udpHeader[0] = 0x00; udpHeader[1] = 0x35; // 53
        udpHeader[2] = 0xC3; udpHeader[3] = 0x50; // 50000
        r.Add(V4(1, protocol: 17), 0, true, udpHeader, T(1));
        r.Add(V4(2, protocol: 6), 1480, false, new byte[20], T(2));
        var tcpHeader = new byte[24];
        tcpHeader[1] = 25; tcpHeader[2] = 0x12; tcpHeader[3] = 0x34;
        r.Add(V6(3, protocol: 6), 0, true, tcpHeader, T(3));
        r.Add(V4(4, protocol: 1), 0, true, udpHeader, T(4)); // ICMP: no ports
        r.Finish();

        Assert.Equal(4, r.Counters.OpenAtEnd);
        Assert.Equal(0, r.Counters.TimedOut);
        Assert.Equal(0, r.OpenDatagrams);
        Assert.Equal(4, r.Incomplete.Count);
        Assert.All(r.Incomplete, x => { Assert.False(x.TimedOut); Assert.Equal(IncompleteReason.OpenAtEnd, x.Reason); });

        var udp = r.Incomplete[0];
        Assert.True(udp.FirstFragmentSeen);
        Assert.False(udp.LastFragmentSeen);
        Assert.Equal(-1, udp.TotalPayloadLength);
        Assert.Equal((ushort)53, udp.SrcPort);
        Assert.Equal((ushort)50000, udp.DstPort);

        var tail = r.Incomplete[1];
        Assert.False(tail.FirstFragmentSeen);
        Assert.True(tail.LastFragmentSeen);
        Assert.Equal(1500, tail.TotalPayloadLength);
        Assert.Equal((ushort)0, tail.SrcPort);

        var v6 = r.Incomplete[2];
        Assert.Equal(V6(3, 6), v6.Key);
        Assert.Equal((ushort)25, v6.SrcPort);
        Assert.Equal((ushort)0x1234, v6.DstPort);

        Assert.Equal((ushort)0, r.Incomplete[3].SrcPort);
    }

    [Fact]
    public void Add_OverMaxBytes_EvictsOldest()
    {
        // Each open datagram holds one 2 KiB buffer; room for three.
        var r = new IpReassembler(new ReassemblyOptions { MaxBytes = 3 * 2048 });
        for (uint id = 1; id <= 3; id++) r.Add(V4(id), 0, true, new byte[1480], T(id));
        Assert.Equal(3 * 2048, r.BytesHeld);
        r.Add(V4(4), 0, true, new byte[1480], T(4));
        Assert.Equal(3, r.OpenDatagrams);
        Assert.Equal(1, r.Counters.DroppedMemoryBound);
        var evicted = Assert.Single(r.Incomplete);
        Assert.Equal(V4(1), evicted.Key);
        Assert.Equal(IncompleteReason.Evicted, evicted.Reason);
        Assert.False(evicted.TimedOut);

        // Growing datagram 2 to 4 KiB evicts the oldest other one (3), never itself.
        r.Add(V4(2), 1480, true, new byte[1480], T(5));
        Assert.Equal(2, r.Counters.DroppedMemoryBound);
        Assert.Equal(V4(3), r.Incomplete[1].Key);
        Assert.True(r.BytesHeld <= 3 * 2048);
        var done = r.Add(V4(2), 2960, false, new byte[40], T(6));
        Assert.Equal(ReassemblyResult.Completed, done.Result);
        Assert.Equal(3000, done.Datagram!.Length);
    }

    [Fact]
    public void Add_OverMaxDatagrams_EvictsOldest()
    {
        var r = new IpReassembler(new ReassemblyOptions { MaxDatagrams = 2 });
        for (uint id = 1; id <= 5; id++) r.Add(V4(id), 0, true, new byte[8], T(id));
        Assert.Equal(2, r.OpenDatagrams);
        Assert.Equal(3, r.Counters.DroppedMemoryBound);
        Assert.Equal([V4(1), V4(2), V4(3)], r.Incomplete.Select(x => x.Key));
    }

    [Fact]
    public void Add_FragmentLargerThanMaxBytes_Dropped()
    {
        var r = new IpReassembler(new ReassemblyOptions { MaxBytes = 1024 });
        Assert.Equal(ReassemblyResult.Dropped, r.Add(V4(), 0, true, new byte[1480]).Result);
        Assert.Equal(1, r.Counters.DroppedMemoryBound);
        Assert.Equal(0, r.OpenDatagrams);
    }

    [Fact]
    public void Add_ManyInterleavedDatagrams_AllComplete()
    {
        const int n = 500;
        var r = new IpReassembler();
        var payloads = Enumerable.Range(0, n).Select(i => Payload(2049 + i, seed: i)).ToArray();
        int completed = 0;
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < n; i++)
            {
                // Fragments 1024 bytes each; round 0 sends the middle, 1 the last, 2 the first.
                int index = round switch { 0 => 1, 1 => 2, _ => 0 };
                int off = index * 1024;
                int len = Math.Min(1024, payloads[i].Length - off);
                var o = r.AddSlice(V4((uint)i), payloads[i], off, len);
                if (o.Result == ReassemblyResult.Completed)
                {
                    Assert.Equal(payloads[i], o.Datagram);
                    completed++;
                }
            }
        }
        Assert.Equal(n, completed);
        Assert.Equal(0, r.OpenDatagrams);
        Assert.Equal(0, r.BytesHeld);
    }

    [Fact]
    public void Add_MoreThanMaxFragments_DropsDatagram()
    {
        var r = new IpReassembler(new ReassemblyOptions { MaxFragmentsPerDatagram = 16 });
        // Tiny 8-byte fragments, every other one, backwards (worst case for inserts).
        for (int i = 15; i >= 0; i--)
            Assert.Equal(ReassemblyResult.Held, r.Add(V4(), i * 16, true, new byte[8]).Result);
        Assert.Equal(ReassemblyResult.Dropped, r.Add(V4(), 8, true, new byte[8]).Result);
        Assert.Equal(1, r.Counters.TooManyFragments);
        Assert.Equal(0, r.OpenDatagrams);
    }

    [Fact]
    public void Add_TinyFragmentFlood_BoundedByDefaultLimit()
    {
        var r = new IpReassembler();
        int dropped = 0;
        for (int off = 0; off < 65000; off += 8)
            if (r.Add(V6(), off, true, new byte[8]).Result == ReassemblyResult.Dropped) dropped++;
        // Every 257th fragment drops the datagram; the next one opens a fresh entry (the id is the same).
        Assert.Equal(65000 / 8 / 257, r.Counters.TooManyFragments);
        Assert.Equal(r.Counters.TooManyFragments, dropped);
        Assert.Equal(1, r.OpenDatagrams);
        Assert.True(r.BytesHeld <= 65536);
    }

    [Fact]
    public void Add_Ipv6IdsDifferingInHighBits_AreDifferentDatagrams()
    {
        var r = new IpReassembler();
        var a = Payload(100, 1);
        var b = Payload(100, 2);
        r.AddSlice(V6(0x0001_0005), a, 0, 64);
        r.AddSlice(V6(0x0000_0005), b, 0, 64);
        Assert.Equal(2, r.OpenDatagrams);
        var ob = r.AddSlice(V6(0x0000_0005), b, 64, 36);
        var oa = r.AddSlice(V6(0x0001_0005), a, 64, 36);
        Assert.Equal(b, ob.Datagram);
        Assert.Equal(a, oa.Datagram);
    }

    [Fact]
    public void Add_SameIdDifferentProtocolOrAddresses_AreDifferentDatagrams()
    {
        var r = new IpReassembler();
        var keys = new[]
        {
            V4(),
            V4() with { Protocol = 6 },
            V4() with { Src = V4B, Dst = V4A },
            V4() with { Dst = R.V6B },
            V4() with { IpVersion = 6 },
        };
        for (int k = 0; k < keys.Length; k++)
            Assert.Equal(ReassemblyResult.Held, r.AddSlice(keys[k], Payload(100, k), 0, 64).Result);
        Assert.Equal(keys.Length, r.OpenDatagrams);
        Assert.Equal(0, r.Counters.Overlaps + r.Counters.Duplicates);
        for (int k = 0; k < keys.Length; k++)
            Assert.Equal(Payload(100, k), r.AddSlice(keys[k], Payload(100, k), 64, 36).Datagram);
    }

    [Fact]
    public void Incomplete_BoundedByMaxRecords_RestCounted()
    {
        var r = new IpReassembler(new ReassemblyOptions { MaxIncompleteRecords = 3 });
        for (uint id = 0; id < 10; id++) r.Add(V4(id), 0, true, new byte[8]);
        r.Finish();
        Assert.Equal(3, r.Incomplete.Count);
        Assert.Equal(10, r.Counters.OpenAtEnd);
        Assert.Equal(7, r.Counters.IncompleteRecordsNotStored);
    }

    [Fact]
    public void Add_NegativeOffset_Throws()
    {
        var r = new IpReassembler();
        Assert.Throws<ArgumentOutOfRangeException>(() => r.Add(V4(), -8, true, new byte[8]));
    }

    [Fact]
    public void FragmentKey_HashIsNotLinearInId()
    {
        // Keys differing only in Id must spread: no two of 4096 sequential ids share a hash, and consecutive ids do not
        // differ by one constant step (a linear hash, like the compiler-generated record hash, would: sequential ids
        // would then fill neighbouring buckets, which an attacker choosing ids can exploit).
        var hashes = new HashSet<int>();
        for (uint id = 0; id < 4096; id++) hashes.Add(V6(id).GetHashCode());
        Assert.Equal(4096, hashes.Count);
        var steps = Enumerable.Range(0, 4095).Select(i => unchecked(V6((uint)i + 1).GetHashCode() - V6((uint)i).GetHashCode())).Distinct().Count();
        Assert.True(steps > 1, "the hash of a fragment key is linear in its id");
        Assert.Equal(V6(5).GetHashCode(), V6(5).GetHashCode());
    }

    [Fact]
    public void Add_SteadyState_DoesNotAllocate()
    {
        var r = new IpReassembler();
        var payload = Payload(3000);
        void Round(int n)
        {
            for (uint id = 0; id < n; id++)
            {
                var key = V4(id);
                r.Add(key, 1480, true, payload.AsSpan(1480, 1480), T(0), out _, out _);
                r.Add(key, 0, true, payload.AsSpan(0, 1480), T(0), out _, out _);
                r.Add(key, 2960, false, payload.AsSpan(2960, 40), T(0), out _, out _);
            }
        }
        Round(200); // warm up: entries, dictionary buckets, pool
        long before = GC.GetAllocatedBytesForCurrentThread();
        Round(200);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(400, r.Counters.Completed);
    }

    [Fact]
    public void Add_SameRangeNowClaimingToBeLast_DropsAsInconsistent()
    {
        var r = new IpReassembler();
        r.Add(V4(), 1480, true, P3000.AsSpan(1480, 1480));
        Assert.Equal(ReassemblyResult.Dropped, r.Add(V4(), 1480, false, P3000.AsSpan(1480, 1480)).Result);
        Assert.Equal(1, r.Counters.Inconsistent);
        Assert.Equal(0, r.OpenDatagrams);
    }

    [Fact]
    public void Add_LastFragmentResentWithMoreFlag_TreatedAsDuplicate()
    {
        var r = new IpReassembler();
        r.AddSlice(V4(), P3000, 2960, 40);
        Assert.Equal(ReassemblyResult.Dropped, r.Add(V4(), 2960, true, P3000.AsSpan(2960, 40)).Result);
        Assert.Equal(1, r.Counters.Duplicates);
        r.AddSlice(V4(), P3000, 0, 1480);
        Assert.Equal(P3000, r.AddSlice(V4(), P3000, 1480, 1480).Datagram);
    }

    [Fact]
    public void Add_DatagramOutgrowingMaxBytesAlone_DroppedAndRecordedAsEvicted()
    {
        var r = new IpReassembler(new ReassemblyOptions { MaxBytes = 2048 });
        Assert.Equal(ReassemblyResult.Held, r.Add(V4(), 0, true, new byte[1480]).Result);
        Assert.Equal(ReassemblyResult.Dropped, r.Add(V4(), 1480, true, new byte[1480]).Result);
        Assert.Equal(1, r.Counters.DroppedMemoryBound);
        Assert.Equal(0, r.BytesHeld);
        var rec = Assert.Single(r.Incomplete);
        Assert.Equal(IncompleteReason.Evicted, rec.Reason);
        Assert.Equal(1, rec.FragmentsReceived);
    }

    [Fact]
    public void Expire_CaptureTimeGoingBackwards_KeepsDatagram()
    {
        var r = new IpReassembler();
        r.Add(V4(), 0, true, new byte[8], T(1000));
        r.Add(V4(2), 0, true, new byte[8], T(10)); // older timestamp, created later
        r.Expire(T(500));
        Assert.Equal(2, r.OpenDatagrams);
        r.Expire(new PathProbe.Primitives.Timestamp(long.MaxValue));
        Assert.Equal(2, r.Counters.TimedOut);
        r.Add(V4(3), 0, true, new byte[8], new PathProbe.Primitives.Timestamp(long.MinValue));
        r.Expire(new PathProbe.Primitives.Timestamp(long.MaxValue)); // no overflow on extreme times
        Assert.Equal(3, r.Counters.TimedOut);
    }
}
