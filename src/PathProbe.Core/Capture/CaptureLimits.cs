using PathProbe.Primitives;

namespace PathProbe.Capture;

/// <summary>
/// How much file metadata a reader keeps. A pcapng file is mostly metadata when someone wants it to be: 4 M
/// interface description blocks gzip to 310 KB, 8,000 section headers with 64 KB comments to 641 KB. Packets are
/// always read; what is bounded is what is remembered about interfaces, sections and option texts. Each limit that
/// is hit is counted in <see cref="CaptureLimitCounters"/> and said in the report.
/// </summary>
public sealed class CaptureLimits
{
    /// <summary>Interface description blocks per pcapng section that are used. Later ones in the same section are
    /// counted (<see cref="CaptureLimitCounters.InterfacesIgnored"/>) and their packets skipped and counted
    /// (<see cref="CaptureLimitCounters.PacketsOnIgnoredInterfaces"/>). dumpcap writes one per captured interface.</summary>
    public int MaxInterfacesPerSection { get; init; } = 4_096;

    /// <summary>Interfaces described in <see cref="CaptureInfo.Interfaces"/> (across all sections): the report lists
    /// them. Packets on interfaces beyond it are still read.</summary>
    public int MaxInterfacesListed { get; init; } = 1_024;

    /// <summary>Sections whose metadata (interfaces, comments) is kept for the report; packets of later sections are
    /// read all the same.</summary>
    public int MaxSectionsDescribed { get; init; } = 1_024;

    /// <summary>Bytes of option text (comments, interface names and descriptions) kept for the whole file.</summary>
    public int MaxOptionTextBytes { get; init; } = 64 * 1024;

    /// <summary>Bytes kept of any one option text (a longer comment is cut, and the cut bytes counted).</summary>
    public int MaxOptionTextLength { get; init; } = 4 * 1024;

    /// <summary>Interface statistics blocks kept (each is one sample of an interface's counters); later ones still
    /// update each listed interface's latest counters.</summary>
    public int MaxStatisticsKept { get; init; } = 4_096;

    /// <summary>The largest |if_tsoffset| believed: 2^32 s (136 years). A larger offset is ignored and counted.</summary>
    public long MaxTimestampOffsetSeconds { get; init; } = 1L << 32;

    public static CaptureLimits Default { get; } = new();
}

/// <summary>How often each <see cref="CaptureLimits"/> bound was hit, and other metadata that was not believed.</summary>
public sealed class CaptureLimitCounters
{
    /// <summary>Interface description blocks beyond <see cref="CaptureLimits.MaxInterfacesPerSection"/> in their section.</summary>
    public long InterfacesIgnored { get; set; }
    /// <summary>Packets on those interfaces (skipped: their link type and time base are not kept).</summary>
    public long PacketsOnIgnoredInterfaces { get; set; }
    /// <summary>Interfaces read but not listed in <see cref="CaptureInfo.Interfaces"/>.</summary>
    public long InterfacesNotListed { get; set; }
    /// <summary>Sections beyond <see cref="CaptureLimits.MaxSectionsDescribed"/>.</summary>
    public long SectionsNotDescribed { get; set; }
    /// <summary>Bytes of comments, names and descriptions not kept (cut or beyond the total).</summary>
    public long OptionTextBytesNotKept { get; set; }
    /// <summary>Interface statistics blocks beyond <see cref="CaptureLimits.MaxStatisticsKept"/>.</summary>
    public long StatisticsNotKept { get; set; }
    /// <summary>Interfaces whose if_tsoffset was ignored (beyond <see cref="CaptureLimits.MaxTimestampOffsetSeconds"/>,
    /// or putting the interface's first packet before 1970 or after 2262).</summary>
    public long TimestampOffsetsIgnored { get; set; }
    /// <summary>The first ignored if_tsoffset, in seconds, for the report.</summary>
    public long? FirstIgnoredTimestampOffset { get; set; }

    /// <summary>Adds another file's counts (files read as one input).</summary>
    public void Add(CaptureLimitCounters other)
    {
        InterfacesIgnored += other.InterfacesIgnored;
        PacketsOnIgnoredInterfaces += other.PacketsOnIgnoredInterfaces;
        InterfacesNotListed += other.InterfacesNotListed;
        SectionsNotDescribed += other.SectionsNotDescribed;
        OptionTextBytesNotKept += other.OptionTextBytesNotKept;
        StatisticsNotKept += other.StatisticsNotKept;
        TimestampOffsetsIgnored += other.TimestampOffsetsIgnored;
        FirstIgnoredTimestampOffset ??= other.FirstIgnoredTimestampOffset;
    }

