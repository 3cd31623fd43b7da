namespace PathProbe.Capture;

/// <summary>
/// A stream of frames: a capture file or a live interface. Single-threaded; each successful
/// <see cref="TryRead"/> invalidates the span returned by the previous one.
/// </summary>
public interface IPacketSource : IDisposable
{
    /// <summary>Reads the next frame. Returns false at the end of input or when the input is damaged;
    /// <see cref="End"/> then says which.</summary>
    bool TryRead(out RawFrame frame);

    /// <summary>What the source is (format, link types, interface names, comments) and how reading ended.</summary>
    CaptureInfo Info { get; }

    /// <summary>How reading stopped; <see cref="SourceEndKind.None"/> while still reading.</summary>
    SourceEnd End { get; }
}

/// <summary>
/// A file source that can say where each frame's bytes lie, so a reader can come back for one frame later without
/// keeping it (the TUI's packet view). The offset is in the decompressed capture stream (the file itself when it is
/// not compressed).
/// </summary>
public interface IFrameLocator
{
    /// <summary>Stream offset of the first byte of <see cref="RawFrame.Data"/> of the frame the last successful
    /// <c>TryRead</c> returned.</summary>
    long FrameDataOffset { get; }
}

public enum SourceEndKind
{
    None = 0,
    /// <summary>Clean end of input.</summary>
    EndOfInput,
    /// <summary>The input stops in the middle of a header or a frame (a cut file).</summary>
    Truncated,
    /// <summary>A structure is invalid (bad block length, bad magic, impossible length).</summary>
    Corrupt,
    /// <summary>Reading failed (I/O error, gzip stream damaged, capture device gone).</summary>
    Error,
}

/// <summary>How and where a source stopped. Offset is in bytes of the (decompressed) capture stream.</summary>
public readonly record struct SourceEnd(SourceEndKind Kind, long Offset, string? Reason)
{
    public bool IsClean => Kind == SourceEndKind.EndOfInput;
}

/// <summary>Static description of a source, filled in as it is read.</summary>
public sealed class CaptureInfo
{
    public required string Path { get; init; }
    /// <summary>"pcap", "pcapng" or "live".</summary>
    public required string Format { get; init; }
    public bool Compressed { get; init; }
    /// <summary>pcap: the file header's snaplen; pcapng: the first interface's snaplen (0 = unlimited).</summary>
    public long SnapLength { get; set; }
    /// <summary>pcap: "microseconds" or "nanoseconds"; pcapng: per interface.</summary>
    public string? TimestampResolution { get; set; }
    public bool BigEndian { get; set; }
    public List<CaptureInterface> Interfaces { get; } = new();
    /// <summary>Section and interface comments (opt_comment), already free of control characters.</summary>
    public List<string> Comments { get; } = new();
    /// <summary>Number of pcapng sections seen (1 for pcap).</summary>
    public int Sections { get; set; }
    /// <summary>pcapng blocks of unknown or unused types that were skipped.</summary>
    public long SkippedBlocks { get; set; }
    /// <summary>The bounds the reader keeps metadata within.</summary>
    public CaptureLimits Limits { get; init; } = CaptureLimits.Default;
    /// <summary>Which of <see cref="Limits"/> were hit, and how often.</summary>
    public CaptureLimitCounters LimitsHit { get; } = new();
    /// <summary>pcapng interface statistics blocks in file order (at most <see cref="CaptureLimits.MaxStatisticsKept"/>);
    /// for a live capture, the pcap_stats samples taken while capturing.</summary>
    public List<InterfaceStatistics> Statistics { get; } = new();
}

public sealed class CaptureInterface
{
    public int LinkType { get; init; }
    public long SnapLength { get; init; }
    public string? Name { get; init; }
    public string? Description { get; init; }
    /// <summary>Ticks per second of this interface's timestamps (pcapng if_tsresol; 10^6 by default).</summary>
    public long TicksPerSecond { get; init; } = 1_000_000;
    /// <summary>pcapng if_tsoffset: seconds added to every timestamp of this interface (already applied to frames).</summary>
    public long TimestampOffsetSeconds { get; init; }
    /// <summary>The file's if_tsoffset for this interface was ignored (see <see cref="CaptureLimitCounters.TimestampOffsetsIgnored"/>).</summary>
    public bool TimestampOffsetIgnored { get; set; }
    /// <summary>0-based pcapng section that described this interface (0 for pcap).</summary>
    public int Section { get; init; }
    /// <summary>Index of this interface in the file (as <see cref="RawFrame.InterfaceIndex"/>).</summary>
    public int Index { get; init; }
    /// <summary>The last interface statistics block (pcapng ISB) or pcap_stats sample for this interface, null when
    /// none was recorded. Its counters are cumulative, so this is the interface's total.</summary>
    public InterfaceStatistics? Statistics { get; set; }
}

/// <summary>The input is not a capture PathProbe can read, or cannot be opened. The message is for the user.</summary>
public sealed class CaptureFormatException(string message, Exception? inner = null) : Exception(message, inner);
