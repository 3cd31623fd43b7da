using PathProbe.Capture;
using PathProbe.Primitives;

namespace PathProbe.Pipeline;

/// <summary>A span of capture time in which the capture itself lost <see cref="Dropped"/> packets: between two
/// statistics samples whose drop counters differ. Findings resting on packets missing inside such a window may be
/// artefacts of the capture rather than loss on the path.</summary>
public readonly record struct DropWindow(Timestamp From, Timestamp To, long Dropped);

/// <summary>
/// What the capture itself lost, from the interface statistics recorded with the packets: pcapng interface statistics
/// blocks (dumpcap and <c>pathprobe capture -w</c> write them at the end and at each file rotation) or, live, libpcap's
/// pcap_stats sampled while capturing. Counters are cumulative per interface, so the totals are each interface's last
/// sample; a window is the time between two samples across which the drop counters rose. Null in
/// <see cref="InputSummary.Drops"/> when the input carries no statistics (pcap files, pcapng without ISBs): then
/// nothing is known about capture drops, which is not the same as none.
/// </summary>
public sealed class CaptureDrops
{
    /// <summary>Windows kept; later ones are merged into the last (its end moves, its count grows).</summary>
    public const int MaxWindows = 1_024;

    /// <summary>"pcapng interface statistics" or "pcap_stats".</summary>
    public required string Source { get; init; }
    /// <summary>Packets the interfaces received (isb_ifrecv / ps_recv), summed over interfaces that report it.</summary>
    public long Received { get; set; }
    /// <summary>Dropped by the interface or its driver (isb_ifdrop / ps_ifdrop).</summary>
    public long InterfaceDropped { get; set; }
    /// <summary>Dropped by the operating system, capture buffer full (isb_osdrop / ps_drop).</summary>
    public long OsDropped { get; set; }
    public long Dropped => InterfaceStatistics.SaturatingAdd(InterfaceDropped, OsDropped);
    /// <summary>Statistics samples the facts come from.</summary>
    public int Samples { get; set; }
    /// <summary>When drops happened, in time order per interface (at most <see cref="MaxWindows"/>).</summary>
    public List<DropWindow> Windows { get; } = new();

    /// <summary>True when <paramref name="time"/> lies within <paramref name="slackNanos"/> of a drop window: a packet
    /// missing then may have been lost by the capture, not by the path.</summary>
    public bool Near(Timestamp time, long slackNanos)
    {
        long t = time.UnixNanoseconds;
        foreach (var w in Windows)
            if (t >= SaturatingAdd(w.From.UnixNanoseconds, -slackNanos) && t <= SaturatingAdd(w.To.UnixNanoseconds, slackNanos))
                return true;
        return false;
    }

    /// <summary>Adds a window (merging into the last one once <see cref="MaxWindows"/> are kept).</summary>
    public void AddWindow(Timestamp from, Timestamp to, long dropped)
    {
        if (dropped <= 0) return;
        if (to < from) (from, to) = (to, from);
        if (Windows.Count < MaxWindows) { Windows.Add(new DropWindow(from, to, dropped)); return; }
        var last = Windows[^1];
        Windows[^1] = new DropWindow(last.From < from ? last.From : from, last.To > to ? last.To : to, InterfaceStatistics.SaturatingAdd(last.Dropped, dropped));
    }

    /// <summary>The drop facts of a file's interface statistics blocks, null when it has none.
    /// <paramref name="firstPacket"/> starts the window of a first sample that carries no isb_starttime.</summary>
    public static CaptureDrops? FromStatistics(CaptureInfo info, Timestamp? firstPacket)
    {
        if (info.Statistics.Count == 0 && !info.Interfaces.Any(i => i.Statistics is not null)) return null;
        var drops = new CaptureDrops { Source = "pcapng interface statistics", Samples = info.Statistics.Count };
        var last = new Dictionary<int, InterfaceStatistics>();
        foreach (var s in info.Statistics)
        {
            last.TryGetValue(s.InterfaceIndex, out var previous);
            long before = previous?.Dropped ?? 0;
            if (s.Dropped is long now && now > before)
            {
                Timestamp from = previous?.Time ?? s.StartTime ?? firstPacket ?? s.Time;
                drops.AddWindow(from, s.EndTime ?? s.Time, now - before);
            }
            last[s.InterfaceIndex] = s;
        }
        // Listed interfaces carry their latest sample even past MaxStatisticsKept.
        foreach (var itf in info.Interfaces)
            if (itf.Statistics is { } s) last[itf.Index] = s;
        foreach (var s in last.Values)
        {
            drops.Received = InterfaceStatistics.SaturatingAdd(drops.Received, s.Received ?? 0);
            drops.InterfaceDropped = InterfaceStatistics.SaturatingAdd(drops.InterfaceDropped, s.InterfaceDropped ?? 0);
            drops.OsDropped = InterfaceStatistics.SaturatingAdd(drops.OsDropped, s.OsDropped ?? 0);
        }
        return drops;
    }

    private static long SaturatingAdd(long a, long b)
    {
        long r = unchecked(a + b);
        if (((a ^ r) & (b ^ r)) < 0) return a < 0 ? long.MinValue : long.MaxValue;
        return r;
    }
}
