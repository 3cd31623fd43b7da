using System.Buffers.Binary;
using PathProbe.Capture;
using PathProbe.Cli.Tui.Model;
using PathProbe.Tests.Support;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Flows;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;

namespace PathProbe.Tests.Tui;

internal static class TuiTestSupport
{
    public static readonly string Incident = Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap");

    /// <summary>The incident capture through the TUI's own file source, analysis complete.</summary>
    public static FileTuiSource IncidentSource() => FileSource(Incident);

    public static FileTuiSource FileSource(string path)
    {
        var source = new FileTuiSource(path, new AnalysisOptions { Timelines = true });
        Assert.True(source.WaitForCompletion(TimeSpan.FromSeconds(60)), "the analysis did not finish");
        return source;
    }

    /// <summary>Analyses a capture as <c>pathprobe tui</c> does: the real engine with timelines on (the SMTP analyzer
    /// attaches each session to its flow, and the timeline records its phases).</summary>
    public static CaptureAnalysis AnalyzeWithSmtp(string path) => FileAnalyzer.Analyze(path, new AnalysisOptions { Timelines = true });

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
