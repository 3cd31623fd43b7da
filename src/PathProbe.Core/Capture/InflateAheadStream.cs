using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace PathProbe.Capture;

/// <summary>
/// Reads a (decompressing) stream on its own thread, ahead of the reader: decompression and analysis run on two
/// cores at once. The hand-off is a fixed set of <see cref="BlockCount"/> blocks of <see cref="BlockSize"/> bytes
/// that go round between the two threads, so memory stays constant whatever the file's size.
/// </summary>
/// <remarks>
/// Every byte the inner stream delivered before it failed is handed out first; the failure (a damaged or cut
/// gzip stream) is then thrown from <see cref="Read(Span{byte})"/> with its original type and message, at the
/// same position as without this stream. One reader thread only.
/// </remarks>
internal sealed class InflateAheadStream : Stream
{
    internal const int BlockSize = 1 << 20;
    internal const int BlockCount = 4;

    private readonly record struct Block(byte[] Data, int Length, ExceptionDispatchInfo? Error);

    private readonly Stream _inner;
    private readonly BlockingCollection<byte[]> _free = new(BlockCount);
    private readonly BlockingCollection<Block> _full = new(BlockCount);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private Block _current;
    private int _pos;
    private bool _end;
    private bool _disposed;

    public InflateAheadStream(Stream inner)
    {
        _inner = inner;
        for (int i = 0; i < BlockCount; i++) _free.Add(new byte[BlockSize]);
        _thread = new Thread(Produce) { IsBackground = true, Name = "pathprobe-inflate" };
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
                    while (n < buffer.Length)
                    {
                        int r = _inner.Read(buffer, n, buffer.Length - n);
                        if (r <= 0) break;
                        n += r;
                    }
                }
                catch (Exception ex)
                {
                    error = ExceptionDispatchInfo.Capture(ex);
                }
                _full.Add(new Block(buffer, n, error), _stop.Token);
                if (n < buffer.Length) return; // end of stream or failure: nothing follows
            }
        }
        catch (OperationCanceledException)
        {
            // disposed while the reader was not taking blocks
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (buffer.IsEmpty) return 0;
        while (_current.Data is null || _pos == _current.Length)
        {
            if (_current.Data is not null)
            {
                if (_current.Length < BlockSize)
                {
                    _end = true;
                    _current.Error?.Throw();
                }
                _free.Add(_current.Data);
                _current = default;
            }
            if (_end) return 0;
            _current = _full.Take();
            _pos = 0;
        }
        int count = Math.Min(buffer.Length, _current.Length - _pos);
        _current.Data.AsSpan(_pos, count).CopyTo(buffer);
        _pos += count;
        return count;
    }

    public override bool CanRead => !_disposed;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

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
