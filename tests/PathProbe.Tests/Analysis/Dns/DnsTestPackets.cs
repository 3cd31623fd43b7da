using System.Buffers.Binary;
using PathProbe.Capture;
using PathProbe.Pipeline;
using PathProbe.Primitives;
using PathProbe.Protocols.Dns;

namespace PathProbe.Tests.Analysis.Dns;

/// <summary>Raw IPv4 packets (link type RAW) and DNS messages built from RFC 791/768/793/1035 layouts, fed to an engine.</summary>
internal static class DnsTestPackets
{
    public static readonly long T0 = 1_800_000_000L * 1_000_000_000;

    public static void Feed(Engine e, byte[] packet, double seconds)
    {
        var frame = new RawFrame(packet, packet.Length, new Timestamp(T0 + (long)(seconds * 1e9)), LinkTypes.Raw, 0);
        e.Process(in frame);
    }

    public static byte[] Ip4(string src, string dst, byte protocol, byte[] payload, ushort ipId = 1, bool df = false, bool more = false, int fragOffset = 0)
    {
        var p = new byte[20 + payload.Length];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), ipId);
        ushort flags = (ushort)((df ? 0x4000 : 0) | (more ? 0x2000 : 0) | (fragOffset / 8));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), flags);
        p[8] = 64;
        p[9] = protocol;
        IpAddress.Parse(src).ToIPAddress().GetAddressBytes().CopyTo(p, 12);
        IpAddress.Parse(dst).ToIPAddress().GetAddressBytes().CopyTo(p, 16);
        uint sum = 0;
        for (int i = 0; i < 20; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(p.AsSpan(i));
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), (ushort)~sum);
        payload.CopyTo(p, 20);
        return p;
    }

    public static byte[] UdpPayload(ushort sport, ushort dport, byte[] data)
    {
        var u = new byte[8 + data.Length];
        BinaryPrimitives.WriteUInt16BigEndian(u, sport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), (ushort)u.Length);
        data.CopyTo(u, 8);
        return u;
    }

    public static byte[] Udp(string src, ushort sport, string dst, ushort dport, byte[] data, ushort ipId = 1) =>
        Ip4(src, dst, 17, UdpPayload(sport, dport, data), ipId);

    public const byte Fin = 0x01, Syn = 0x02, Psh = 0x08, Ack = 0x10;

    public static byte[] Tcp(string src, ushort sport, string dst, ushort dport, uint seq, uint ack, byte flags, byte[]? data = null)
    {
        data ??= Array.Empty<byte>();
        var t = new byte[20 + data.Length];
        BinaryPrimitives.WriteUInt16BigEndian(t, sport);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(8), ack);
        t[12] = 0x50;
        t[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), 65535);
        data.CopyTo(t, 20);
        return Ip4(src, dst, 6, t);
    }

    /// <summary>IPv4 fragments of a transport payload: <paramref name="chunk"/> bytes each (a multiple of 8).</summary>
    public static List<byte[]> Fragments(string src, string dst, byte protocol, byte[] transport, ushort ipId, int chunk)
    {
        var list = new List<byte[]>();
        for (int off = 0; off < transport.Length; off += chunk)
        {
            int n = Math.Min(chunk, transport.Length - off);
            list.Add(Ip4(src, dst, protocol, transport.AsSpan(off, n).ToArray(), ipId, more: off + n < transport.Length, fragOffset: off));
        }
        return list;
    }

    /// <summary>ICMPv4 time exceeded, code 1 (fragment reassembly time exceeded), quoting <paramref name="quoted"/>.</summary>
    public static byte[] IcmpReassemblyTimeExceeded(string src, string dst, byte[] quoted)
    {
        var body = new byte[8 + Math.Min(quoted.Length, 548)];
        body[0] = 11;
        body[1] = 1;
        quoted.AsSpan(0, body.Length - 8).CopyTo(body.AsSpan(8));
        return Ip4(src, dst, 1, body);
    }

    // ---- DNS messages (RFC 1035 §4.1) ----

    public static byte[] Name(string name)
    {
        var buf = new byte[256];
        Assert.Equal(DnsStatus.Ok, DnsName.Encode(name, buf, out int n));
        return buf[..n];
    }

    public static byte[] Query(ushort id, string name, DnsType type, int edns = 0)
    {
        var m = new List<byte>();
        m.AddRange(Header(id, 0x0100, 1, 0, 0, edns > 0 ? 1 : 0));
        m.AddRange(Name(name));
        m.AddRange(U16((ushort)type)); m.AddRange(U16(1));
        if (edns > 0) m.AddRange(Opt(edns));
        return m.ToArray();
    }

    /// <summary>A response with the question and the given answer records (type, RDATA), owner compressed to the question.</summary>
    public static byte[] Response(ushort id, string name, DnsType type, IEnumerable<(DnsType Type, byte[] Rdata)> answers, bool tc = false, int rcode = 0, int edns = 0)
    {
        var list = answers.ToList();
        var m = new List<byte>();
        m.AddRange(Header(id, (ushort)(0x8000 | 0x0400 | 0x0100 | (tc ? 0x0200 : 0) | rcode), 1, list.Count, 0, edns > 0 ? 1 : 0));
        m.AddRange(Name(name));
        m.AddRange(U16((ushort)type)); m.AddRange(U16(1));
        foreach (var (t, rdata) in list)
        {
            m.Add(0xC0); m.Add(12);
            m.AddRange(U16((ushort)t)); m.AddRange(U16(1));
            m.AddRange(new byte[] { 0, 0, 1, 0x2C });
            m.AddRange(U16((ushort)rdata.Length));
            m.AddRange(rdata);
        }
        if (edns > 0) m.AddRange(Opt(edns));
        return m.ToArray();
    }

    public static byte[] Txt(params string[] strings)
    {
        var r = new List<byte>();
        foreach (var s in strings) { var b = System.Text.Encoding.Latin1.GetBytes(s); r.Add((byte)b.Length); r.AddRange(b); }
        return r.ToArray();
    }

    /// <summary>Prefixes a message with its 2-byte length (DNS over TCP, RFC 1035 §4.2.2).</summary>
    public static byte[] Framed(byte[] msg) => U16((ushort)msg.Length).Concat(msg).ToArray();

    private static byte[] Header(ushort id, ushort flags, int qd, int an, int ns, int ar)
    {
        var h = new byte[12];
        new DnsHeader(id, flags, (ushort)qd, (ushort)an, (ushort)ns, (ushort)ar).Write(h);
        return h;
    }

    private static byte[] Opt(int size) => new byte[] { 0, 0, 41, (byte)(size >> 8), (byte)size, 0, 0, 0, 0, 0, 0 };

    private static byte[] U16(ushort v) => new[] { (byte)(v >> 8), (byte)v };
}
