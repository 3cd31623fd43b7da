using System.Buffers.Binary;
using PathProbe.Capture;
using PathProbe.Cli.Tui;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Flows;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;

namespace PathProbe.Tests.Tui;

/// <summary>Until the SMTP analyzer is in the engine: an SmtpConnection fed from the same capture, attached to the flow
/// as its <see cref="Flow.App"/> the way the analyzer will.</summary>
internal sealed class TestSmtpApp(SmtpConnection connection) : IFlowApplication, ISmtpSessionSource
{
    public SmtpSession Session => connection.Session;
    public string? Phase => connection.Session.CurrentPhase switch
    {
        SmtpPhase.Connect => null,
        SmtpPhase.Greeting => "greeting",
        SmtpPhase.Ehlo => "ehlo",
        SmtpPhase.StartTls => "starttls",
        SmtpPhase.Tls => "tls",
        SmtpPhase.Auth => "auth",
        SmtpPhase.Ready => "ready",
        SmtpPhase.Mail => "mail",
        SmtpPhase.Rcpt => "rcpt",
        SmtpPhase.DataCommand or SmtpPhase.Data or SmtpPhase.Bdat => "data",
        SmtpPhase.DataSent => "end-of-data",
        SmtpPhase.Quit => "quit",
        _ => "closed",
    };
    public string? DescribePosition() => Phase;
}

internal static class TuiTestSupport
{
    public static ConsoleKeyInfo Key(ConsoleKey key, char c = '\0', bool ctrl = false) => new(c, key, false, false, ctrl);
    public static ConsoleKeyInfo Char(char c) => new(c, c is >= 'a' and <= 'z' ? ConsoleKey.A + (c - 'a') : 0, false, false, false);

    public static void Type(TuiApp app, string text)
    {
        foreach (char c in text) app.Handle(Char(c));
    }

    /// <summary>Analyses a capture with timelines, with an SMTP session (fed from the same frames, before the engine sees
    /// each one, so the timeline records its phases) attached to each port-25 flow.</summary>
    public static CaptureAnalysis AnalyzeWithSmtp(string path)
    {
        var engine = new Engine(new AnalysisOptions { Timelines = true });
        var connections = new Dictionary<FlowKey, (SmtpConnection Conn, Flow Flow)>();
        var decoder = new FrameDecoder(new IpReassembler(new ReassemblyOptions()), new DecodeCounters());
        var input = new InputSummary { Path = path };
        Timestamp last = default;
        using (var file = File.OpenRead(path))
        using (var source = CaptureFile.Open(file, path))
        {
            while (source.TryRead(out RawFrame frame))
            {
                input.Packets++;
                input.FirstTime ??= frame.Time;
                last = frame.Time;
                var p = new DecodedPacket();
                if (decoder.Decode(frame, ref p) == DecodeStatus.Ok && p.IsTcp)
                {
                    var key = FlowKey.Create(p.Src, p.SrcPort, p.Dst, p.DstPort, p.Protocol, out _);
                    if (!connections.TryGetValue(key, out var c))
                    {
                        var flow = engine.Flows.LiveFlows.FirstOrDefault(f => f.Key.Equals(key) && f.ServerPort == 25);
                        if (flow is not null)
                        {
                            c = (new SmtpConnection(flow.Start), flow);
                            connections[key] = c;
                            flow.App = new TestSmtpApp(c.Conn);
                        }
                    }
                    c.Conn?.OnPacket(p, p.SrcPort == c.Flow.ClientPort && p.Src.Equals(c.Flow.ClientAddress));
                }
                engine.Process(frame);
            }
        }
        input.LastTime = last;
        foreach (var (conn, _) in connections.Values) conn.Finish(last);
        return engine.Complete(input);
    }

    /// <summary>A pcap of one SMTP dialogue over Ethernet/IPv4/TCP with the given server and client lines.</summary>
    public static byte[] SmtpPcap(string[] server, string[] client)
    {
        var ms = new MemoryStream();
        var header = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xa1b2c3d4);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(6), 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), 65535);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(20), 1);
        ms.Write(header);
        uint cs = 1000, ss = 9000;
        long t = 1_790_000_000_000_000;
        void Frame(bool fromClient, byte flags, byte[] payload)
        {
            var f = TcpFrame(fromClient, fromClient ? cs : ss, fromClient ? ss : cs, flags, payload);
            var rec = new byte[16];
            t += 10_000;
            BinaryPrimitives.WriteUInt32LittleEndian(rec, (uint)(t / 1_000_000));
            BinaryPrimitives.WriteUInt32LittleEndian(rec.AsSpan(4), (uint)(t % 1_000_000));
            BinaryPrimitives.WriteUInt32LittleEndian(rec.AsSpan(8), (uint)f.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(rec.AsSpan(12), (uint)f.Length);
            ms.Write(rec);
            ms.Write(f);
            uint adv = (uint)payload.Length + ((flags & 0x03) != 0 ? 1u : 0u);
            if (fromClient) cs += adv; else ss += adv;
        }
        Frame(true, 0x02, []);
        Frame(false, 0x12, []);
        Frame(true, 0x10, []);
        int n = Math.Max(server.Length, client.Length);
        for (int i = 0; i < n; i++)
        {
            if (i < server.Length) { Frame(false, 0x18, System.Text.Encoding.UTF8.GetBytes(server[i] + "\r\n")); Frame(true, 0x10, []); }
            if (i < client.Length) { Frame(true, 0x18, System.Text.Encoding.UTF8.GetBytes(client[i] + "\r\n")); Frame(false, 0x10, []); }
        }
        return ms.ToArray();
    }

    private static byte[] TcpFrame(bool fromClient, uint seq, uint ack, byte flags, byte[] payload)
    {
        byte[] c = [198, 51, 100, 10], s = [203, 0, 113, 25];
        var f = new byte[14 + 20 + 20 + payload.Length];
        f[12] = 0x08; // IPv4
        var ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(40 + payload.Length));
        ip[6] = 0x40; ip[8] = 64; ip[9] = 6;
        (fromClient ? c : s).CopyTo(ip[12..]);
        (fromClient ? s : c).CopyTo(ip[16..]);
        uint sum = 0;
        for (int i = 0; i < 20; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~sum);
        var tcp = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, fromClient ? (ushort)40000 : (ushort)25);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], fromClient ? (ushort)25 : (ushort)40000);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], (flags & 0x10) != 0 ? ack : 0);
        tcp[12] = 0x50; tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
        payload.CopyTo(tcp[20..]);
        return f;
    }
}
