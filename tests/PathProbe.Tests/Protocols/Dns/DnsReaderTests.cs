using PathProbe.Capture;
using PathProbe.Decoding;
using PathProbe.Decoding.Reassembly;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;
using PathProbe.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.Tests.Protocols.Dns;

public class DnsReaderTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(string.Concat(hex.Where(c => !char.IsWhiteSpace(c))));

    // Header: id 1234, flags 8580 (QR AA RD RA), 1 question, 1 answer, 0 authority, 1 additional.
    // Question at 12: example.com MX IN. Answer: c00c MX IN ttl 3600, 10 mx.<c00c>. Additional: OPT 4096, DO.
    private const string MxResponse =
        "1234 8580 0001 0001 0000 0001 " +
        "07 6578616d706c65 03 636f6d 00 000f 0001 " +
        "c00c 000f 0001 00000e10 0007 000a 02 6d78 c00c " +
        "00 0029 1000 00 00 8000 0000";

    [Fact]
    public void Decode_MxResponseWithCompressionAndEdns_AllFields()
    {
        var m = DnsMessage.Decode(Hex(MxResponse), out var st, out _);
        Assert.Equal(DnsStatus.Ok, st);
        Assert.NotNull(m);
        Assert.Equal(0x1234, m.Header.Id);
        Assert.True(m.Header.IsResponse && m.Header.Authoritative && m.Header.RecursionDesired && m.Header.RecursionAvailable);
        Assert.False(m.Header.Truncated);
        Assert.Equal(0, m.Header.Opcode);
        Assert.Equal(new DnsQuestion("example.com", DnsType.MX, 1), m.Questions.Single());
        var mx = Assert.IsType<MxRdata>(m.Answers.Single().Data);
        Assert.Equal(10, mx.Preference);
        Assert.Equal("mx.example.com", mx.Exchange);
        Assert.Equal(3600u, m.Answers[0].Ttl);
        Assert.NotNull(m.Edns);
        Assert.Equal(4096, m.Edns!.UdpPayloadSize);
        Assert.True(m.Edns.DnssecOk);
        Assert.Equal(DnsRcode.NoError, m.Rcode);
    }

    [Theory]
    // A 192.0.2.1
    [InlineData("c00c 0001 0001 0000003c 0004 c0000201", DnsType.A, "192.0.2.1")]
    // AAAA 2001:db8::25
    [InlineData("c00c 001c 0001 0000003c 0010 20010db8000000000000000000000025", DnsType.AAAA, "2001:db8::25")]
    // NS ns1.<example.com>
    [InlineData("c00c 0002 0001 0000003c 0006 03 6e7331 c00c", DnsType.NS, "ns1.example.com")]
    // CNAME www.<example.com>
    [InlineData("c00c 0005 0001 0000003c 0006 03 777777 c00c", DnsType.CNAME, "www.example.com")]
    // PTR host.<example.com>
    [InlineData("c00c 000c 0001 0000003c 0007 04 686f7374 c00c", DnsType.PTR, "host.example.com")]
    // TXT "v=spf1" " -all" (two strings, concatenated without a space)
    [InlineData("c00c 0010 0001 0000003c 000d 06 763d73706631 05 202d616c6c", DnsType.TXT, "\"v=spf1\" \" -all\"")]
    // SOA ns1.<> hostmaster.<> 1 2 3 4 5
    [InlineData("c00c 0006 0001 0000003c 0027 03 6e7331 c00c 0a 686f73746d6173746572 c00c 00000001 00000002 00000003 00000004 00000005",
        DnsType.SOA, "ns1.example.com hostmaster.example.com 1 2 3 4 5")]
    // SRV 10 20 25 mx.<>
    [InlineData("c00c 0021 0001 0000003c 000b 000a 0014 0019 02 6d78 c00c", DnsType.SRV, "10 20 25 mx.example.com")]
    // Unknown type 257 (CAA), 3 bytes kept as a length
    [InlineData("c00c 0101 0001 0000003c 0003 000102", (DnsType)257, "(3 bytes)")]
    public void Decode_EachType_Describes(string answerHex, DnsType type, string expected)
    {
        var msg = Hex("0001 8180 0001 0001 0000 0000 07 6578616d706c65 03 636f6d 00 00ff 0001 " + answerHex);
        var m = DnsMessage.Decode(msg, out var st, out _);
        Assert.Equal(DnsStatus.Ok, st);
        var rr = m!.Answers.Single();
        Assert.Equal(type, rr.Type);
        Assert.Equal(expected, DnsRecord.Describe(rr.Data));
    }

    [Fact]
    public void Decode_TxtStrings_JoinedWithoutSeparator()
    {
        var msg = Hex("0001 8180 0001 0001 0000 0000 07 6578616d706c65 03 636f6d 00 0010 0001 c00c 0010 0001 0000003c 000d 06 763d73706631 05 202d616c6c");
        var txt = Assert.IsType<TxtRdata>(DnsMessage.Decode(msg, out _, out _)!.Answers[0].Data);
        Assert.Equal("v=spf1 -all", txt.Joined);
        Assert.Equal(2, txt.Strings.Count);
    }

    [Fact]
    public void Scan_TruncatedFlagAndEdns_NoAllocation()
    {
        // TC set, no answers; OPT with extended rcode 1 (BADVERS = 16 with header rcode 0), version 0, udp 1232.
        var msg = Hex("beef 8380 0001 0000 0000 0001 07 6578616d706c65 03 636f6d 00 0010 0001 00 0029 04d0 01 00 0000 0000");
        var st = DnsReader.Scan(msg, out var s);
        Assert.Equal(DnsStatus.Ok, st);
        Assert.True(s.Header.Truncated);
        Assert.True(s.HasEdns);
        Assert.Equal(1232, s.UdpPayloadSize);
        Assert.Equal(16, s.Rcode);
        Assert.Equal(DnsType.TXT, s.QuestionType);
        Assert.Equal("example.com", DnsReader.ReadNameText(msg, s.QuestionNameOffset));

        DnsReader.Scan(msg, out _);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) DnsReader.Scan(msg, out s);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    public static TheoryData<string, string, DnsStatus> Hostile => new()
    {
        { "short header", "1234 8180 0001", DnsStatus.TruncatedHeader },
        // question name = "abc" then a pointer to 12: back into the name being read
        { "compression loop", "0001 8180 0001 0000 0000 0000 03 616263 c00c 0001 0001", DnsStatus.PointerLoop },
        // pointer to itself
        { "self pointer", "0001 8180 0001 0000 0000 0000 c00c 0001 0001", DnsStatus.PointerLoop },
        // pointer to offset 20 > its own offset 12
        { "forward pointer", "0001 8180 0001 0000 0000 0000 c014 0001 0001 0000 0000 00", DnsStatus.ForwardPointer },
        { "pointer past end", "0001 8180 0001 0000 0000 0000 c0ff 0001 0001", DnsStatus.PointerPastEnd },
        // length byte 0x40 = 64
        { "label > 63", "0001 8180 0001 0000 0000 0000 40 " + "61" + " 00 0001 0001", DnsStatus.LabelTooLong },
        { "name runs off the end", "0001 8180 0001 0000 0000 0000 05 6162", DnsStatus.TruncatedName },
        { "question without type", "0001 8180 0001 0000 0000 0000 01 61 00 0001", DnsStatus.TruncatedQuestion },
        // header says 1 answer but the message ends after the question
        { "counts larger than data", "0001 8180 0001 0001 0000 0000 01 61 00 0001 0001", DnsStatus.CountExceedsData },
        { "truncated in RR fixed part", "0001 8180 0001 0001 0000 0000 01 61 00 0001 0001 c00c 0001 0001 0000", DnsStatus.TruncatedRecord },
        { "truncated in RDATA", "0001 8180 0001 0001 0000 0000 01 61 00 0001 0001 c00c 0001 0001 0000003c 0004 c000", DnsStatus.TruncatedRecord },
        { "A with 5 bytes", "0001 8180 0001 0001 0000 0000 01 61 00 0001 0001 c00c 0001 0001 0000003c 0005 c000020101", DnsStatus.BadRdata },
        { "MX name past RDLENGTH", "0001 8180 0001 0001 0000 0000 01 61 00 000f 0001 c00c 000f 0001 0000003c 0003 000a 01 78 00", DnsStatus.BadRdata },
        { "TXT string past RDATA", "0001 8180 0001 0001 0000 0000 01 61 00 0010 0001 c00c 0010 0001 0000003c 0003 05 6162", DnsStatus.BadRdata },
        { "two OPT records", "0001 8180 0000 0000 0000 0002 00 0029 1000 00000000 0000 00 0029 1000 00000000 0000", DnsStatus.BadOpt },
    };

    [Theory, MemberData(nameof(Hostile))]
    public void Decode_Hostile_NamedStatus(string label, string hex, DnsStatus expected)
    {
        var msg = Hex(hex);
        var m = DnsMessage.Decode(msg, out var st, out _);
        Assert.True(expected == st, $"{label}: {st}");
        Assert.Null(m);
        if (expected != DnsStatus.BadRdata) Assert.Equal(expected, DnsReader.Scan(msg, out _) is var s && s == DnsStatus.Ok ? DnsStatus.Ok : s);
    }

    [Fact]
    public void ReadName_Over255Bytes_NameTooLong()
    {
        // Five 63-byte labels = 320 bytes.
        var label = "3f" + string.Concat(Enumerable.Repeat("61", 63));
        var msg = Hex("0001 8180 0001 0000 0000 0000 " + string.Concat(Enumerable.Repeat(label, 5)) + "00 0001 0001");
        Assert.Equal(DnsStatus.NameTooLong, DnsReader.Scan(msg, out _));
        // Exactly 255: 3 x 63-byte labels (192) + one 61-byte label (62) + root (1).
        var ok = Hex("0001 8180 0001 0000 0000 0000 " + string.Concat(Enumerable.Repeat(label, 3)) + "3d" + string.Concat(Enumerable.Repeat("62", 61)) + "00 0001 0001");
        Assert.Equal(DnsStatus.Ok, DnsReader.Scan(ok, out _));
    }

    [Fact]
    public void ReadName_PointerChainTooLong_Loop()
    {
        // 200 names each a pointer to the previous one: a legal backwards chain but more jumps than any 255-byte name needs.
        var b = new List<byte>(Hex("0001 8180 0001 0000 0000 0000 01 61 00"));
        int prev = 12;
        for (int i = 0; i < 200; i++) { int here = b.Count; b.Add((byte)(0xC0 | (prev >> 8))); b.Add((byte)prev); prev = here; }
        var msg = b.ToArray();
        Span<byte> name = stackalloc byte[256];
        Assert.Equal(DnsStatus.PointerLoop, DnsReader.ReadName(msg, prev, name, out _));
    }

    [Fact]
    public void ToText_OddBytes_Escaped()
    {
        // label "a.b" with a dot inside, label with ESC and a space, label "x\"
        var wire = Hex("03 612e62 02 1b20 02 785c 00");
        Assert.Equal("a\\.b.\\027\\032.x\\\\", DnsName.ToText(wire));
        Span<byte> back = stackalloc byte[256];
        Assert.Equal(DnsStatus.Ok, DnsName.Encode(DnsName.ToText(wire), back, out int n));
        Assert.Equal(wire, back[..n].ToArray());
    }

    [Theory]
    [InlineData("example.com", DnsStatus.Ok)]
    [InlineData("example.com.", DnsStatus.Ok)]
    [InlineData(".", DnsStatus.Ok)]
    [InlineData("a..b", DnsStatus.BadNameText)]
    [InlineData("a\\2", DnsStatus.BadNameText)]
    [InlineData("A123456789012345678901234567890123456789012345678901234567890123.example.com", DnsStatus.LabelTooLong)]
    public void Encode_Names_Status(string text, DnsStatus expected)
    {
        Span<byte> buf = stackalloc byte[256];
        Assert.Equal(expected, DnsName.Encode(text, buf, out _));
    }

    [Fact]
    public void Equal_CaseAndTrailingDot_Ignored()
    {
        Assert.True(DnsName.Equal("Mail.Example.COM.", "mail.example.com"));
        Assert.False(DnsName.Equal("mail.example.com", "mail.example.co"));
        Assert.True(DnsName.IsSubdomainOf("a.Example.com", "example.com"));
        Assert.False(DnsName.IsSubdomainOf("aexample.com", "example.com"));
    }

    [Fact]
    public void WriteQuery_EdnsDo_RoundTrips()
    {
        Span<byte> buf = stackalloc byte[DnsWriter.MaxQueryLength];
        Assert.Equal(DnsStatus.Ok, DnsWriter.WriteQuery(buf, 0xabcd, "Example.com", DnsType.TXT, new DnsQueryOptions(true, 1232, DnssecOk: true), out int n));
        Assert.Equal("abcd 0100 0001 0000 0000 0001 07 4578616d706c65 03 636f6d 00 0010 0001 00 0029 04d0 00008000 0000".Replace(" ", ""),
            Convert.ToHexString(buf[..n]).ToLowerInvariant());
        var m = DnsMessage.Decode(buf[..n], out var st, out _)!;
        Assert.Equal(DnsStatus.Ok, st);
        Assert.Equal(1232, m.Edns!.UdpPayloadSize);
        Assert.True(m.Edns.DnssecOk);
        Assert.Equal(DnsStatus.Ok, DnsWriter.WriteQuery(buf, 1, "example.com", DnsType.A, new DnsQueryOptions(EdnsUdpPayloadSize: 0), out n));
        Assert.Equal(29, n);
        Assert.Equal(DnsStatus.BufferTooSmall, DnsWriter.WriteQuery(buf[..20], 1, "example.com", DnsType.A, default, out _));
    }

    [Fact]
    public void Capture_DnsFragmented_TxtMxPtrDecode()
    {
        string path = Path.Combine(TestPaths.Captures, "dns-fragmented.pcap");
        using var source = CaptureFile.Open(path);
        var decoder = new FrameDecoder(new IpReassembler(), new DecodeCounters());
        var responses = new List<DnsMessage>();
        int queries = 0;
        while (source.TryRead(out var frame))
        {
            var p = new DecodedPacket();
            if (decoder.Decode(in frame, ref p) != DecodeStatus.Ok || p.Protocol != 17 || (p.SrcPort != 53 && p.DstPort != 53)) continue;
            Assert.Equal(DnsStatus.Ok, DnsReader.Scan(p.Payload, out var s));
            var m = DnsMessage.Decode(p.Payload, out var st, out _);
            Assert.Equal(DnsStatus.Ok, st);
            if (m!.Header.IsResponse) responses.Add(m); else { queries++; Assert.Equal(4096, s.UdpPayloadSize); }
        }
        Assert.Equal(3, queries);
        Assert.Equal(3, responses.Count);

        var txt = responses.Single(r => r.Questions[0].Type == DnsType.TXT);
        Assert.True(txt.Length is > 2800 and < 3000, $"TXT message {txt.Length} bytes");
        Assert.Equal(2925, txt.Length);
        Assert.Equal(12, txt.Answers.Count(a => a.Type == DnsType.TXT));
        Assert.Equal(24, txt.Answers.Sum(a => ((TxtRdata)a.Data).Strings.Count));
        Assert.Equal(2712, txt.Answers.Sum(a => ((TxtRdata)a.Data).TextBytes));
        Assert.True(txt.Header.Authoritative);

        var mx = responses.Single(r => r.Questions[0].Type == DnsType.MX);
        var mxr = Assert.IsType<MxRdata>(mx.Answers.Single().Data);
        Assert.Equal((10, "mx.example.test"), (mxr.Preference, mxr.Exchange));
        Assert.Contains(mx.Additional, r => r.Data is AddressRdata a && a.Address == IpAddress.Parse("203.0.113.25"));
        Assert.Contains(mx.Additional, r => r.Data is AddressRdata a && a.Address == IpAddress.Parse("2001:db8:2::25"));

        var ptr = responses.Single(r => r.Questions[0].Type == DnsType.PTR);
        Assert.Equal("25.113.0.203.in-addr.arpa", ptr.Questions[0].Name);
        Assert.Equal("mx.example.test", Assert.IsType<NameRdata>(ptr.Answers.Single().Data).Name);
    }
}
