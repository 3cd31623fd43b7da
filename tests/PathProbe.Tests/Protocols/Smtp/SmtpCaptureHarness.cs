using PathProbe.Capture;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Flows.Streams;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;

namespace PathProbe.Tests.Protocols.Smtp;

/// <summary>Reads a capture, decodes frames and feeds every TCP connection with port 25 on one side through
/// <see cref="SmtpConnection"/> (reassembly + SMTP). Connections are listed in order of their first packet, which is
/// how tshark numbers tcp.stream (as long as no 4-tuple is reused).</summary>
internal static class SmtpCaptureHarness
{
    public static List<SmtpConnection> Read(string path, int port = 25)
    {
        var byKey = new Dictionary<(IpAddress, ushort, IpAddress, ushort), SmtpConnection>();
        var list = new List<SmtpConnection>();
        var decoder = new FrameDecoder(new IpReassembler(), new DecodeCounters());
        var budget = new StreamBudget();
        Timestamp last = default;
        using var source = CaptureFile.Open(path);
        var packet = new DecodedPacket();
        while (source.TryRead(out var frame))
        {
            packet = default;
            if (decoder.Decode(in frame, ref packet) != DecodeStatus.Ok || !packet.IsTcp) continue;
            last = packet.Time;
            bool fromClient = packet.DstPort == port;
            if (!fromClient && packet.SrcPort != port) continue;
            var key = fromClient ? (packet.Src, packet.SrcPort, packet.Dst, packet.DstPort) : (packet.Dst, packet.DstPort, packet.Src, packet.SrcPort);
            if (!byKey.TryGetValue(key, out var conn))
            {
                conn = new SmtpConnection(packet.Time, port == 465, budget);
                byKey[key] = conn;
                list.Add(conn);
            }
            conn.OnPacket(in packet, fromClient);
        }
        foreach (var c in list) c.Finish(last);
        return list;
    }
}
