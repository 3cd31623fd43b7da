using PathProbe.Analysis.Dns;
using PathProbe.Capture;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;
using PathProbe.Tests.Support;
using static PathProbe.Tests.Analysis.Dns.DnsTestPackets;

namespace PathProbe.Tests.Analysis.Dns;

/// <summary>
/// The answer texts written without allocating (<see cref="DnsAnswerText"/>) are the texts the report listed before:
/// <see cref="DnsMessage.Decode"/>, <see cref="DnsRecord.Describe"/>, cleaned by <see cref="SafeText.Clean"/> to 160
/// characters, nothing listed when the message is malformed; and the JSON report, which writes them straight from the
/// arena, writes what those strings give.
/// </summary>
public sealed class DnsAnswerTextTests
{
    /// <summary>The texts as the analyzer made them before (one string per record, from the decoded message).</summary>
    private static (string[] Records, int NotListed, string? Malformed) Reference(ReadOnlySpan<byte> msg, int max)
    {
        var records = new List<string>();
        int notListed = 0;
        var m = DnsMessage.Decode(msg, out var st, out _);
        if (m is null) return ([], 0, st.ToString());
        foreach (var r in m.Answers)
        {
            if (records.Count >= max) { notListed++; continue; }
            records.Add(SafeText.Clean($"{DnsTransaction.TypeName(r.Type)} {DnsRecord.Describe(r.Data)}", 160));
        }
        return (records.ToArray(), notListed, null);
    }

    private static (string[] Records, int NotListed, string? Malformed) Written(ReadOnlySpan<byte> msg, int max)
    {
        var scratch = new char[DnsAnswerText.ScratchLength(max)];
        var lengths = new int[max];
        var st = DnsAnswerText.Describe(msg, max, scratch, lengths, out int listed, out int notListed);
        var arena = new DnsTextArena();
        var texts = arena.Add(scratch, lengths, listed);
        var strings = texts.Read().ToArray();
        // The JSON report writes the texts straight from the arena: the same JSON as the strings give.
        Assert.Equal(Json(w => { foreach (var x in strings) w.WriteStringValue(x); }), Json(texts.WriteJson));
        return (strings, notListed, st == DnsStatus.Ok ? null : st.ToString());
    }

