namespace PathProbe.Capture;

/// <summary>Opens capture files: pcap or pcapng, plain or gzip-compressed, detected by content.</summary>
public static class CaptureFile
{
    /// <summary>Opens <paramref name="path"/>. Throws <see cref="CaptureFormatException"/> with a message for the
    /// user when the file cannot be opened or is not a capture.</summary>
    public static IPacketSource Open(string path) => throw new NotImplementedException();

    /// <summary>Opens a capture from a stream (the stream is owned by the returned source).</summary>
    public static IPacketSource Open(Stream stream, string displayName) => throw new NotImplementedException();
}
