using PathProbe.Capture;
using PathProbe.Primitives;

namespace PathProbe.Pipeline;

/// <summary>What an input summary counts per frame (packets, wire and captured bytes, first and last time), shared
/// by the file and live-capture loops. A struct updated in place: nothing allocated per frame.</summary>
public struct FrameTally
{
    public long Packets;
    public long Bytes;
    public long CapturedBytes;
    private long _first, _last;

    public void Add(in RawFrame frame)
    {
        long t = frame.Time.UnixNanoseconds;
        if (Packets == 0) _first = t;
        _last = t;
        Packets++;
        Bytes += frame.OriginalLength;
        CapturedBytes += frame.Data.Length;
    }

    /// <summary>Copies the counts into <paramref name="input"/>.</summary>
    public readonly void WriteTo(InputSummary input)
    {
        input.Packets = Packets;
        input.Bytes = Bytes;
        input.CapturedBytes = CapturedBytes;
        if (Packets > 0)
        {
            input.FirstTime = new Timestamp(_first);
            input.LastTime = new Timestamp(_last);
        }
    }
}
