using System.Buffers.Binary;
using System.Text;

namespace PathProbe.Tests.Capture;

/// <summary>Builds small pcap/pcapng images in either byte order for the reader tests.</summary>
internal sealed class CaptureBytes(bool bigEndian)
{
    private readonly List<byte> _bytes = new();

    public byte[] ToArray() => _bytes.ToArray();
    public int Length => _bytes.Count;

    public CaptureBytes U8(byte v) { _bytes.Add(v); return this; }
    public CaptureBytes U16(ushort v)
    {
        Span<byte> b = stackalloc byte[2];
        if (bigEndian) BinaryPrimitives.WriteUInt16BigEndian(b, v); else BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        _bytes.AddRange(b.ToArray());
        return this;
    }
    public CaptureBytes U32(uint v)
    {
        Span<byte> b = stackalloc byte[4];
        if (bigEndian) BinaryPrimitives.WriteUInt32BigEndian(b, v); else BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        _bytes.AddRange(b.ToArray());
        return this;
    }
    public CaptureBytes U64(ulong v) => bigEndian ? U32((uint)(v >> 32)).U32((uint)v) : U32((uint)v).U32((uint)(v >> 32));
    public CaptureBytes Raw(params byte[] b) { _bytes.AddRange(b); return this; }

    // ---- pcap ----
    public CaptureBytes PcapHeader(bool nanos = false, uint snaplen = 65535, uint linkType = 1) =>
        U32(nanos ? 0xa1b23c4du : 0xa1b2c3d4u).U16(2).U16(4).U32(0).U32(0).U32(snaplen).U32(linkType);

    public CaptureBytes PcapRecord(uint seconds, uint fraction, byte[] data, uint? origLen = null) =>
        U32(seconds).U32(fraction).U32((uint)data.Length).U32(origLen ?? (uint)data.Length).Raw(data);

    // ---- pcapng ----
    public static byte[] Option(bool bigEndian, ushort code, byte[] value)
    {
        var o = new CaptureBytes(bigEndian).U16(code).U16((ushort)value.Length).Raw(value);
        while (o.Length % 4 != 0) o.U8(0);
        return o.ToArray();
    }

    public byte[] Opt(ushort code, string text) => Option(bigEndian, code, Encoding.UTF8.GetBytes(text));
    public byte[] Opt(ushort code, params byte[] value) => Option(bigEndian, code, value);
    public byte[] EndOpt() => Option(bigEndian, 0, []);

    public CaptureBytes Block(uint type, byte[] body)
    {
        var padded = body.ToList();
        while (padded.Count % 4 != 0) padded.Add(0);
        uint total = (uint)(12 + padded.Count);
        return U32(type).U32(total).Raw(padded.ToArray()).U32(total);
    }

    public CaptureBytes Shb(params byte[][] options)
    {
        var body = new CaptureBytes(bigEndian).U32(0x1A2B3C4D).U16(1).U16(0).U64(ulong.MaxValue);
        foreach (var o in options) body.Raw(o);
        return Block(0x0A0D0D0A, body.ToArray());
    }

    public CaptureBytes Idb(ushort linkType, uint snaplen, params byte[][] options)
    {
        var body = new CaptureBytes(bigEndian).U16(linkType).U16(0).U32(snaplen);
        foreach (var o in options) body.Raw(o);
        return Block(1, body.ToArray());
    }

    public CaptureBytes Epb(uint iface, ulong ticks, byte[] data, uint? origLen = null)
    {
        var body = new CaptureBytes(bigEndian).U32(iface).U32((uint)(ticks >> 32)).U32((uint)ticks)
            .U32((uint)data.Length).U32(origLen ?? (uint)data.Length).Raw(data);
        return Block(6, body.ToArray());
    }

    public CaptureBytes Spb(uint origLen, byte[] data)
    {
        var body = new CaptureBytes(bigEndian).U32(origLen).Raw(data);
        return Block(3, body.ToArray());
    }

    public static byte[] Bytes(int count, byte start = 0) =>
        Enumerable.Range(0, count).Select(i => (byte)(start + i)).ToArray();
}
