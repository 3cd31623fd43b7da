using PathProbe.Primitives;

namespace PathProbe.Flows.Streams;

/// <summary>
/// Receives one direction of a TCP byte stream from <see cref="TcpStreamReassembler"/>. Implement it on a struct
/// (or a sealed class) and pass it by <c>ref</c>: the reassembler's methods are generic over the sink, so the calls
/// are direct, not through delegates.
/// </summary>
public interface ITcpStreamSink
{
    /// <summary>The next bytes of the stream, in order. The span is only valid during the call: it points into the
    /// captured frame (in-order data, not copied) or into the reassembler's buffer.</summary>
    /// <param name="time">Capture time of the segment that made these bytes available in order.</param>
    void OnData(ReadOnlySpan<byte> data, Timestamp time);

    /// <summary><paramref name="bytes"/> bytes of the stream will never be seen (capture loss, snap-length cut).
    /// The next <see cref="OnData"/> continues after them; a decoder should resynchronise.</summary>
    void OnGap(int bytes, Timestamp time);

    /// <summary>The direction is no longer reassembled (a memory bound was hit). No further calls follow.</summary>
    void OnAbandon(string reason);
}
