using PathProbe.Capture;

namespace PathProbe.Cli.Commands.Capture;

/// <summary>
/// Writes live frames to FILE.pcapng and, with a size limit, rotates like tcpdump -C: once a file reaches the limit
/// the next frame starts FILE1.pcapng, then FILE2.pcapng, ... Each file is a complete pcapng (its own section header
/// and interface description), so every one can be opened on its own. Not thread-safe; allocates only on rotation.
/// </summary>
internal sealed class RotatingPcapNgWriter : IDisposable
{
    private const int EpbOverhead = 32; // enhanced packet block header, fixed fields and trailing length

    private readonly string _path;
    private readonly long _limit;
    private readonly int _linkType;
    private readonly int _snapLength;
    private readonly string _interfaceName;
    private readonly string? _comment;
    private PcapNgWriter _writer;
    private long _written;
    private int _fileNumber;

    /// <param name="limitBytes">Rotate once a file holds this many bytes; 0 = one file.</param>
    public RotatingPcapNgWriter(string path, long limitBytes, int linkType, int snapLength, string interfaceName, string? comment)
    {
        _path = path;
        _limit = limitBytes;
        _linkType = linkType;
        _snapLength = snapLength;
        _interfaceName = interfaceName;
        _comment = comment;
        Files.Add(path);
        _writer = Open(path);
    }

    /// <summary>The files written so far, in order.</summary>
    public List<string> Files { get; } = new();

    public void Write(in RawFrame frame)
    {
        if (_limit > 0 && _written >= _limit) Rotate();
        int captured = _snapLength > 0 ? Math.Min(frame.Data.Length, _snapLength) : frame.Data.Length;
        _written += EpbOverhead + ((captured + 3) & ~3);
        _writer.WritePacket(0, frame.Time, frame.Data, frame.OriginalLength);
    }

    /// <summary>Makes everything written so far readable by other programs (called on the status tick).</summary>
    public void Flush() => _writer.Flush();

    public void Dispose() => _writer.Dispose();

    /// <summary>FILE.pcapng → FILE{n}.pcapng (the number goes before the extension so the files keep opening in Wireshark).</summary>
    public static string RotatedName(string path, int n)
    {
        if (n == 0) return path;
        string ext = Path.GetExtension(path);
        return Path.Combine(Path.GetDirectoryName(path) ?? "", Path.GetFileNameWithoutExtension(path) + n.ToString(System.Globalization.CultureInfo.InvariantCulture) + ext);
    }

    private void Rotate()
    {
        _writer.Dispose();
        string next = RotatedName(_path, ++_fileNumber);
        Files.Add(next);
        _writer = Open(next);
    }

    private PcapNgWriter Open(string path)
    {
        var writer = PcapNgWriter.Create(path, _comment);
        writer.AddInterface(_linkType, _snapLength, _interfaceName);
        _written = 0;
        return writer;
    }
}