    public bool AnyHit => InterfacesIgnored > 0 || PacketsOnIgnoredInterfaces > 0 || InterfacesNotListed > 0 ||
                          SectionsNotDescribed > 0 || OptionTextBytesNotKept > 0 || StatisticsNotKept > 0 || TimestampOffsetsIgnored > 0;

    /// <summary>One phrase per bound hit, for the text report ("4,194,303 interface description blocks beyond 4,096
    /// per section ignored (their 0 packets skipped)").</summary>
    public IEnumerable<string> Describe(CaptureLimits limits)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (InterfacesIgnored > 0)
            yield return string.Format(inv, "{0:#,0} interface description blocks beyond {1:#,0} per section ignored ({2:#,0} packets on them skipped)",
                InterfacesIgnored, limits.MaxInterfacesPerSection, PacketsOnIgnoredInterfaces);
        else if (PacketsOnIgnoredInterfaces > 0)
            yield return string.Format(inv, "{0:#,0} packets on ignored interfaces skipped", PacketsOnIgnoredInterfaces);
        if (InterfacesNotListed > 0)
            yield return string.Format(inv, "{0:#,0} interfaces beyond {1:#,0} not listed", InterfacesNotListed, limits.MaxInterfacesListed);
        if (SectionsNotDescribed > 0)
            yield return string.Format(inv, "{0:#,0} sections beyond {1:#,0} read without keeping their interfaces and comments",
                SectionsNotDescribed, limits.MaxSectionsDescribed);
        if (OptionTextBytesNotKept > 0)
            yield return string.Format(inv, "{0:#,0} bytes of comments and interface names not kept (at most {1:#,0} bytes each, {2:#,0} in all)",
                OptionTextBytesNotKept, limits.MaxOptionTextLength, limits.MaxOptionTextBytes);
        if (StatisticsNotKept > 0)
            yield return string.Format(inv, "{0:#,0} interface statistics blocks beyond {1:#,0} not kept (the latest counters per interface are)",
                StatisticsNotKept, limits.MaxStatisticsKept);
        if (TimestampOffsetsIgnored > 0)
            yield return string.Format(inv, "if_tsoffset ignored on {0:#,0} interface{1} (first: {2:#,0} s), because it would put packets before 1970, after 2262, or is larger than {3:#,0} s; their times are as recorded",
                TimestampOffsetsIgnored, TimestampOffsetsIgnored == 1 ? "" : "s", FirstIgnoredTimestampOffset ?? 0, limits.MaxTimestampOffsetSeconds);
    }
}

/// <summary>One pcapng interface statistics block (§4.6), or one pcap_stats sample of a live capture. Counters are
/// cumulative from the start of the capture; null when the block did not carry that option.</summary>
public sealed record InterfaceStatistics
{
    /// <summary>Index of the interface in the file (as <see cref="RawFrame.InterfaceIndex"/>).</summary>
    public int InterfaceIndex { get; init; }
    /// <summary>When the counters were taken (the block's timestamp).</summary>
    public Timestamp Time { get; init; }
    /// <summary>isb_starttime: when counting started.</summary>
    public Timestamp? StartTime { get; init; }
    /// <summary>isb_endtime: when counting ended.</summary>
    public Timestamp? EndTime { get; init; }
    /// <summary>isb_ifrecv: packets received from the interface (libpcap ps_recv).</summary>
    public long? Received { get; init; }
    /// <summary>isb_ifdrop: packets the interface or its driver dropped (ps_ifdrop).</summary>
    public long? InterfaceDropped { get; init; }
    /// <summary>isb_osdrop: packets the operating system dropped because the capture buffer was full (ps_drop).</summary>
    public long? OsDropped { get; init; }
    /// <summary>isb_filteraccept: packets the filter accepted.</summary>
    public long? FilterAccepted { get; init; }
    /// <summary>isb_usrdeliv: packets delivered to the capturing program.</summary>
    public long? Delivered { get; init; }

    /// <summary>Packets lost by the capture (interface + OS drops), null when neither was recorded.</summary>
    public long? Dropped => InterfaceDropped is null && OsDropped is null ? null : SaturatingAdd(InterfaceDropped ?? 0, OsDropped ?? 0);

    /// <summary>a + b for non-negative counters, long.MaxValue instead of wrapping (a file may claim 2^64-1).</summary>
    public static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
}