    /// <summary>A JSON array written as the JSON report writes (indented, default encoder).</summary>
    private static string Json(Action<System.Text.Json.Utf8JsonWriter> items)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { Indented = true }))
        {
            w.WriteStartArray();
            items(w);
            w.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void AssertSame(byte[] msg, int max = 8)
    {
        var expected = Reference(msg, max);
        var actual = Written(msg, max);
        Assert.Equal(expected.Records, actual.Records);
        Assert.Equal(expected.NotListed, actual.NotListed);
        Assert.Equal(expected.Malformed, actual.Malformed);
    }

    /// <summary>One TXT character-string of these bytes.</summary>
    private static byte[] Str(byte[] b) => [(byte)b.Length, .. b];

    private static byte[] Ip(string ip) => IpAddress.Parse(ip).ToIPAddress().GetAddressBytes();

    public static TheoryData<string> Crafted => new()
    {
        "a", "aaaa", "aaaa-mapped", "mx", "txt-control", "txt-long", "txt-utf8", "txt-invalid-utf8", "txt-bidi", "txt-empty",
        "soa", "srv", "cname-escaped", "ptr-root", "unknown-type", "many", "bad-a-length", "bad-txt", "bad-mx", "cut",
    };

    [Theory]
    [MemberData(nameof(Crafted))]
    public void CraftedAnswer_SameTextAsDecodedMessage(string which)
    {
        (DnsType, byte[])[] answers = which switch
        {
            "a" => [(DnsType.A, Ip("203.0.113.25"))],
            "aaaa" => [(DnsType.AAAA, Ip("2001:db8::25"))],
            "aaaa-mapped" => [(DnsType.AAAA, Ip("::ffff:192.0.2.1"))],
            "mx" => [(DnsType.MX, [0, 10, .. Name("mx.example.test")]), (DnsType.MX, [0, 0, 0])],
            "txt-control" => [(DnsType.TXT, Txt("v=spf1 \u001b]0;pwned\u0007 -all", "\u0085next"))],
            "txt-long" => [(DnsType.TXT, Txt(new string('a', 255), new string('b', 255), new string('c', 255)))],
            "txt-utf8" => [(DnsType.TXT, Str("caf\u00e9 \u2713 ok"u8.ToArray()))],
            "txt-invalid-utf8" => [(DnsType.TXT, [6, 0x61, 0xC3, 0x28, 0xFF, 0xE2, 0x82])],
            "txt-bidi" => [(DnsType.TXT, Str("a\u202Eb\u2066"u8.ToArray()))],
            "txt-empty" => [(DnsType.TXT, [])],
            "soa" => [(DnsType.SOA, [.. Name("ns.example.test"), .. Name("host\\.master.example.test"), 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 255, 255, 255, 255])],
            "srv" => [(DnsType.SRV, [0, 1, 0, 2, 0, 25, .. Name("smtp.example.test")])],
            "cname-escaped" => [(DnsType.CNAME, [3, (byte)'a', 0x01, (byte)'"', 4, (byte)'b', (byte)'.', 0xFF, (byte)' ', 0])],
            "ptr-root" => [(DnsType.PTR, [0])],
            "unknown-type" => [((DnsType)65280, [1, 2, 3]), ((DnsType)46, new byte[40])],
            "many" => Enumerable.Range(0, 12).Select(i => (DnsType.A, Ip($"192.0.2.{i}"))).ToArray(),
            "bad-a-length" => [(DnsType.A, [1, 2, 3])],
            "bad-txt" => [(DnsType.TXT, [5, 1, 2])],
            "bad-mx" => [(DnsType.MX, [0, 1])],
            _ => [(DnsType.A, Ip("192.0.2.1"))],
        };
        var msg = Response(0x4242, "example.test", DnsType.ANY, answers, edns: 1232);
        if (which == "cut") msg = msg[..^3];
        AssertSame(msg);
        AssertSame(msg, max: 1);
    }

    /// <summary>Every DNS message over UDP in the bundled captures and the shared corpus (reassembled ones included).</summary>
    [SkippableFact]
    public void EveryDnsMessageInCaptures_SameTextAsDecodedMessage()
    {
        var files = TestPaths.BundledCaptures().ToList();
        if (TestPaths.Corpus is { } corpus)
            files.AddRange(Directory.EnumerateFiles(corpus, "*", SearchOption.AllDirectories)
                .Where(f => f.EndsWith(".pcap") || f.EndsWith(".pcapng") || f.EndsWith(".cap")));
        var bench = Path.Combine(Environment.GetEnvironmentVariable("HOME") ?? "/root", ".cache", "pathprobe-bench", "dns-block-v1.pcap");
        if (File.Exists(bench)) files.Add(bench); // (c)'s recorded block, when the benchmarks have been built here
        int messages = 0;
        foreach (var file in files)
        {
            IPacketSource source;
            try { source = CaptureFile.Open(file); }
            catch (CaptureFormatException) { continue; }
            using (source)
            {
                var decoder = new FrameDecoder(new IpReassembler(new ReassemblyOptions()), new DecodeCounters());
                while (source.TryRead(out var frame))
                {
                    var p = new DecodedPacket();
                    if (decoder.Decode(frame, ref p) != DecodeStatus.Ok || !p.IsUdp || (p.SrcPort != 53 && p.DstPort != 53)) continue;
                    AssertSame(p.Payload.ToArray());
                    messages++;
                }
            }
        }
        Skip.If(messages == 0, "no DNS messages in the captures found");
        Assert.True(messages > 10, $"{messages} DNS messages");
    }

    /// <summary>A response whose texts were stored before shares the stored copy (byte for byte the same texts); one
    /// that differs anywhere, or in its count or encoding, is stored anew; memory grows only with the distinct texts.</summary>
    [Fact]
    public void Arena_SharesRepeatedTexts_AndStoresDifferentOnes()
    {
        var arena = new DnsTextArena();
        DnsRecordTexts Add(params string[] texts)
        {
            var chars = string.Concat(texts).ToCharArray();
            var lengths = texts.Select(t => t.Length).ToArray();
            return arena.Add(chars, lengths, texts.Length);
        }
        string spf = "TXT \"v=spf1 " + string.Join(" ", Enumerable.Range(0, 20).Select(i => $"ip4:192.0.2.{i}")) + " -all\"";
        var first = Add("MX 10 mx.example.test", spf);
        var again = Add("MX 10 mx.example.test", spf);
        Assert.Equal(1, arena.Shared);
        Assert.Equal((first.Chunk, first.Offset), (again.Chunk, again.Offset));
        Assert.Equal(["MX 10 mx.example.test", spf], again.Read());

        // The same first and last 64 bytes, one character different in the middle: stored anew, read back as given.
        string other = spf.Replace("192.0.2.9 ", "192.0.2.8 ");
        Assert.NotEqual(spf, other);
        var changed = Add("MX 10 mx.example.test", other);
        Assert.NotEqual((first.Chunk, first.Offset), (changed.Chunk, changed.Offset));
        Assert.Equal(["MX 10 mx.example.test", other], changed.Read());
        // The same characters split into other records, and the same text in UTF-16 (a non-ASCII record with it).
        var split = Add("MX 10 mx.example.te", "st" + spf);
        Assert.Equal(["MX 10 mx.example.te", "st" + spf], split.Read());
        var wide = Add("MX 10 mx.example.test", spf, "TXT \"caf\u00e9\"");
        Assert.Equal(["MX 10 mx.example.test", spf, "TXT \"caf\u00e9\""], wide.Read());
        Assert.Equal(1, arena.Shared);

        // Many repeats of a few answers: the arena holds one chunk, and the repeats are shared. Not every one: the table
        // keeps one text per slot (the newest), and its hash is seeded per process, so two of the 53 texts share a slot
        // in about 8 % of runs and then take it from each other (a CI run shared 9,553 instead of 9,951); more than
        // three such pairs, below the bound, is about two runs in a million.
        for (int i = 0; i < 10_000; i++) Add($"A 192.0.2.{i % 50}");
        Assert.Equal(64 * 1024, arena.Bytes);
        Assert.InRange(arena.Shared, 1 + 10_000 - 50 - 3 * 2 * (10_000 / 50 - 1), 1 + 10_000 - 50);
        Assert.Equal(["A 192.0.2.7"], Add("A 192.0.2.7").Read());
    }
}
