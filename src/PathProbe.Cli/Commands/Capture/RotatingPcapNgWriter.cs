using System.Globalization;
using PathProbe.Capture;
using PathProbe.Primitives;

namespace PathProbe.Cli.Commands.Capture;

/// <summary>tcpdump's rotation options: -C (size, in millions of bytes), -W (how many files), -G (seconds).</summary>
internal sealed record RotationOptions
{
    /// <summary>-C × 1,000,000: start a new file before writing a packet once the current one is larger. 0 = never.</summary>
    public long LimitBytes { get; init; }
    /// <summary>-W: with -C a ring of this many files (oldest overwritten); with -G alone, stop after this many files.</summary>
    public int Files { get; init; }
    /// <summary>-G: start a new file before writing a packet once the current one is this old. 0 = never.</summary>
    public double Seconds { get; init; }

    public bool Rotates => LimitBytes > 0 || Seconds > 0;
}

/// <summary>
/// Writes live frames to pcapng files with tcpdump's -C/-W/-G semantics and names. Each file is a complete pcapng: its
/// own section header and interface description, and at its end an interface statistics block (ISB) with the capture's
/// pcap_stats counters, as dumpcap writes them.
/// <para>
/// Names (tcpdump's MakeFilename): with -G the -w name is first run through strftime with the local time the file
/// starts. Then, with -C, a number is appended: the first file is NAME (no number) and then NAME1, NAME2, ... without
/// -W; with -W N they are NAME0 .. NAME{N-1}, zero-padded to the digits of N-1 (-W 10: NAME0..NAME9; -W 11:
/// NAME00..NAME10), reused in a ring. -G alone appends nothing (so the name needs a strftime conversion, or each file
/// replaces the previous); -G with -W and no -C stops the capture once N files were written. With -G and -C the
/// number restarts at each time rotation.
/// </para>
/// <para>
/// The capture thread only formats blocks into memory: creating, writing and closing files happen on a
/// <see cref="BackgroundFileWriter"/> thread, so a rotation costs the capture thread nothing and a slow disk only
/// makes it wait when the writer's buffers (16 MiB) are all full, which is counted. Not thread-safe; allocates only
/// when it rotates.
/// </para>
/// </summary>
internal sealed class RotatingPcapNgWriter : IDisposable
{
    private const string StatisticsComment = "counters from pcap_stats, cumulative since the capture started";

    private readonly string _pattern;
    private readonly RotationOptions _rotation;
    private readonly int _linkType;
    private readonly int _snapLength;
    private readonly string _interfaceName;
    private readonly string? _comment;
    private readonly Func<InterfaceStatistics>? _statistics;
    private readonly TimeZoneInfo? _zone;
    private readonly BackgroundFileWriter _io;
    private readonly int _numberWidth;
    private PcapNgWriter? _writer;
    private long _fileStart;   // Unix ns at which the current file started (for -G)
    private int _sizeCount;    // tcpdump's Cflag_count
    private int _timeCount;    // tcpdump's Gflag_count
    private bool _disposed;

    /// <param name="pattern">The -w name (a strftime pattern with -G).</param>
    /// <param name="statistics">The capture's counters now (pcap_stats), written as an ISB at the end of every file;
    /// null writes none.</param>
    /// <param name="now">The start time of the first file (default: the wall clock).</param>
    /// <param name="zone">Time zone of -G names (default: local, like tcpdump).</param>
    public RotatingPcapNgWriter(string pattern, RotationOptions rotation, int linkType, int snapLength, string interfaceName,
        string? comment, Func<InterfaceStatistics>? statistics = null, DateTimeOffset? now = null, TimeZoneInfo? zone = null,
        BackgroundFileWriter? io = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        _pattern = pattern;
        _rotation = rotation;
        _linkType = linkType;
        _snapLength = snapLength;
        _interfaceName = interfaceName;
        _comment = comment;
        _statistics = statistics;
        _zone = zone;
        _io = io ?? new BackgroundFileWriter(blockLength: BackgroundFileWriter.PcapNgBlockLength);
        _numberWidth = rotation.Files > 0 ? Digits(rotation.Files - 1) : 0;
        long start = (now ?? DateTimeOffset.UtcNow).ToUnixTimeMilliseconds() * 1_000_000;
        Open(start, rotation.LimitBytes > 0 ? FileName(start, 0, _numberWidth) : FileName(start, 0, 0));
    }

    /// <summary>One file, no rotation (the TUI's spool).</summary>
    public RotatingPcapNgWriter(string path, long limitBytes, int linkType, int snapLength, string interfaceName, string? comment)
        : this(path, new RotationOptions { LimitBytes = limitBytes }, linkType, snapLength, interfaceName, comment)
    {
        WaitForPendingWrites(); // the file exists (with its headers) once constructed, as before the writer thread
    }

    /// <summary>The files on disk, oldest first (with a ring, the last -W of them).</summary>
    public List<string> Files { get; } = new();

    /// <summary>Files started so far (a ring reuses names).</summary>
    public int FilesStarted { get; private set; }

    /// <summary>-G with -W reached its count: nothing more is written and the capture should stop (tcpdump exits).</summary>
    public bool LimitReached { get; private set; }

