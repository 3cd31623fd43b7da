using PathProbe.Capture;
using PathProbe.Decoding.Reassembly;

namespace PathProbe.Decoding;

/// <summary>
/// Decodes link, IP and transport headers of one frame into a <see cref="DecodedPacket"/>. Reused for
/// every frame; never throws on packet data: problems are counted in <see cref="Counters"/>.
/// </summary>
public sealed class FrameDecoder
{
    public FrameDecoder(IpReassembler reassembler, DecodeCounters counters) => throw new NotImplementedException();

    public DecodeCounters Counters => throw new NotImplementedException();
    public IpReassembler Reassembler => throw new NotImplementedException();

    /// <summary>Decodes <paramref name="frame"/>. On <see cref="DecodeStatus.Malformed"/> the reason has been counted.</summary>
    public DecodeStatus Decode(in RawFrame frame, ref DecodedPacket packet) => throw new NotImplementedException();
}
