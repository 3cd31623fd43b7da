using System.Runtime.CompilerServices;

namespace PathProbe.Flows.Tcp;

[InlineArray(RetransmissionSeries.MaxTimes)]
public struct SeriesTimes
{
    private long _t0;
}

/// <summary>
/// The same data sent again and again: the original send time and each resend (RTO back-off shows as intervals
/// that double). Fixed size, no allocation; resends beyond <see cref="MaxTimes"/> - 1 are counted only.
/// </summary>
public struct RetransmissionSeries
{
    public const int MaxTimes = 16;
    public uint Seq;
    /// <summary>Size of the IP packet that kept being resent (largest seen in the series).</summary>
    public int IpPacketSize;
    /// <summary>Resends (the original send is not counted).</summary>
    public int Resends;
    public int Stored;
    public SeriesTimes Times;
    /// <summary>Sends of the series (original included) that were segmentation-offload super-frames (longer than the
    /// receiver's MSS: TSO/GSO on the capture host), the largest of them, and the sends and largest size of the others
    /// (what crossed the wire as one packet). A super-frame never stands for a packet size on the wire.</summary>
    public int SuperFrameSends, SuperFrameSize, WireSends, WireSize;
    /// <summary>The IP size to report for the series: the largest wire-sized send, else (only super-frames were sent)
    /// the last send's size.</summary>
    public readonly int ReportedIpPacketSize => WireSends > 0 ? WireSize : IpPacketSize;
    /// <summary>The data was acknowledged in the end.</summary>
    public bool Acknowledged;
    public long AcknowledgedAt;

    public readonly bool IsEmpty => Stored == 0;
    public readonly long First => Times[0];
    public readonly long Last => Times[Math.Min(Stored, MaxTimes) - 1];

    public void Start(uint seq, long originalSend, long resend, int ipSize)
    {
        this = default;
        Seq = seq;
        IpPacketSize = ipSize;
        Times[0] = originalSend;
        Times[1] = resend;
        Stored = 2;
        Resends = 1;
    }

    /// <summary>A series whose segment was already sent <paramref name="sends"/> times (the original included) at
    /// <paramref name="times"/>: every earlier resend counts, so a series that restarts on a segment resent before
    /// (another segment was resent in between) reads the same resends as the path-MTU evidence.</summary>
    public void Start(uint seq, ReadOnlySpan<long> times, int sends, int ipSize)
    {
        this = default;
        Seq = seq;
        IpPacketSize = ipSize;
        Stored = Math.Min(times.Length, MaxTimes);
        for (int i = 0; i < Stored; i++) Times[i] = times[i];
        Resends = sends - 1;
    }

    /// <summary>Counts one send at <paramref name="ipSize"/> as a super-frame or a wire-sized packet.</summary>
    public void Note(int ipSize, bool superFrame, int sends = 1)
    {
        if (superFrame) { SuperFrameSends += sends; if (ipSize > SuperFrameSize) SuperFrameSize = ipSize; }
        else { WireSends += sends; if (ipSize > WireSize) WireSize = ipSize; }
    }

    public void Add(long resend, int ipSize, bool superFrame = false)
    {
        Resends++;
        Note(ipSize, superFrame);
        if (ipSize > IpPacketSize) IpPacketSize = ipSize;
        if (Stored < MaxTimes) Times[Stored++] = resend;
    }

    /// <summary>Intervals between consecutive sends, in nanoseconds.</summary>
    public readonly long[] IntervalsNanos()
    {
        int n = Math.Min(Stored, MaxTimes);
        var r = new long[Math.Max(0, n - 1)];
        for (int i = 1; i < n; i++) r[i - 1] = Times[i] - Times[i - 1];
        return r;
    }

    /// <summary>Intervals between consecutive sends, in seconds.</summary>
    public readonly double[] IntervalsSeconds()
    {
        int n = Math.Min(Stored, MaxTimes);
        var r = new double[Math.Max(0, n - 1)];
        for (int i = 1; i < n; i++) r[i - 1] = (Times[i] - Times[i - 1]) / 1e9;
        return r;
    }

    /// <summary>RTO back-off: at least two resends and each interval at least 1.5 times the previous one (Linux
    /// doubles; other stacks and timer granularity make it less exact).</summary>
    public readonly bool LooksLikeBackoff
    {
        get
        {
            int n = Math.Min(Stored, MaxTimes);
            if (Resends < 2 || n < 3) return false;
            for (int i = 2; i < n; i++)
                if ((Times[i] - Times[i - 1]) < 1.5 * (Times[i - 1] - Times[i - 2])) return false;
            return true;
        }
    }
}
