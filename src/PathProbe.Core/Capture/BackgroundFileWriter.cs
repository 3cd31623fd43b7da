using System.Collections.Concurrent;
using System.Diagnostics;

namespace PathProbe.Capture;

/// <summary>
/// Writes files on a thread of its own, so that a capture thread never waits for a disk: creating, writing, flushing
/// and closing all happen there, in the order asked. The caller gets a write-only <see cref="Stream"/> per file
/// (<see cref="Open"/>) whose Write copies into one of a fixed pool of buffers and queues it; only when every buffer
/// is queued (the disk is slower than the traffic for longer than the pool lasts) does Write wait, and each wait is
/// counted (<see cref="Waits"/>, <see cref="WaitedMilliseconds"/>).
/// <para>
/// Files are created new: an existing file of that name is deleted first rather than truncated. On Linux, truncating a
/// file that has data (ext4's auto_da_alloc "replace via truncate" heuristic) makes its close() write the whole file
/// back synchronously; that is what made rotation and shutdown block for 0.15-1.2 s.
/// </para>
/// <para>
/// A write error (disk full, I/O error) stops all writing: the file is cut back to the end of the last complete write
/// — each Write call is whole blocks, so the file stays valid up to its last whole block — closed, and the error is in
/// <see cref="Error"/>; later data is counted in <see cref="BytesDiscarded"/> and dropped. Nothing is thrown to the
/// writing thread.
/// </para>
/// </summary>
public sealed class BackgroundFileWriter : IDisposable
{
    private enum Kind { Open, Data, Flush, Close, Barrier }

    private readonly record struct Work(Kind Kind, int File, string? Path, byte[]? Buffer, int Length, bool EndsBlock, ManualResetEventSlim? Done = null);

    private readonly int _bufferSize;
    private readonly BlockLength? _blockLength;

    /// <summary>The length of the record at the start of <paramref name="data"/>, 0 when it cannot be told.</summary>
    public delegate int BlockLength(ReadOnlySpan<byte> data);

    /// <summary>pcapng: a block's total length is its second 32-bit word (little-endian, as <see cref="PcapNgWriter"/>
    /// writes).</summary>
    public static int PcapNgBlockLength(ReadOnlySpan<byte> data) =>
        data.Length < 8 ? 0 : (int)Math.Min(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(data[4..]), int.MaxValue);
    private readonly BlockingCollection<Work> _queue = new(new ConcurrentQueue<Work>());
    private readonly BlockingCollection<byte[]> _free;
    private readonly Thread _thread;
    private readonly Dictionary<int, OpenFile> _files = new(); // I/O thread only
    private int _nextFile;
    private volatile string? _error;
    private volatile string? _createError;
    private long _waits, _waitedTicks, _bytesWritten, _bytesDiscarded;
    private bool _disposed;

    private sealed class OpenFile(string path, FileStream? stream)
    {
        public string Path = path;
        public FileStream? Stream = stream;
        public long Good;     // bytes written up to the end of the last complete Write call (a block boundary)
        public long Written;  // bytes written
    }

    /// <param name="buffers">Buffers in the pool: how much the disk may fall behind before Write waits.</param>
    /// <param name="bufferSize">Size of each buffer.</param>
    /// <param name="blockLength">The length of the record that starts a span (0 when unknown), so that a write that
    /// fills the disk halfway keeps the whole records that fit; null keeps only whole Write calls.</param>
    public BackgroundFileWriter(int buffers = 64, int bufferSize = 256 * 1024, BlockLength? blockLength = null)
    {
        _blockLength = blockLength;
        ArgumentOutOfRangeException.ThrowIfLessThan(buffers, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 4096);
        _bufferSize = bufferSize;
        _free = new BlockingCollection<byte[]>(new ConcurrentBag<byte[]>());
        for (int i = 0; i < buffers; i++) _free.Add(new byte[bufferSize]);
        _thread = new Thread(Run) { Name = "pathprobe file writer", IsBackground = true };
        _thread.Start();
    }

