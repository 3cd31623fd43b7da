using System.Buffers.Binary;
using System.Text;
using PathProbe.Primitives;

namespace PathProbe.Capture;

/// <summary>
/// Writes a little-endian pcapng file (draft-ietf-opsawg-pcapng): one section header block (shb_userappl
/// "PathProbe"), one interface description block per <see cref="AddInterface"/> (if_tsresol = 9, nanoseconds) and an
/// enhanced packet block per frame, and interface statistics blocks (ISB) when asked, as dumpcap writes them at the end
/// of each file. Blocks are assembled in one reusable buffer and written in large chunks that always end at a block
/// boundary, so writing a packet allocates nothing and a file cut at a failed write keeps every whole block before
/// it. Not thread-safe.
/// </summary>
public sealed class PcapNgWriter : IDisposable
{
    private const uint SectionHeaderType = 0x0A0D0D0A;
    private const uint InterfaceDescriptionType = 1;
    private const uint EnhancedPacketType = 6;
    private const uint InterfaceStatisticsType = 5;
    private const ushort IsbStartTime = 2;
    private const ushort IsbEndTime = 3;
    private const ushort IsbIfRecv = 4;
    private const ushort IsbIfDrop = 5;
    private const ushort IsbFilterAccept = 6;
    private const ushort IsbOsDrop = 7;
    private const ushort IsbUsrDeliv = 8;
    private const uint ByteOrderMagic = 0x1A2B3C4D;
    private const ushort OptEndOfOpt = 0;
    private const ushort OptComment = 1;
    private const ushort ShbUserAppl = 4;
    private const ushort IfName = 2;
    private const ushort IfDescription = 3;
    private const ushort IfTsResol = 9;
    private const byte NanosecondResolution = 9;
    private const int EpbFixedLength = 32; // header 8 + 20 fixed fields + trailing length 4
    private const int DefaultBufferSize = 256 * 1024;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private byte[] _buffer = new byte[DefaultBufferSize];
    private int _length;
    private readonly List<int> _snapLengths = new();
    private bool _disposed;

    /// <param name="stream">Where to write; owned by the writer unless <paramref name="leaveOpen"/>.</param>
    /// <param name="comment">Optional section comment (opt_comment).</param>
    public PcapNgWriter(Stream stream, bool leaveOpen = false, string? comment = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _leaveOpen = leaveOpen;
        WriteSectionHeader(comment);
    }