    /// <summary>Bytes of blocks that are in no file because writing failed (see <see cref="BackgroundFileWriter.BytesDiscarded"/>).</summary>
    public long BytesNotWritten => _io.BytesDiscarded;

    /// <summary>Frames refused once writing had failed or the file limit was reached (frames already handed to the
    /// writer when it failed are in <see cref="BytesNotWritten"/>).</summary>
    public long FramesNotWritten { get; private set; }

    /// <summary>The write error, phrased for the user, or null; capture and analysis go on without the file.</summary>
    public string? Error => _io.Error;

    /// <summary>The error when a file could not be created at all (no such directory, permission), null otherwise.</summary>
    public string? CreateError => _io.CreateError;

    /// <summary>Times the capture thread waited for the disk, and for how long in all.</summary>
    public long Waits => _io.Waits;
    public long WaitedMilliseconds => _io.WaitedMilliseconds;

    /// <summary>Writes <paramref name="frame"/>, rotating first when it is time. Returns false when the frame was not
    /// written (<see cref="LimitReached"/>, or an earlier write error).</summary>
    public bool Write(in RawFrame frame)
    {
        if (_writer is null || _io.Error is not null) { FramesNotWritten++; return false; }
        long now = frame.Time.UnixNanoseconds;
        if (_rotation.Seconds > 0 && now - _fileStart >= (long)(_rotation.Seconds * 1e9))
        {
            // tcpdump checks time before size: a time rotation starts numbering again at 0.
            _timeCount++;
            if (_rotation.LimitBytes == 0 && _rotation.Files > 0 && _timeCount >= _rotation.Files)
            {
                CloseCurrent();
                LimitReached = true;
                FramesNotWritten++;
                return false;
            }
            _sizeCount = 0;
            Rotate(now, _rotation.LimitBytes > 0 ? FileName(now, 0, _numberWidth) : FileName(now, 0, 0));
        }
        else if (_rotation.LimitBytes > 0 && _writer.BytesWritten > _rotation.LimitBytes)
        {
            _sizeCount++;
            if (_rotation.Files > 0 && _sizeCount >= _rotation.Files) _sizeCount = 0;
            Rotate(_fileStart, FileName(_fileStart, _sizeCount, _numberWidth));
        }
        _writer.WritePacket(0, frame.Time, frame.Data, frame.OriginalLength);
        return true;
    }

    /// <summary>Waits until the writer thread has done everything asked so far (the first file created, say).</summary>
    public void WaitForPendingWrites()
    {
        _writer?.Flush();
        _io.Drain();
    }

    /// <summary>Hands what is buffered to the writer thread, so other programs can read it (called on the status tick).</summary>
    public void Flush() => _writer?.Flush();

    /// <summary>SIGHUP: closes the current file (with its statistics block) and opens its name again, as daemons reopen
    /// their logs after logrotate. A file moved away is left complete and a new one is created under the name; a file
    /// still there gets a new pcapng section (section header, interface, packets) appended, which readers take as the
    /// same capture continued. Rotation (-C/-G) goes on from the current file.</summary>
    public void Reopen()
    {
        if (_writer is null || _disposed) return;
        string path = Files[^1];
        CloseCurrent();
        _io.Drain(); // closed on disk before looking at the name
        bool append = File.Exists(path);
        _writer = new PcapNgWriter(_io.Open(path, append), leaveOpen: false, _comment);
        _writer.AddInterface(_linkType, _snapLength, _interfaceName);
        Reopens++;
    }

    /// <summary>Times <see cref="Reopen"/> ran.</summary>
    public int Reopens { get; private set; }

    /// <summary>Writes the last file's statistics and closes it; waits until every file is closed.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        CloseCurrent();
        _io.Dispose();
    }

    /// <summary>tcpdump's MakeFilename: strftime with -G, then the number when <paramref name="count"/> or
    /// <paramref name="width"/> is not 0, zero-padded to <paramref name="width"/>.</summary>
    internal string FileName(long unixNanos, int count, int width)
    {
        string name = _rotation.Seconds > 0
            ? Strftime.Format(_pattern, DateTimeOffset.FromUnixTimeMilliseconds(unixNanos / 1_000_000), _zone)
            : _pattern;
        return count == 0 && width == 0 ? name : name + count.ToString(CultureInfo.InvariantCulture).PadLeft(width, '0');
    }

    /// <summary>tcpdump's getWflagChars: the digits of <paramref name="x"/> (0 for 0).</summary>
    internal static int Digits(int x)
    {
        int c = 0;
        for (; x > 0; x /= 10) c++;
        return c;
    }

    private void Rotate(long start, string next)
    {
        CloseCurrent();
        Open(start, next);
    }

    private void Open(long start, string path)
    {
        _fileStart = start;
        // The writer thread creates the file; the blocks below are only formatted into memory here.
        _writer = new PcapNgWriter(_io.Open(path), leaveOpen: false, _comment);
        _writer.AddInterface(_linkType, _snapLength, _interfaceName);
        FilesStarted++;
        Files.Remove(path);
        Files.Add(path);
    }

    private void CloseCurrent()
    {
        if (_writer is null) return;
        if (_statistics is not null) _writer.WriteInterfaceStatistics(0, _statistics(), StatisticsComment);
        _writer.Dispose(); // queues the last blocks and the close; never touches the disk here
        _writer = null;
    }
}