    /// <summary>The first write error, phrased for the user ("writing 'x' failed at byte N: ..."), or null.</summary>
    public string? Error => _error;
    /// <summary>The error when it was creating a file that failed ("cannot create 'x': ..."), not writing to one; null
    /// otherwise.</summary>
    public string? CreateError => _createError;
    /// <summary>Times a Write waited for a free buffer (the disk fell behind).</summary>
    public long Waits => Interlocked.Read(ref _waits);
    public long WaitedMilliseconds => Interlocked.Read(ref _waitedTicks) * 1000 / Stopwatch.Frequency;
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);
    /// <summary>Bytes not in any file because of a write error: the failed write, what was cut back to the last whole
    /// block, and everything after.</summary>
    public long BytesDiscarded => Interlocked.Read(ref _bytesDiscarded);

    /// <summary>Queues the creation of <paramref name="path"/> (replacing any file of that name, or with
    /// <paramref name="append"/> writing after its end) and returns the stream that writes to it. Disposing the stream
    /// queues the close.</summary>
    public Stream Open(string path, bool append = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int file = ++_nextFile;
        _queue.Add(new Work(Kind.Open, file, path, null, 0, EndsBlock: append));
        return new FileSink(this, file);
    }

    /// <summary>Waits until everything queued so far is on disk (in the page cache) or failed.</summary>
    public void Drain()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var done = new ManualResetEventSlim();
        _queue.Add(new Work(Kind.Barrier, 0, null, null, 0, false, done));
        done.Wait();
    }

    /// <summary>Finishes every queued write and close, then stops the thread.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _queue.CompleteAdding();
        _thread.Join();
        foreach (var f in _files.Values) CloseQuietly(f);
        _files.Clear();
    }

    private void Queue(int file, ReadOnlySpan<byte> data)
    {
        while (data.Length > 0)
        {
            if (!_free.TryTake(out var buffer))
            {
                long start = Stopwatch.GetTimestamp();
                buffer = _free.Take();
                Interlocked.Increment(ref _waits);
                Interlocked.Add(ref _waitedTicks, Stopwatch.GetTimestamp() - start);
            }
            int n = Math.Min(data.Length, buffer.Length);
            data[..n].CopyTo(buffer);
            data = data[n..];
            _queue.Add(new Work(Kind.Data, file, null, buffer, n, EndsBlock: data.Length == 0));
        }
    }

    private void Run()
    {
        foreach (var w in _queue.GetConsumingEnumerable())
        {
            try
            {
                switch (w.Kind)
                {
                    case Kind.Open:
                        DoOpen(w.File, w.Path!, append: w.EndsBlock);
                        break;
                    case Kind.Data:
                        DoWrite(w);
                        break;
                    case Kind.Flush:
                        if (_files.TryGetValue(w.File, out var ff) && ff.Stream is not null)
                            Try(ff, () => ff.Stream.Flush());
                        break;
                    case Kind.Close:
                        if (_files.Remove(w.File, out var f)) CloseQuietly(f);
                        break;
                }
            }
            catch (Exception e)
            {
                // Whatever happens here, the thread goes on: a writer that waits for a buffer or for Dispose must not hang.
                _error ??= $"the file writer failed: {e.Message}";
            }
            finally
            {
                if (w.Kind == Kind.Data) _free.Add(w.Buffer!);
                if (w.Kind == Kind.Barrier) w.Done!.Set();
            }
        }
    }

    private void DoOpen(int file, string path, bool append)
    {
        if (_error is not null) { _files[file] = new OpenFile(path, null); return; }
        try
        {
            if (append)
            {
                // A reopen (SIGHUP): what the file holds stays; the new blocks follow it.
                var tail = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0);
                _files[file] = new OpenFile(path, tail) { Good = tail.Position, Written = tail.Position };
                return;
            }
            // Replace a regular file that has data, never truncate it (see the class remarks). Devices (/dev/null,
            // /dev/full), FIFOs and empty files have no data to write back: they are opened as they are. A symbolic
            // link is written through, as tcpdump does.
            var existing = new FileInfo(path);
            if (existing.Exists && existing.Length > 0 && (existing.Attributes & FileAttributes.ReparsePoint) == 0)
                File.Delete(path);
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read, bufferSize: 0);
            if (stream.CanSeek && stream.Length > 0) stream.SetLength(0);
            _files[file] = new OpenFile(path, stream);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            if (_error is null) _error = _createError = $"cannot create '{path}': {Reason(e)}";
            _files[file] = new OpenFile(path, null);
        }
    }

    private void DoWrite(in Work w)
    {
        if (!_files.TryGetValue(w.File, out var f) || f.Stream is null || _error is not null)
        {
            Interlocked.Add(ref _bytesDiscarded, w.Length);
            return;
        }
        var buffer = w.Buffer!;
        int length = w.Length;
        if (!Try(f, () => f.Stream.Write(buffer, 0, length), buffer, length)) return;
        f.Written += length;
        if (w.EndsBlock) f.Good = f.Written;
        Interlocked.Add(ref _bytesWritten, length);
    }

    /// <summary>Runs an I/O action; on failure records the error, cuts the file back to its last whole block and closes
    /// it. For a failed write of <paramref name="chunk"/> (which starts at a block boundary when the writes before it
    /// ended one), the whole blocks of it that reached the disk before the disk filled are kept.</summary>
    private bool Try(OpenFile f, Action action, byte[]? chunk = null, int chunkLength = 0)
    {
        try
        {
            action();
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ObjectDisposedException)
        {
            long kept = 0;
            try
            {
                if (chunk is not null && _blockLength is not null && f.Written == f.Good && f.Stream!.CanSeek)
                    kept = WholeBlocks(chunk.AsSpan(0, chunkLength), f.Stream.Length - f.Written);
            }
            catch (Exception) { kept = 0; }
            f.Good += kept;
            _error ??= f.Good == 0
                ? $"writing '{f.Path}' failed: {Reason(e)}"
                : $"writing '{f.Path}' failed at byte {f.Good:#,0}: {Reason(e)}; the file is valid up to there (its last whole block)";
            // Not in the file: what was written past the last whole block (cut below), and the rest of the failed chunk.
            Interlocked.Add(ref _bytesDiscarded, f.Written + chunkLength - f.Good);
            f.Written = f.Good;
            try { if (f.Stream!.CanSeek) f.Stream.SetLength(f.Good); } catch (Exception) { /* the error above stands */ }
            CloseQuietly(f);
            return false;
        }
    }

    /// <summary>Bytes of <paramref name="chunk"/> (starting at a block) made of whole blocks within its first
    /// <paramref name="onDisk"/> bytes.</summary>
    private long WholeBlocks(ReadOnlySpan<byte> chunk, long onDisk)
    {
        long end = Math.Min(onDisk, chunk.Length);
        int pos = 0;
        while (pos < end)
        {
            int n = _blockLength!(chunk[pos..]);
            if (n <= 0 || pos + n > end) break;
            pos += n;
        }
        return pos;
    }

    /// <summary>The OS's reason without .NET's decoration ("No space left on device : '/dev/full'" is "No space left
    /// on device"; the path is said once, by the caller).</summary>
    private static string Reason(Exception e)
    {
        if (e is UnauthorizedAccessException) return "permission denied";
        string m = e.Message;
        int cut = m.IndexOf(" : '", StringComparison.Ordinal);
        if (cut > 0) m = m[..cut];
        return m.Trim().TrimEnd('.');
    }

    private static void CloseQuietly(OpenFile f)
    {
        var s = f.Stream;
        f.Stream = null;
        if (s is null) return;
        // Nothing is buffered in the FileStream (bufferSize 0): Dispose only closes the descriptor.
        try { s.Dispose(); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>The caller's side of one file: Write copies and queues, Flush queues a flush, Dispose queues the close.
    /// Single-threaded, like every stream.</summary>
    private sealed class FileSink(BackgroundFileWriter owner, int file) : Stream
    {
        private bool _closed;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => !_closed;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            owner.Queue(file, buffer);
        }

        public override void Flush()
        {
            if (!_closed && !owner._queue.IsAddingCompleted) owner._queue.Add(new Work(Kind.Flush, file, null, null, 0, false));
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_closed)
            {
                _closed = true;
                if (!owner._queue.IsAddingCompleted) owner._queue.Add(new Work(Kind.Close, file, null, null, 0, false));
            }
            base.Dispose(disposing);
        }
    }
}
