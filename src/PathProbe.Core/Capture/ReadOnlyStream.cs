namespace PathProbe.Capture;

/// <summary>
/// A stream that is only read, forwards: the base of this project's wrapping streams (read-ahead, gzip, prefix
/// replay, interruptible pipes). What such a stream cannot do is said once here; a stream that knows its length or
/// position overrides those.
/// </summary>
public abstract class ReadOnlyStream : Stream
{
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
