using System.Buffers;
using System.Threading.Channels;
using Microsoft.Win32.SafeHandles;
using PathProbe.Capture;

namespace PathProbe.Pipeline;

/// <summary>
/// Opens what the user named as a capture input: a file, or "-" for standard input. Opening and reading honour
/// cancellation even where the operating system blocks: opening a FIFO waits for a writer, and reading a pipe,
/// a FIFO or a device waits for data, and neither can be interrupted in .NET. Those waits happen on a helper
/// thread that is abandoned when the caller is cancelled (SIGINT/SIGTERM), so the report of what was read still
/// comes out. Regular files are read directly.
/// </summary>
public static class InputStreams
{
    /// <summary>The name that means standard input, as in tcpdump -r -.</summary>
    public const string StandardInput = "-";

    /// <summary>True for "-".</summary>
    public static bool IsStandardInput(string path) => path == StandardInput;

    /// <summary>
    /// Opens <paramref name="path"/> for reading. Throws <see cref="CaptureFormatException"/> with a message for the
    /// user when it cannot be opened, and <see cref="OperationCanceledException"/> when <paramref name="cancel"/>
    /// fires while the open waits (a FIFO without a writer).
    /// </summary>
    public static Stream Open(string path, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0) throw new CaptureFormatException("an empty file name was given");
        FileStream file;
        if (IsStandardInput(path))
        {
            // Not Console.OpenStandardInput: a FileStream on fd 0 can tell a redirected regular file (seekable, read
            // directly) from a pipe.
            file = new FileStream(new SafeFileHandle(0, ownsHandle: false), FileAccess.Read, bufferSize: 0);
        }
        else
        {
            if (Directory.Exists(path)) throw new CaptureFormatException($"'{Show(path)}' is a directory, not a capture file");
            var opening = Task.Run(() => OpenFile(path), CancellationToken.None);
            try
            {
                opening.Wait(cancel);
            }
            catch (OperationCanceledException)
            {
                // The open is still blocked in the kernel (a FIFO nobody writes to); close whatever it returns later.
                opening.ContinueWith(t => t.Result.Dispose(), TaskContinuationOptions.OnlyOnRanToCompletion);
                throw;
            }
            catch (AggregateException e) when (e.InnerException is CaptureFormatException c) { throw c; }
            file = opening.Result;
        }
        bool regular;
        try { regular = file.CanSeek && file.Length > 0; }
        catch (IOException) { regular = false; }
        return regular ? file : new InterruptibleStream(file, cancel);
    }

    /// <summary>A file that can be opened and read again with the same content: not standard input, a FIFO or a
    /// device (which report no length). Only such files are peeked at and reopened.</summary>
    public static bool CanReopen(string path) => !IsStandardInput(path) && LengthOf(path) > 0;

    /// <summary>The size of <paramref name="path"/> for progress, 0 when unknown (standard input, a FIFO).</summary>
    public static long LengthOf(string path)
    {
        if (IsStandardInput(path)) return 0;
        try { return new FileInfo(path).Length; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return 0; }
    }

    private static FileStream OpenFile(string path)
    {
        try
        {
            // The reader does its own buffering (one large reusable buffer), so the FileStream's is off.
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0, FileOptions.SequentialScan);
        }
        catch (FileNotFoundException) { throw new CaptureFormatException($"'{Show(path)}' does not exist"); }
        catch (DirectoryNotFoundException) { throw new CaptureFormatException($"'{Show(path)}' does not exist (no such directory)"); }
        catch (UnauthorizedAccessException) { throw new CaptureFormatException($"'{Show(path)}' cannot be read: permission denied (check the file's owner and mode, or run with sudo)"); }
        catch (IOException e) { throw new CaptureFormatException($"'{Show(path)}' cannot be read: {e.Message}"); }
    }

    private static string Show(string path) => Primitives.SafeText.Clean(path, 300);
}

/// <summary>
/// A read-only stream over a pipe, FIFO or device whose reads may block forever. A helper thread reads chunks ahead
/// (bounded: 4 chunks of 64 KiB) and <see cref="Read(Span{byte})"/> waits for one or for cancellation; once
/// cancelled it returns 0 (end of input), so the reader above stops cleanly. Allocates per chunk from a pool,
/// never per packet.
/// </summary>
internal sealed class InterruptibleStream : Capture.ReadOnlyStream
{
    private const int ChunkSize = 64 * 1024;
    private readonly Stream _inner;
    private readonly CancellationToken _cancel;
    private readonly Channel<(byte[] Buffer, int Length)> _chunks = Channel.CreateBounded<(byte[], int)>(
        new BoundedChannelOptions(4) { SingleReader = true, SingleWriter = true });
    private byte[]? _current;
    private int _offset, _length;
    private bool _ended;
    private long _position;

    public InterruptibleStream(Stream inner, CancellationToken cancel)
    {
        _inner = inner;
        _cancel = cancel;
        new Thread(Pump) { IsBackground = true, Name = "pathprobe-input" }.Start();
    }

    private void Pump()
    {
        try
        {
            while (true)
            {
                byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
                int n = _inner.Read(buffer, 0, ChunkSize);
                if (n == 0)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    _chunks.Writer.TryComplete();
                    return;
                }
                // Waits while the consumer is behind; gives up once it was cancelled (nobody will read any more).
                if (!_chunks.Writer.WaitToWriteAsync(_cancel).AsTask().GetAwaiter().GetResult() || !_chunks.Writer.TryWrite((buffer, n)))
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    return;
                }
            }
        }
        catch (OperationCanceledException) { }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException)
        {
            _chunks.Writer.TryComplete(e);
        }
    }

    public override int Read(Span<byte> destination)
    {
        if (destination.IsEmpty || _ended) return 0;
        if (_current is null || _offset == _length)
        {
            if (_current is not null) { ArrayPool<byte>.Shared.Return(_current); _current = null; }
            (byte[] Buffer, int Length) chunk;
            try
            {
                if (!_chunks.Reader.TryRead(out chunk))
                {
                    if (!_chunks.Reader.WaitToReadAsync(_cancel).AsTask().GetAwaiter().GetResult() || !_chunks.Reader.TryRead(out chunk))
                    {
                        _ended = true;
                        return 0;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                _ended = true;
                return 0;
            }
            catch (ChannelClosedException e) when (e.InnerException is not null)
            {
                throw new IOException(e.InnerException.Message, e.InnerException);
            }
            (_current, _offset, _length) = (chunk.Buffer, 0, chunk.Length);
        }
        int n = Math.Min(destination.Length, _length - _offset);
        _current.AsSpan(_offset, n).CopyTo(destination);
        _offset += n;
        _position += n;
        return n;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override bool CanRead => true;
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _ended = true;
            _chunks.Writer.TryComplete(); // a pump waiting for room gives up
            while (_chunks.Reader.TryRead(out var chunk)) ArrayPool<byte>.Shared.Return(chunk.Buffer);
            // The pump may still be blocked in a read; closing the descriptor under it is safe for pipes and FIFOs
            // (the read fails or returns, and the thread ends). Standard input is not owned and stays open.
            try { _inner.Dispose(); } catch (IOException) { }
            if (_current is not null) { ArrayPool<byte>.Shared.Return(_current); _current = null; }
        }
        base.Dispose(disposing);
    }
}
