using System.Buffers.Binary;
using System.Text.Json;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Flows;

/// <summary>
/// Issue 16 item 5: memory with many mail sessions kept for the report. 30,000 copies of a bundled SMTP session
/// (captures/smtp-pipelining-multi-rcpt.pcap: greeting, EHLO, pipelined MAIL and three RCPT, DATA, QUIT, FIN), each
/// from its own client address and port, 0.1 s apart (50 minutes of capture time, generated here, never committed),
/// through the real command under /usr/bin/time -v. What keeps it low: a connection that ended leaves the table after
/// 60 s instead of 10 minutes, a closed session keeps its summary only (no reassemblers, no queue, texts that repeat
/// shared), and the young generation is collected every 16 MB (README "Memory").
/// </summary>
public sealed class SmtpSessionsMemoryTests : IDisposable
{
    private const int Sessions = 30_000;
    private readonly string _dir = Directory.CreateTempSubdirectory("pathprobe-sessions-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A pcap of <paramref name="copies"/> copies of the capture at <paramref name="source"/> (Ethernet, IPv4,
    /// one TCP connection from 198.51.100.10 to 203.0.113.25), copy i from 198.51.100.(10 + i / 60000) port
    /// 1024 + i % 60000, to 203.0.113.(25 + i % <paramref name="servers"/>), shifted by <paramref name="spacingMicros"/>
    /// per copy and by up to ±<paramref name="jitterMicros"/> more (so that with a spacing shorter than a session,
    /// capture time steps back between copies); IPv4 header checksums made again.</summary>
    internal static void WriteCopies(string source, string path, int copies, long spacingMicros = 100_000, int servers = 1,
        long jitterMicros = 0)
    {
        byte[] data = File.ReadAllBytes(source);
        var records = new List<(long Micros, byte[] Frame, uint OriginalLength)>();
        for (int off = 24; off + 16 <= data.Length;)
        {
            uint sec = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(off)), usec = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(off + 4));
            int caplen = (int)BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(off + 8));
            uint orig = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(off + 12));
            records.Add((sec * 1_000_000L + usec, data.AsSpan(off + 16, caplen).ToArray(), orig));
            off += 16 + caplen;
        }
        long t0 = records[0].Micros;
        ReadOnlySpan<byte> client = [198, 51, 100, 10];
        using var s = new BufferedStream(new FileStream(path, FileMode.CreateNew, FileAccess.Write), 1 << 20);
        s.Write(data.AsSpan(0, 24));
        Span<byte> head = stackalloc byte[16];
        for (int i = 0; i < copies; i++)
        {
            byte host = (byte)(10 + i / 60000);
            ushort port = (ushort)(1024 + i % 60000);
            byte server = (byte)(25 + i % servers);
            long shift = i * spacingMicros + (jitterMicros == 0 ? 0 : (i * 7919L) % (2 * jitterMicros + 1) - jitterMicros);
            foreach (var (micros, original, orig) in records)
            {
                byte[] f = (byte[])original.Clone();
                var ip = f.AsSpan(14);
                bool fromClient = ip.Slice(12, 4).SequenceEqual(client);
                ip[fromClient ? 15 : 19] = host;
                ip[fromClient ? 19 : 15] = server;
                BinaryPrimitives.WriteUInt16BigEndian(ip[(fromClient ? 20 : 22)..], port);
                ip[10] = 0; ip[11] = 0;
                uint sum = 0;
                for (int k = 0; k < 20; k += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(ip[k..]);
                while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
                BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~sum);
                long t = 1_800_000_000_000_000L + micros - t0 + shift;
                BinaryPrimitives.WriteUInt32LittleEndian(head, (uint)(t / 1_000_000));
                BinaryPrimitives.WriteUInt32LittleEndian(head[4..], (uint)(t % 1_000_000));
                BinaryPrimitives.WriteUInt32LittleEndian(head[8..], (uint)f.Length);
                BinaryPrimitives.WriteUInt32LittleEndian(head[12..], orig);
                s.Write(head);
                s.Write(f);
            }
        }
    }

    [SkippableFact]
    public void Cli_ManySessions_PeakRssBounded_EverySessionReported()
    {
        string cli = CliProcess.MeasurableCli();
        string file = Path.Combine(_dir, "sessions.pcap");
        WriteCopies(Path.Combine(TestPaths.Captures, "smtp-pipelining-multi-rcpt.pcap"), file, Sessions);

        var (rss, text) = CliProcess.RunMeasured(cli, 300_000, "analyze", file);
        Console.WriteLine($"{Sessions:N0} SMTP sessions: peak RSS {rss / 1024} MB (text)");
        string words = System.Text.RegularExpressions.Regex.Replace(text, @"\s+", " ");
        Assert.Contains("Mail: 30,000 SMTP sessions, 30,000 transactions: 30,000 accepted", words);
        Assert.Contains("0 IPv4 header checksum errors", words);
        // Under `dotnet` (JIT, Release): 344 MB before this work, 238 MB with it.
        Assert.True(rss <= 280 * 1024, $"peak RSS {rss} kB for {Sessions:N0} SMTP sessions, over 280 MB");

        var (rssJson, json) = CliProcess.RunMeasured(cli, 300_000, "analyze", "--json", file);
        Console.WriteLine($"{Sessions:N0} SMTP sessions: peak RSS {rssJson / 1024} MB (--json)");
        Assert.True(rssJson <= 280 * 1024, $"peak RSS {rssJson} kB for {Sessions:N0} SMTP sessions (--json), over 280 MB");
        using var doc = JsonDocument.Parse(json);
        var flows = doc.RootElement.GetProperty("flows");
        Assert.Equal(Sessions, flows.GetArrayLength());
        // Every connection is listed, as closed by FIN.
        Assert.All(flows.EnumerateArray(), f => Assert.Equal("closed", f.GetProperty("state").GetString()));
    }
}
