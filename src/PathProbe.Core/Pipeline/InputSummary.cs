using PathProbe.Capture;
using PathProbe.Primitives;

namespace PathProbe.Pipeline;

/// <summary>What was read from one input and how reading ended.</summary>
public sealed class InputSummary
{
    public required string Path { get; init; }
    /// <summary>"pcap", "pcapng" or "live"; null when the input could not be opened.</summary>
    public string? Format { get; set; }
    public bool Compressed { get; set; }
    public CaptureInfo? Info { get; set; }
    public SortedSet<int> LinkTypes { get; } = new();
    public long Packets { get; set; }
    /// <summary>Frame bytes on the wire (sum of original lengths).</summary>
    public long Bytes { get; set; }
    /// <summary>Frame bytes actually captured.</summary>
    public long CapturedBytes { get; set; }
    public Timestamp? FirstTime { get; set; }
    public Timestamp? LastTime { get; set; }
    /// <summary>Reading stopped before a clean end (file cut or damaged).</summary>
    public bool Truncated { get; set; }
    /// <summary>Why reading stopped early or why the input could not be read at all; null on a clean end.</summary>
    public string? Error { get; set; }
    /// <summary>Byte offset (of the decompressed stream) where reading stopped early, -1 otherwise.</summary>
    public long StopOffset { get; set; } = -1;
    /// <summary>What the capture itself dropped (pcapng interface statistics, or pcap_stats when live); null when the
    /// input records nothing about it.</summary>
    public CaptureDrops? Drops { get; set; }
    /// <summary>The input could not be opened or is not a capture: nothing was analysed.</summary>
    public bool Unreadable { get; set; }
    /// <summary>The filter, time window and packet limit applied (analyze -c, --since, --until, FILTER); null when
    /// every frame was analysed. <see cref="Packets"/> and the byte counts are then those of the selected frames.</summary>
    public SelectionSummary? Selection { get; set; }
    /// <summary>The files read as this one input, in time order (--join, or a rotated set); null for one file.</summary>
    public IReadOnlyList<string>? JoinedFiles { get; set; }
    /// <summary>Why the files were joined: "join" (asked for) or "rotated-set" (detected); null for one file.</summary>
    public string? JoinReason { get; set; }
}
