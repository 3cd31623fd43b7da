using PathProbe.Primitives;

namespace PathProbe.Capture;

/// <summary>
/// One captured frame as handed out by a source. <see cref="Data"/> points into the source's
/// internal buffer and is valid only until the next read from the same source.
/// </summary>
public readonly ref struct RawFrame
{
    public readonly ReadOnlySpan<byte> Data;
    /// <summary>Length of the frame on the wire (pcap "len"); Data.Length is the captured length.</summary>
    public readonly int OriginalLength;
    public readonly Timestamp Time;
    /// <summary>LINKTYPE_* value (https://www.tcpdump.org/linktypes.html).</summary>
    public readonly int LinkType;
    /// <summary>Interface index within the file (pcapng IDB number, across sections); 0 for pcap.</summary>
    public readonly int InterfaceIndex;

    public RawFrame(ReadOnlySpan<byte> data, int originalLength, Timestamp time, int linkType, int interfaceIndex)
    {
        Data = data;
        OriginalLength = originalLength;
        Time = time;
        LinkType = linkType;
        InterfaceIndex = interfaceIndex;
    }

    public bool IsTruncated => Data.Length < OriginalLength;
}
