using System.Buffers.Binary;
using PathProbe.Capture;
using static PathProbe.Tests.Support.PacketBuilder;

namespace PathProbe.Tests.Support;

public enum TunnelKind { Gre, Vxlan, Pppoe }

/// <summary>
/// Makes a tunnelled copy of an Ethernet/IPv4 capture: every frame's IP packet wrapped in Ethernet + IPv4 + GRE, in
/// Ethernet + IPv4 + UDP + VXLAN + the original Ethernet header, or in Ethernet + PPPoE + PPP, as a capture on the
/// tunnel's underlay (or the DSL link) would show it. The kernel here has no GRE or VXLAN devices, so the frames are
/// built, the same way for every run: the output is byte-for-byte reproducible.
/// </summary>
/// <remarks>
/// Tunnel endpoints are 192.0.2.1 (the side of the capture's first sender) and 192.0.2.2; each direction numbers its
/// outer IPv4 ids from 1 and copies DF from the inner packet, as Linux tunnels do by default (pmtudisc). VXLAN's
/// source port is a hash of the inner 5-tuple (RFC 7348 5), VNI 42; PPPoE session 0x002a. Timestamps are kept.
/// </remarks>
public static class TunnelWrapper
{
    public const string EndpointA = "192.0.2.1";
    public const string EndpointB = "192.0.2.2";
    private static readonly byte[] RouterA = [0x00, 0x00, 0x5e, 0x00, 0x53, 0xa1];
    private static readonly byte[] RouterB = [0x00, 0x00, 0x5e, 0x00, 0x53, 0xb2];

    public static string Suffix(TunnelKind kind) => kind switch { TunnelKind.Gre => "gre", TunnelKind.Vxlan => "vxlan", _ => "pppoe" };

    /// <summary>Encapsulation layers and MTU overhead PathProbe must report for the wrapped flows.</summary>
    public static (string Layers, int MtuOverhead) Expected(TunnelKind kind) => kind switch
    {
        TunnelKind.Gre => ("ipv4/gre", 24),
        TunnelKind.Vxlan => ("ipv4/vxlan/eth", 50),
        _ => ("pppoe", 8),
    };

    /// <summary>The wrapped capture as a pcap file (little-endian, microseconds, EN10MB).</summary>
    public static byte[] Wrap(string sourcePcap, TunnelKind kind)
    {
        using var source = CaptureFile.Open(sourcePcap);
        var output = new MemoryStream();
        var header = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xa1b2c3d4);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(6), 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), 262144);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(20), LinkTypes.Ethernet);
        output.Write(header);

        uint? firstSender = null;
        ushort idAtoB = 0, idBtoA = 0;
        while (source.TryRead(out var frame))
        {
            if (frame.LinkType != LinkTypes.Ethernet || frame.Data.Length < 34 || BinaryPrimitives.ReadUInt16BigEndian(frame.Data.Slice(12)) != 0x0800)
                throw new InvalidOperationException($"{sourcePcap}: only untagged Ethernet/IPv4 frames can be wrapped");
            ReadOnlySpan<byte> ip = frame.Data.Slice(14);
            int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(2));
            byte[] packet = ip.Slice(0, Math.Min(totalLength, ip.Length)).ToArray(); // without Ethernet padding
            uint src = BinaryPrimitives.ReadUInt32BigEndian(ip.Slice(12));
            firstSender ??= src;
            bool aToB = src == firstSender;
            bool df = (ip[6] & 0x40) != 0;
            ushort id = aToB ? ++idAtoB : ++idBtoA;
            string outerSrc = aToB ? EndpointA : EndpointB, outerDst = aToB ? EndpointB : EndpointA;
            byte[] dstMac = aToB ? RouterB : RouterA, srcMac = aToB ? RouterA : RouterB;

            byte[] wrapped = kind switch
            {
                TunnelKind.Gre => Ethernet(0x0800, Ipv4(47, Gre(0x0800, packet), outerSrc, outerDst, id, df), dstMac, srcMac),
                TunnelKind.Vxlan => Ethernet(0x0800,
                    Ipv4(17, Udp(EntropyPort(packet), 4789, Vxlan(42, Concat(frame.Data.Slice(0, 14).ToArray(), packet))), outerSrc, outerDst, id, df),
                    dstMac, srcMac),
                _ => Ethernet(0x8864, Pppoe(0x002a, 0x0021, packet), dstMac, srcMac),
            };

            long micros = frame.Time.UnixNanoseconds / 1000;
            var record = new byte[16];
            BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)(micros / 1_000_000));
            BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(4), (uint)(micros % 1_000_000));
            BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(8), (uint)wrapped.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(12), (uint)wrapped.Length);
            output.Write(record);
            output.Write(wrapped);
        }
        if (!source.End.IsClean) throw new InvalidOperationException($"{sourcePcap}: {source.End}");
        return output.ToArray();
    }

    /// <summary>RFC 7348 5: the source port is a hash of the inner headers, in the dynamic range; both directions of one
    /// inner flow get the same one (the hash is over the sorted endpoints).</summary>
    private static ushort EntropyPort(byte[] ip)
    {
        int headerLength = (ip[0] & 0x0F) * 4;
        uint a = BinaryPrimitives.ReadUInt32BigEndian(ip.AsSpan(12)), b = BinaryPrimitives.ReadUInt32BigEndian(ip.AsSpan(16));
        uint pa = BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(headerLength)), pb = BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(headerLength + 2));
        ulong x = a < b || (a == b && pa < pb) ? ((ulong)a << 32 | b) ^ (pa << 16 | pb) : ((ulong)b << 32 | a) ^ (pb << 16 | pa);
        x = (x ^ (x >> 31)) * 0x9E3779B97F4A7C15UL;
        return (ushort)(49152 + (x >> 40) % 16384);
    }
}
