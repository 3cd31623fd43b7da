using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PathProbe.Capture;

/// <summary>
/// Shared streaming machinery of the file readers: one large reusable buffer, refilled by moving the unread tail
/// to the front and grown only when a single record is larger (up to <see cref="MaxBufferSize"/>).
/// <see cref="RawFrame.Data"/> is a span into that buffer: it stays valid until the next <see cref="TryRead"/>
/// on the same source (or <see cref="Dispose"/>).
/// </summary>
internal abstract class CaptureReader : IPacketSource, IFrameLocator
{
    internal const int DefaultBufferSize = 1 << 20;
    /// <summary>No single record (pcap packet or pcapng block) may be larger than this; see the readers' limits.</summary>
    internal const int MaxBufferSize = 64 << 20;

    private enum Fill { Ok, EndOfStream, Error }

    private readonly Stream _stream;
    /// <summary>The stream when it is read ahead on its own thread: its blocks become the buffer, without a copy.</summary>
    private readonly ReadAheadStream? _ahead;
    private byte[] _buffer;
    private int _pos;          // first unread byte
    private int _len;          // end of valid data
    private long _bufferBase;  // stream offset of _buffer[0]
    private bool _eof;
    private string? _ioError;
    private bool _disposed;
    private SourceEnd _end;

    protected readonly string DisplayName;

    protected CaptureReader(Stream stream, ReadOnlySpan<byte> alreadyRead, int bufferSize, CaptureInfo info)
    {
        _stream = stream;
        _ahead = stream as ReadAheadStream;
        // Read ahead, the first block becomes the buffer: this one only holds what was read while opening.
        _buffer = new byte[Math.Max(_ahead is null ? bufferSize : 0, Math.Max(64, alreadyRead.Length))];
        alreadyRead.CopyTo(_buffer);
        _len = alreadyRead.Length;
        Info = info;
        DisplayName = info.Path;
    }

    public CaptureInfo Info { get; }

    public SourceEnd End => _end;

    /// <inheritdoc />
    public long FrameDataOffset { get; private set; }

    /// <summary>The exception a reader bug threw, when reading ended with "internal error while reading".</summary>
    internal Exception? InternalError { get; private set; }

    /// <summary>Number of frames handed out so far.</summary>
    public long FramesRead { get; private set; }

    /// <summary>Stream offset (of the decompressed capture) of the next unread byte.</summary>
    protected long Offset => _bufferBase + _pos;

    protected int Available => _len - _pos;

    public bool TryRead(out RawFrame frame)
    {
        if (_end.Kind != SourceEndKind.None)
        {
            frame = default;
            return false;
        }
        try
        {
            if (ReadNext(out frame))
            {
                FramesRead++;
                // Data is a span into _buffer (the readers hand out Peek spans), so its place in the stream follows.
                FrameDataOffset = _bufferBase + Unsafe.ByteOffset(ref MemoryMarshal.GetArrayDataReference(_buffer), ref MemoryMarshal.GetReference(frame.Data));
                return true;
            }
        }
        catch (Exception ex)
        {
            // A reader bug must not take down the analysis; report it like an I/O failure. The fuzz harness rethrows it.
            InternalError = ex;
            frame = default;
            SetEnd(SourceEndKind.Error, Offset, "internal error while reading: " + ex.Message);
            return false;
        }
        if (_end.Kind == SourceEndKind.None)
            SetEnd(SourceEndKind.Error, Offset, "reader stopped without a reason");
        return false;
    }

    /// <summary>Reads the next frame, or sets <see cref="End"/> and returns false.</summary>
    protected abstract bool ReadNext(out RawFrame frame);

    protected void SetEnd(SourceEndKind kind, long offset, string? reason)
    {
        if (_end.Kind == SourceEndKind.None)
            _end = new SourceEnd(kind, offset, reason);
    }

    /// <summary>Makes <paramref name="count"/> bytes available at the read position. On false, <see cref="End"/> is
    /// set: EndOfInput when the stream ends exactly at <see cref="Offset"/>, Truncated (described by
    /// <paramref name="what"/> and <paramref name="number"/>, e.g. "packet record" 12) when it ends inside the
    /// record, Error when reading failed. The description is only formatted on failure.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected bool Ensure(int count, string what, long number, bool cleanEndAllowed)
    {
        if (_len - _pos >= count) return true;
        return EnsureSlow(count, what, number, cleanEndAllowed);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool EnsureSlow(int count, string what, long number, bool cleanEndAllowed)
    {
        switch (FillTo(count))
        {
            case Fill.Ok:
                return true;
            case Fill.EndOfStream:
                if (cleanEndAllowed && Available == 0)
                    SetEnd(SourceEndKind.EndOfInput, Offset, null);
                else
                    SetEnd(SourceEndKind.Truncated, Offset, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"file ends inside {what} {number} (needs {count} bytes, {Available} available)"));
                return false;
            default:
                SetEnd(SourceEndKind.Error, Offset, "read failed: " + _ioError);
                return false;
        }
    }