    /// <summary>Creates (or overwrites) <paramref name="path"/>.</summary>
    public static PcapNgWriter Create(string path, string? comment = null) =>
        new(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0), leaveOpen: false, comment);

    /// <summary>Bytes of blocks produced so far (written or still buffered): the file's size once flushed.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Number of interfaces described so far.</summary>
    public int InterfaceCount => _snapLengths.Count;

    /// <summary>Writes an interface description block and returns its index for <see cref="WritePacket"/>.</summary>
    /// <param name="snapLength">Largest captured length (0 = unlimited); longer frames are cut to it.</param>
    public int AddInterface(int linkType, int snapLength = 262_144, string? name = null, string? description = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(linkType);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(linkType, ushort.MaxValue);
        ArgumentOutOfRangeException.ThrowIfNegative(snapLength);

        int length = 8 + 8 + OptionSize(name) + OptionSize(description) + 8 /* if_tsresol */ + 4 /* end */ + 4;
        var b = Reserve(length);
        BinaryPrimitives.WriteUInt32LittleEndian(b, InterfaceDescriptionType);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], (uint)length);
        BinaryPrimitives.WriteUInt16LittleEndian(b[8..], (ushort)linkType);
        BinaryPrimitives.WriteUInt16LittleEndian(b[10..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(b[12..], (uint)snapLength);
        int p = 16;
        p += WriteOption(b[p..], IfName, name);
        p += WriteOption(b[p..], IfDescription, description);
        p += WriteOption(b[p..], IfTsResol, [NanosecondResolution]);
        BinaryPrimitives.WriteUInt32LittleEndian(b[p..], OptEndOfOpt); // code 0, length 0
        p += 4;
        BinaryPrimitives.WriteUInt32LittleEndian(b[p..], (uint)length);
        Commit(length);
        _snapLengths.Add(snapLength);
        return _snapLengths.Count - 1;
    }

    /// <summary>Writes <paramref name="frame"/> on interface <see cref="RawFrame.InterfaceIndex"/>.</summary>
    public void Write(in RawFrame frame) =>
        WritePacket(frame.InterfaceIndex, frame.Time, frame.Data, frame.OriginalLength);

    /// <summary>Writes an enhanced packet block. Times before 1970 are written as 0 (pcapng timestamps are
    /// unsigned); <paramref name="originalLength"/> below the data length is raised to it.</summary>
    public void WritePacket(int interfaceIndex, Timestamp time, ReadOnlySpan<byte> data, int originalLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)interfaceIndex >= (uint)_snapLengths.Count)
            throw new ArgumentOutOfRangeException(nameof(interfaceIndex), interfaceIndex,
                "no interface with this index was added to the writer");
        int snap = _snapLengths[interfaceIndex];
        int original = Math.Max(originalLength, data.Length);
        if (snap != 0 && data.Length > snap) data = data[..snap];

        int padded = (data.Length + 3) & ~3;
        int length = EpbFixedLength + padded;
        var b = Reserve(length);
        BinaryPrimitives.WriteUInt32LittleEndian(b, EnhancedPacketType);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], (uint)length);
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], (uint)interfaceIndex);
        WriteTicks(b[12..], time);
        BinaryPrimitives.WriteUInt32LittleEndian(b[20..], (uint)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(b[24..], (uint)original);
        data.CopyTo(b[28..]);
        b.Slice(28 + data.Length, padded - data.Length).Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(b[(28 + padded)..], (uint)length);
        Commit(length);
    }

    /// <summary>Writes an interface statistics block (§4.6) for <paramref name="interfaceIndex"/>: its timestamp is
    /// <see cref="InterfaceStatistics.Time"/>; isb_starttime, isb_endtime, isb_ifrecv, isb_ifdrop, isb_filteraccept,
    /// isb_osdrop and isb_usrdeliv as far as <paramref name="stats"/> has them (counters cumulative since the capture
    /// started, like pcap_stats).</summary>
    public void WriteInterfaceStatistics(int interfaceIndex, InterfaceStatistics stats, string? comment = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(stats);
        if ((uint)interfaceIndex >= (uint)_snapLengths.Count)
            throw new ArgumentOutOfRangeException(nameof(interfaceIndex), interfaceIndex, "no interface with this index was added to the writer");
        int options = OptionSize(comment) + 4 /* end */;
        foreach (var v in new object?[] { stats.StartTime, stats.EndTime, stats.Received, stats.InterfaceDropped, stats.FilterAccepted, stats.OsDropped, stats.Delivered })
            if (v is not null) options += 12;
        int length = 20 + options + 4;
        var b = Reserve(length);
        BinaryPrimitives.WriteUInt32LittleEndian(b, InterfaceStatisticsType);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], (uint)length);
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], (uint)interfaceIndex);
        WriteTicks(b[12..], stats.Time);
        int p = 20;
        p += WriteOption(b[p..], OptComment, comment);
        if (stats.StartTime is { } start) p += WriteTimeOption(b[p..], IsbStartTime, start);
        if (stats.EndTime is { } end) p += WriteTimeOption(b[p..], IsbEndTime, end);
        if (stats.Received is { } recv) p += WriteCounter(b[p..], IsbIfRecv, recv);
        if (stats.InterfaceDropped is { } ifDrop) p += WriteCounter(b[p..], IsbIfDrop, ifDrop);
        if (stats.FilterAccepted is { } accepted) p += WriteCounter(b[p..], IsbFilterAccept, accepted);
        if (stats.OsDropped is { } osDrop) p += WriteCounter(b[p..], IsbOsDrop, osDrop);
        if (stats.Delivered is { } delivered) p += WriteCounter(b[p..], IsbUsrDeliv, delivered);
        BinaryPrimitives.WriteUInt32LittleEndian(b[p..], OptEndOfOpt);
        p += 4;
        BinaryPrimitives.WriteUInt32LittleEndian(b[p..], (uint)length);
        Commit(length);
    }

    /// <summary>A pcapng timestamp (nanoseconds, the writer's if_tsresol) as two 32-bit words, high first; times before
    /// 1970 as 0 (pcapng timestamps are unsigned).</summary>
    private static void WriteTicks(Span<byte> b, Timestamp time)
    {
        ulong ticks = time.UnixNanoseconds < 0 ? 0 : (ulong)time.UnixNanoseconds;
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)(ticks >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], (uint)ticks);
    }

    private static int WriteTimeOption(Span<byte> b, ushort code, Timestamp time)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(b, code);
        BinaryPrimitives.WriteUInt16LittleEndian(b[2..], 8);
        WriteTicks(b[4..], time);
        return 12;
    }

    private static int WriteCounter(Span<byte> b, ushort code, long value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(b, code);
        BinaryPrimitives.WriteUInt16LittleEndian(b[2..], 8);
        BinaryPrimitives.WriteUInt64LittleEndian(b[4..], (ulong)Math.Max(0, value));
        return 12;
    }

    /// <summary>Writes buffered blocks to the stream and flushes it.</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Drain();
        _stream.Flush();
    }

    public void Dispose()
    {
        if (_disposed) return;
        try
        {
            Drain();
            _stream.Flush();
        }
        finally
        {
            _disposed = true;
            if (!_leaveOpen) _stream.Dispose();
        }
    }

    private void WriteSectionHeader(string? comment)
    {
        int length = 24 + OptionSize(comment) + OptionSize("PathProbe") + 4 + 4;
        var b = Reserve(length);
        BinaryPrimitives.WriteUInt32LittleEndian(b, SectionHeaderType);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], (uint)length);
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], ByteOrderMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(b[12..], 1); // major
        BinaryPrimitives.WriteUInt16LittleEndian(b[14..], 0); // minor
        BinaryPrimitives.WriteInt64LittleEndian(b[16..], -1); // section length not specified
        int p = 24;
        p += WriteOption(b[p..], OptComment, comment);
        p += WriteOption(b[p..], ShbUserAppl, "PathProbe");
        BinaryPrimitives.WriteUInt32LittleEndian(b[p..], OptEndOfOpt);
        p += 4;
        BinaryPrimitives.WriteUInt32LittleEndian(b[p..], (uint)length);
        Commit(length);
    }

    private static int OptionSize(string? text) =>
        string.IsNullOrEmpty(text) ? 0 : 4 + ((Math.Min(Encoding.UTF8.GetByteCount(text), ushort.MaxValue - 3) + 3) & ~3);

    private static int WriteOption(Span<byte> b, ushort code, string? text)
    {
        if (string.IsNullOrEmpty(text)) return 0;
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        return WriteOption(b, code, bytes.AsSpan(0, Math.Min(bytes.Length, ushort.MaxValue - 3)));
    }

    private static int WriteOption(Span<byte> b, ushort code, ReadOnlySpan<byte> value)
    {
        int padded = (value.Length + 3) & ~3;
        BinaryPrimitives.WriteUInt16LittleEndian(b, code);
        BinaryPrimitives.WriteUInt16LittleEndian(b[2..], (ushort)value.Length);
        value.CopyTo(b[4..]);
        b.Slice(4 + value.Length, padded - value.Length).Clear();
        return 4 + padded;
    }

    private Span<byte> Reserve(int length)
    {
        if (_buffer.Length - _length < length)
        {
            Drain();
            if (_buffer.Length < length)
                _buffer = new byte[length];
        }
        return _buffer.AsSpan(_length, length);
    }

    private void Commit(int length)
    {
        _length += length;
        BytesWritten += length;
    }

    private void Drain()
    {
        if (_length == 0) return;
        _stream.Write(_buffer, 0, _length);
        _length = 0;
    }
}
