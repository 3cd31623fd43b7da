using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace PathProbe.Capture;

/// <summary>
/// Reads a stream on its own thread, ahead of the reader: the file's reading (the kernel's copy from the page cache)
/// or its decompression runs on one core and the analysis on another. The hand-off is a fixed set of blocks of
/// <see cref="BlockSize"/> bytes that go round between the two threads, so memory stays constant whatever the file's
/// size.
/// </summary>
/// <remarks>
/// <para>Two ways to read: as a <see cref="Stream"/> (<see cref="Read(Span{byte})"/> copies out of the blocks), or
/// without a copy (<see cref="TakeBlock"/>: the capture reader takes a block as its buffer and gives its previous
/// buffer back, <see cref="ReturnBlock"/>). Each block's data starts after <see cref="Headroom"/> free bytes, where
/// the capture reader puts the unread end of its previous buffer (the start of a record cut by the block's edge), so
/// the record is whole without moving the block's data.</para>
/// <para>Every byte the inner stream delivered before it failed is handed out first; the failure (a damaged or cut
/// gzip stream, a read error) is then thrown with its original type and message, at the same position as without this
/// stream. One reader thread only.</para>
/// </remarks>
internal sealed class ReadAheadStream : ReadOnlyStream
{
    internal const int BlockSize = 1 << 20;
    /// <summary>Free bytes before each block's data: room for the unread end of the reader's previous buffer (a record
    /// up to 256 KiB, the usual snapshot length; a longer one is copied instead).</summary>
    internal const int Headroom = 256 << 10;
    /// <summary>Blocks in the ring for decompression (inflating is the slow side: more blocks smooth it).</summary>
    internal const int InflateBlocks = 4;
    /// <summary>Blocks in the ring for a plain file (one filling while the reader works through another).</summary>
    internal const int FileBlocks = 2;

    private const int BlockLength = Headroom + BlockSize;

    private readonly record struct Block(byte[] Data, int Length, ExceptionDispatchInfo? Error);

    private readonly Stream _inner;
    private readonly BlockingCollection<byte[]> _free = new();
    private readonly BlockingCollection<Block> _full;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private Block _current;
    private int _pos;
    private bool _end;
    private ExceptionDispatchInfo? _endError;
    private bool _disposed;

    public ReadAheadStream(Stream inner, int blocks, string threadName)
    {
        _inner = inner;
        _full = new BlockingCollection<Block>(blocks);
        for (int i = 0; i < blocks; i++) _free.Add(new byte[BlockLength]);
        _thread = new Thread(Produce) { IsBackground = true, Name = threadName };
        _thread.Start();
    }

    private void Produce()
    {
        try
        {
            while (true)
            {
                byte[] buffer = _free.Take(_stop.Token);
                int n = 0;
                ExceptionDispatchInfo? error = null;
                try
                {
                    // Whole blocks: fewer hand-offs. A short block is the end of the stream (or a failure).
                    while (n < BlockSize)
                    {
                        int r = _inner.Read(buffer, Headroom + n, BlockSize - n);
                        if (r <= 0) break;
                        n += r;
                    }
                }
                catch (Exception ex)
                {
                    error = ExceptionDispatchInfo.Capture(ex);
                }
                _full.Add(new Block(buffer, n, error), _stop.Token);
                if (n < BlockSize) return; // end of stream or failure: nothing follows
            }
        }
        catch (OperationCanceledException)
        {
            // disposed while the reader was not taking blocks
        }
    }

    /// <summary>The next data without a copy: <paramref name="block"/> holds <paramref name="length"/> bytes from
    /// <paramref name="start"/> (at least <see cref="Headroom"/> bytes are free before the data of a block not read
    /// from yet through <see cref="Read(Span{byte})"/>). The block is the caller's until it gives it back with
    /// <see cref="ReturnBlock"/> (it, or the buffer it replaced: one buffer back for each block taken). False at the
    /// end of the stream; a failure of the inner stream is thrown once the data before it was taken.</summary>
    internal bool TakeBlock(out byte[] block, out int start, out int length)
    {
        if (!Advance())
        {
            block = [];
            start = length = 0;
            return false;
        }
        // Handed out whole: whether it was the last block is noted now, since it no longer comes back through Advance.
        if (_current.Length < BlockSize) { _end = true; _endError = _current.Error; }
        block = _current.Data!;
        start = Headroom + _pos;
        length = _current.Length - _pos;
        _current = default;
        _pos = 0;
        return true;
    }

    /// <summary>Makes the current block one with unread data: an exhausted block goes back to be read into and the next
    /// is taken. False at the end of the stream, once every byte before it was handed out; a failure of the inner
    /// stream is thrown then, with its original type and message.</summary>
    private bool Advance()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (_current.Data is null || _pos == _current.Length)
        {
            if (_current.Data is { } data)
            {
                if (_current.Length < BlockSize) { _end = true; _endError = _current.Error; }
                _free.Add(data);
                _current = default;
            }
            if (_end)
            {
                _endError?.Throw();
                return false;
            }
            _current = _full.Take();
            _pos = 0;
        }
        return true;
    }

    /// <summary>Gives a buffer back for reading into: a block taken, or the buffer one replaced (a buffer of another
    /// size is replaced by a new block, so the ring keeps its size).</summary>
    internal void ReturnBlock(byte[] buffer)
    {
        if (_disposed) return;
        _free.Add(buffer.Length == BlockLength ? buffer : new byte[BlockLength]);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (buffer.IsEmpty || !Advance()) return 0;
        int count = Math.Min(buffer.Length, _current.Length - _pos);
        _current.Data.AsSpan(Headroom + _pos, count).CopyTo(buffer);
        _pos += count;
        return count;
    }

    public override bool CanRead => !_disposed;

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _stop.Cancel();
            _thread.Join(); // at most one inner read away; the inner stream is then no longer in use
            _inner.Dispose();
            _stop.Dispose();
            _free.Dispose();
            _full.Dispose();
        }
        base.Dispose(disposing);
    }
}