    /// <summary>Like <see cref="Ensure"/> but for the file header read while opening: failures throw.</summary>
    protected void EnsureHeader(int count, string what)
    {
        switch (FillTo(count))
        {
            case Fill.Ok:
                return;
            case Fill.EndOfStream:
                throw new CaptureFormatException(
                    $"'{DisplayName}' ends inside the {what} (needs {count} bytes, {Available} available): not a usable capture file");
            default:
                throw new CaptureFormatException($"'{DisplayName}' cannot be read: {_ioError}");
        }
    }

    private Fill FillTo(int count)
    {
        if (_ioError is not null) return Fill.Error;
        if (_len - _pos >= count) return Fill.Ok;
        if (_ahead is not null) return FillFromBlocks(count);
        if (count > _buffer.Length)
            Grow(count);
        else if (_pos + count > _buffer.Length)
            Compact();

        while (_len - _pos < count)
        {
            if (_eof) return Fill.EndOfStream;
            int n;
            try
            {
                // Read as much as fits, not just what is needed: fewer, larger reads.
                n = _stream.Read(_buffer, _len, _buffer.Length - _len);
            }
            catch (Exception ex)
            {
                _ioError = ex.Message;
                return Fill.Error;
            }
            if (n <= 0) _eof = true;
            else _len += n;
        }
        return Fill.Ok;
    }

    /// <summary><see cref="FillTo"/> from a <see cref="ReadAheadStream"/>: each block read ahead becomes the buffer,
    /// with the unread end of the previous buffer (the start of a record the block's edge cut) copied in front of its
    /// data; the previous buffer goes back to be read into. A record longer than the room in front is rare: then
    /// the block's data is copied after it instead.</summary>
    private Fill FillFromBlocks(int count)
    {
        while (_len - _pos < count)
        {
            if (_eof) return Fill.EndOfStream;
            byte[] block;
            int start, n;
            try
            {
                if (!_ahead!.TakeBlock(out block, out start, out n))
                {
                    _eof = true;
                    continue;
                }
            }
            catch (Exception ex)
            {
                _ioError = ex.Message;
                return Fill.Error;
            }
            int unread = _len - _pos;
            if (unread <= start)
            {
                Buffer.BlockCopy(_buffer, _pos, block, start - unread, unread);
                var previous = _buffer;
                _bufferBase += _pos - (start - unread);
                _buffer = block;
                _pos = start - unread;
                _len = start + n;
                _ahead.ReturnBlock(previous);
            }
            else
            {
                if (unread + n > _buffer.Length) Grow(unread + n);
                else if (_len + n > _buffer.Length) Compact();
                Buffer.BlockCopy(block, start, _buffer, _len, n);
                _len += n;
                _ahead.ReturnBlock(block);
            }
        }
        return Fill.Ok;
    }

    private void Compact()
    {
        int unread = _len - _pos;
        if (unread > 0)
            Buffer.BlockCopy(_buffer, _pos, _buffer, 0, unread);
        _bufferBase += _pos;
        _pos = 0;
        _len = unread;
    }

    private void Grow(int count)
    {
        int size = (int)Math.Min(Math.Max((long)_buffer.Length * 2, count), Math.Max(count, MaxBufferSize));
        var bigger = new byte[size];
        int unread = _len - _pos;
        Buffer.BlockCopy(_buffer, _pos, bigger, 0, unread);
        _bufferBase += _pos;
        _pos = 0;
        _len = unread;
        _buffer = bigger;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected ReadOnlySpan<byte> Peek(int offset, int length) => new(_buffer, _pos + offset, length);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected void Advance(int count) => _pos += count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected static uint U32(ReadOnlySpan<byte> s, bool bigEndian) =>
        bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected static ushort U16(ReadOnlySpan<byte> s, bool bigEndian) =>
        bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(s) : BinaryPrimitives.ReadUInt16LittleEndian(s);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        SetEnd(SourceEndKind.Error, Offset, "source disposed");
        _stream.Dispose();
    }
}
