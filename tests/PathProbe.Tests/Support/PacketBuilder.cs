using System.Buffers.Binary;
using System.Net;

namespace PathProbe.Tests.Support;

/// <summary>
/// Builds frames field by field (RFC layouts, valid IPv4 header checksums) for tests that need many or large packets:
/// fragmented tunnel packets, nesting beyond the layer limit, tunnel-wrapped captures. Fixed vectors live as hex in the
/// tests themselves.
/// </summary>
internal static class PacketBuilder
{
    public static readonly byte[] MacA = [0x00, 0x00, 0x5e, 0x00, 0x53, 0x01];
    public static readonly byte[] MacB = [0x00, 0x00, 0x5e, 0x00, 0x53, 0x02];

    public static byte[] Concat(params byte[][] parts)
    {
        var r = new byte[parts.Sum(p => p.Length)];
        int o = 0;
        foreach (var p in parts) { p.CopyTo(r, o); o += p.Length; }
        return r;
    }

    public static byte[] Ethernet(ushort etherType, byte[] payload, byte[]? dst = null, byte[]? src = null)
    {
        var h = new byte[14];
        (dst ?? MacA).CopyTo(h, 0);
        (src ?? MacB).CopyTo(h, 6);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(12), etherType);
        return Concat(h, payload);
    }

    /// <param name="fragmentOffset">In bytes (a multiple of 8).</param>
    public static byte[] Ipv4(byte protocol, byte[] payload, string src, string dst, ushort id = 0x4242, bool df = true,
        int fragmentOffset = 0, bool moreFragments = false, byte ttl = 64, int? totalLength = null)
    {
        var h = new byte[20];
        h[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), (ushort)(totalLength ?? 20 + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(6), (ushort)((df ? 0x4000 : 0) | (moreFragments ? 0x2000 : 0) | fragmentOffset / 8));
        h[8] = ttl;
        h[9] = protocol;
        IPAddress.Parse(src).GetAddressBytes().CopyTo(h, 12);
        IPAddress.Parse(dst).GetAddressBytes().CopyTo(h, 16);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), Checksum(h));
        return Concat(h, payload);
    }

    public static byte[] Ipv6(byte nextHeader, byte[] payload, string src, string dst)
    {
        var h = new byte[40];
        h[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), (ushort)payload.Length);
        h[6] = nextHeader;
        h[7] = 64;
        IPAddress.Parse(src).GetAddressBytes().CopyTo(h, 8);
        IPAddress.Parse(dst).GetAddressBytes().CopyTo(h, 24);
        return Concat(h, payload);
    }

    public static byte[] Udp(ushort srcPort, ushort dstPort, byte[] payload)
    {
        var h = new byte[8];
        BinaryPrimitives.WriteUInt16BigEndian(h, srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), (ushort)(8 + payload.Length));
        return Concat(h, payload);
    }

    /// <summary>A TCP header without options (checksum left 0: PathProbe does not check it).</summary>
    public static byte[] Tcp(ushort srcPort, ushort dstPort, uint seq, uint ack, byte flags, byte[] payload, ushort window = 64240)
    {
        var h = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(h, srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), dstPort);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(8), ack);
        h[12] = 0x50;
        h[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(14), window);
        return Concat(h, payload);
    }

    public static byte[] Gre(ushort protocolType, byte[] payload, uint? key = null, uint? sequence = null)
    {
        ushort flags = (ushort)((key is null ? 0 : 0x2000) | (sequence is null ? 0 : 0x1000));
        var h = new byte[4 + (key is null ? 0 : 4) + (sequence is null ? 0 : 4)];
        BinaryPrimitives.WriteUInt16BigEndian(h, flags);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), protocolType);
        int o = 4;
        if (key is { } k) { BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(o), k); o += 4; }
        if (sequence is { } s) BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(o), s);
        return Concat(h, payload);
    }

    public static byte[] Vxlan(uint vni, byte[] innerEthernetFrame)
    {
        var h = new byte[8];
        h[0] = 0x08;
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(4), vni << 8);
        return Concat(h, innerEthernetFrame);
    }

    /// <summary>PPPoE session header and PPP protocol field (RFC 2516 4).</summary>
    public static byte[] Pppoe(ushort session, ushort pppProtocol, byte[] payload)
    {
        var h = new byte[8];
        h[0] = 0x11;
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), session);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), (ushort)(2 + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(6), pppProtocol);
        return Concat(h, payload);
    }

    public static byte[] MplsLabel(uint label, bool bottom, byte ttl = 64)
    {
        var h = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(h, label << 12 | (bottom ? 0x100u : 0) | ttl);
        return h;
    }

    public static ushort Checksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i));
        if ((data.Length & 1) != 0) sum += (uint)data[^1] << 8;
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>Cuts an IPv4 packet (header + payload) into fragments of at most <paramref name="maxPayload"/> payload
    /// bytes (a multiple of 8) each, as a router on a smaller-MTU path does (RFC 791 3.2).</summary>
    public static List<byte[]> FragmentIpv4(byte[] packet, int maxPayload)
    {
        int headerLength = (packet[0] & 0x0F) * 4;
        byte protocol = packet[9];
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(4));
        string src = new IPAddress(packet.AsSpan(12, 4)).ToString(), dst = new IPAddress(packet.AsSpan(16, 4)).ToString();
        var payload = packet.AsSpan(headerLength).ToArray();
        var result = new List<byte[]>();
        for (int offset = 0; offset < payload.Length; offset += maxPayload)
        {
            int n = Math.Min(maxPayload, payload.Length - offset);
            result.Add(Ipv4(protocol, payload.AsSpan(offset, n).ToArray(), src, dst, id, df: false, fragmentOffset: offset,
                moreFragments: offset + n < payload.Length, ttl: packet[8]));
        }
        return result;
    }
}
