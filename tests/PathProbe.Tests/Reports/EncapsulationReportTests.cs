using System.Buffers.Binary;
using System.Text.Json;
using PathProbe.Pipeline;
using PathProbe.Reports;
using PathProbe.Tests.Support;
using static PathProbe.Tests.Support.PacketBuilder;

namespace PathProbe.Tests.Reports;

/// <summary>What the text report and the JSON say about encapsulation: tunnelled traffic is never a silent "No flows".</summary>
public sealed class EncapsulationReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pathprobe-encap-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WritePcap(string name, IEnumerable<byte[]> frames)
    {
        var o = new MemoryStream();
        var h = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(h, 0xa1b2c3d4);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(4), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(6), 4);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(16), 65535);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(20), 1);
        o.Write(h);
        uint t = 1_700_000_000;
        foreach (var f in frames)
        {
            var r = new byte[16];
            BinaryPrimitives.WriteUInt32LittleEndian(r, t++);
            BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(8), (uint)f.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(12), (uint)f.Length);
            o.Write(r);
            o.Write(f);
        }
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, o.ToArray());
        return path;
    }

    private static (string Text, JsonDocument Json) Reports(CaptureAnalysis a)
    {
        var text = new StringWriter();
        // Wide lines, so a sentence is looked for whole (the report wraps at 80 columns by default).
        TextReport.Write(text, [a], new TextReport.Options { Width = 1000 });
        var json = new MemoryStream();
        JsonReport.Write(json, [a]);
        return (text.ToString(), JsonDocument.Parse(json.ToArray()));
    }

    [Fact]
    public void Report_OnlyTrafficNotDecoded_SaysWhyThereAreNoFlows()
    {
        byte[] esp = Ethernet(0x0800, Ipv4(50, new byte[64], "203.0.113.1", "203.0.113.2"));
        byte[] cdpInGre = Ethernet(0x0800, Ipv4(47, Gre(0x2000, new byte[20]), "203.0.113.1", "203.0.113.2"));
        var a = FileAnalyzer.Analyze(WritePcap("esp.pcap", [esp, esp, esp, cdpInGre]));
        var (text, json) = Reports(a);

        Assert.Contains("No flows (4 packets in an encapsulation PathProbe does not decode, see Tunnels above).", text);
        Assert.Contains("4 packets in an encapsulation PathProbe does not decode: IPsec ESP (encrypted: capture where it is decrypted) 3; " +
                        "GRE carrying another protocol 1 (0x2000 ×1)", text);
        var e = json.RootElement.GetProperty("stats").GetProperty("encapsulation");
        Assert.Equal(4, e.GetProperty("notDecoded").GetInt64());
        Assert.Equal(3, e.GetProperty("notDecodedReasons").GetProperty("esp").GetInt64());
        var detail = Assert.Single(e.GetProperty("notDecodedDetails").EnumerateArray());
        Assert.Equal("gre_protocol", detail.GetProperty("reason").GetString());
        Assert.Equal(0x2000, detail.GetProperty("value").GetInt32());
    }

    [Fact]
    public void Report_FragmentedGreAndPlainFlows_ColumnAndJsonPerDirection()
    {
        byte[] Seg(bool c2s, int payload) => c2s
            ? Ipv4(6, Tcp(49152, 25, 100, 1, 0x18, new byte[payload]), "192.0.2.1", "198.51.100.2", df: false)
            : Ipv4(6, Tcp(25, 49152, 1, 101, 0x10, []), "198.51.100.2", "192.0.2.1");
        byte[] big = Ipv4(47, Gre(0x0800, Seg(true, 1460)), "203.0.113.1", "203.0.113.2", id: 9, df: false);
        var frames = FragmentIpv4(big, 1480).Select(f => Ethernet(0x0800, f)).ToList();
        frames.Add(Ethernet(0x0800, Seg(false, 0))); // the answer comes back plain
        frames.Add(Ethernet(0x0800, Ipv4(17, Udp(5353, 53, new byte[10]), "192.0.2.1", "198.51.100.53"))); // a plain flow
        var a = FileAnalyzer.Analyze(WritePcap("gre.pcap", frames));
        var (text, json) = Reports(a);

        Assert.Contains("Tunnels    1 packet decapsulated (ipv4 1, gre 1)", text);
        Assert.Contains("ENCAP", text);
        Assert.Contains("ipv4/gre +24 | -", text);
        var flows = json.RootElement.GetProperty("flows").EnumerateArray().ToList();
        var tcp = flows.Single(f => f.GetProperty("protocol").GetString() == "tcp").GetProperty("encapsulation");
        var c2s = tcp.GetProperty("c2s");
        Assert.Equal(["ipv4", "gre"], c2s.GetProperty("layers").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal(24, c2s.GetProperty("mtuOverhead").GetInt32());
        Assert.Equal(1476, c2s.GetProperty("innerMtuOn1500").GetInt32());
        Assert.Equal(1500, c2s.GetProperty("outer").GetProperty("maxIpPacket").GetInt32()); // the largest fragment on the wire
        Assert.Equal(1, c2s.GetProperty("outer").GetProperty("fragmented").GetInt64());
        Assert.Equal(JsonValueKind.Null, tcp.GetProperty("s2c").ValueKind);
        Assert.Equal(JsonValueKind.Null, flows.Single(f => f.GetProperty("protocol").GetString() == "udp").GetProperty("encapsulation").ValueKind);
    }

    [Fact]
    public void Report_PlainCapture_NoTunnelsLineNoColumn()
    {
        var a = FileAnalyzer.Analyze(Path.Combine(TestPaths.Captures, "smtp-mru1424-sender.pcap"));
        var (text, _) = Reports(a);
        Assert.DoesNotContain("Tunnels", text);
        Assert.DoesNotContain("ENCAP", text);
    }
}
