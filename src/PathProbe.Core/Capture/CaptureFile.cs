using System.IO.Compression;
using System.Security;

namespace PathProbe.Capture;

/// <summary>Opens capture files: pcap or pcapng, plain or gzip-compressed, detected by content.</summary>
/// <remarks>
/// Everything that can go wrong while opening becomes a <see cref="CaptureFormatException"/> whose message names
/// the file and what was expected; damage found later is reported through <see cref="IPacketSource.End"/>.
/// A file too short to hold even the 4-byte magic is "not a capture"; a file cut inside the pcap file header or
/// the first pcapng section header block is unusable (exception); a cut anywhere later ends with
/// <see cref="SourceEndKind.Truncated"/> after every complete frame was delivered.
/// </remarks>
public static class CaptureFile
{
    private const int MagicLength = 4;

    /// <summary>Opens <paramref name="path"/>. Throws <see cref="CaptureFormatException"/> with a message for the
    /// user when the file cannot be opened or is not a capture.</summary>
    public static IPacketSource Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
            throw new CaptureFormatException($"'{path}' is a directory, not a capture file");

        FileStream stream;
        try
        {
            // Buffering is done by the reader (one large reusable buffer), so the FileStream's own buffer is off.
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
                bufferSize: 0, FileOptions.SequentialScan);
        }
        catch (FileNotFoundException ex) { throw new CaptureFormatException($"'{path}' does not exist", ex); }
        catch (DirectoryNotFoundException ex) { throw new CaptureFormatException($"'{path}' does not exist (no such directory)", ex); }
        catch (UnauthorizedAccessException ex) { throw new CaptureFormatException($"'{path}' cannot be read: permission denied", ex); }
        catch (SecurityException ex) { throw new CaptureFormatException($"'{path}' cannot be read: permission denied", ex); }
        catch (Exception ex) when (ex is IOException or ArgumentException or NotSupportedException)
        {
            throw new CaptureFormatException($"'{path}' cannot be opened: {ex.Message}", ex);
        }
        return Open(stream, path);
    }

    /// <summary>Opens a capture from a stream (the stream is owned by the returned source, and disposed when
    /// opening fails).</summary>
    public static IPacketSource Open(Stream stream, string displayName) =>
        Open(stream, displayName, CaptureReader.DefaultBufferSize);

    /// <summary>Opens a capture from a stream; with <paramref name="readAhead"/>, a seekable (regular) file is read on a
    /// thread of its own, a block ahead of the analysis (a gzip file always is: its decompression).</summary>
    public static IPacketSource Open(Stream stream, string displayName, bool readAhead) =>
        Open(stream, displayName, CaptureReader.DefaultBufferSize, readAhead: readAhead);

    /// <summary>Opens a capture from a stream with other bounds on the metadata kept (see <see cref="CaptureLimits"/>).</summary>
    public static IPacketSource Open(Stream stream, string displayName, CaptureLimits limits) =>
        Open(stream, displayName, CaptureReader.DefaultBufferSize, limits);

    /// <summary>Tests pass a small <paramref name="bufferSize"/> so refills and growth are exercised.</summary>
    internal static IPacketSource Open(Stream stream, string displayName, int bufferSize, CaptureLimits? limits = null, bool readAhead = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        displayName ??= "(stream)";
        try
        {
            return OpenCore(stream, displayName, bufferSize, limits, readAhead);
        }
        catch (CaptureFormatException)
        {
            stream.Dispose();
            throw;
        }
        catch (Exception ex)
        {
            stream.Dispose();
            throw new CaptureFormatException($"'{displayName}' cannot be read: {ex.Message}", ex);
        }
    }

    private static IPacketSource OpenCore(Stream stream, string name, int bufferSize, CaptureLimits? limits, bool readAhead)
    {
        byte[] head = new byte[MagicLength];
        int n = stream.ReadAtLeast(head, MagicLength, throwOnEndOfStream: false);
        if (n == 0)
            throw new CaptureFormatException($"'{name}' is empty (0 bytes): not a capture file");

        bool compressed = false;
        if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        {
            compressed = true;
            // Decompression (ISA-L when installed, else zlib-ng) runs on its own thread, a few 1 MiB blocks ahead of the
            // reader (ReadAheadStream).
            stream = new ReadAheadStream(IsalInflateStream.Create(new PrefixedStream(head.AsSpan(0, n).ToArray(), stream)),
                ReadAheadStream.InflateBlocks, "pathprobe-inflate");
            try
            {
                n = stream.ReadAtLeast(head, MagicLength, throwOnEndOfStream: false);
            }
            catch (InvalidDataException ex)
            {
                throw new CaptureFormatException($"'{name}' starts like a gzip file but cannot be decompressed: {ex.Message}", ex);
            }
            if (n == 0)
                throw new CaptureFormatException($"'{name}' is gzip-compressed but empty once decompressed: not a capture file");
        }
        else if (readAhead && stream.CanSeek)
        {
            // The kernel's copy of the file (a fifth of a mail analysis' time) runs on its own thread. Not for pipes and
            // terminals (a read can wait for ever, and closing must not), nor where many files are open at once.
            stream = new ReadAheadStream(stream, ReadAheadStream.FileBlocks, "pathprobe-read");
        }

        if (n >= MagicLength)
        {
            if (PcapReader.TryDetect(head, out bool bigEndian, out bool nanos))
            {
                var pcap = new PcapReader(stream, head, name, compressed, bigEndian, nanos, bufferSize);
                pcap.ReadFileHeader();
                return pcap;
            }
            if (head[0] == 0x0a && head[1] == 0x0d && head[2] == 0x0d && head[3] == 0x0a)
            {
                var ng = new PcapNgReader(stream, head, name, compressed, bufferSize, limits);
                ng.ReadFileHeader();
                return ng;
            }
        }

        throw new CaptureFormatException(
            $"'{name}' is not a capture file: expected a pcap (magic a1b2c3d4/a1b23c4d) or pcapng (section header block 0a0d0d0a) file, " +
            $"optionally gzip-compressed; found {(compressed ? "inside the gzip data " : "")}{DescribeBytes(head.AsSpan(0, n))}");
    }

    private static string DescribeBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < MagicLength)
            return $"only {bytes.Length} byte{(bytes.Length == 1 ? "" : "s")} ({Convert.ToHexString(bytes).ToLowerInvariant()})";
        var sb = new System.Text.StringBuilder("bytes");
        foreach (byte b in bytes) sb.Append(' ').Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
        return sb.ToString();
    }
}
