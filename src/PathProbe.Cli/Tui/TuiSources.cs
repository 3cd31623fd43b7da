using System.Diagnostics;
using PathProbe.Capture;
using PathProbe.Cli.Commands.Capture;
using PathProbe.Flows;
using PathProbe.LibPcap;
using PathProbe.Pipeline;
using PathProbe.Primitives;

namespace PathProbe.Cli.Tui;

/// <summary>Where the UI gets its snapshots: the latest one is read without waiting, the flow to detail is asked for.</summary>
public interface ITuiSource : IDisposable
{
    TuiSnapshot Current { get; }
    void RequestDetail(int flowId);
    /// <summary>Writes the capture so far to a pcapng file; returns what to tell the user (runs off the UI thread).</summary>
    Task<string> WriteAsync(string path);
    /// <summary>Why the source ended when it failed (e.g. the capture broke), or null.</summary>
    string? Error { get; }
}

/// <summary>A capture file analysed on a background thread; the snapshot is built once when it completes (a progress
/// snapshot while it runs). The completed analysis is immutable, so details are built on the UI thread on demand.</summary>
public sealed class FileTuiSource : ITuiSource
{
    private readonly string _path;
    private readonly AnalysisInput _input;
    private readonly PacketSelection? _selection;
    private readonly Thread _thread;
    private readonly CancellationTokenSource _cancel = new();
    private TuiSnapshot _current;
    private CaptureAnalysis? _analysis;
    private Dictionary<int, Flow>? _byId;
    private long _generation;

    public FileTuiSource(string path, AnalysisOptions options) : this(AnalysisInput.One(path), null, options) { }

    /// <summary>An input as analyze takes it (one file or files joined) with its filter, window and packet limit.</summary>
    public FileTuiSource(AnalysisInput input, PacketSelection? selection, AnalysisOptions options)
    {
        _input = input;
        _selection = selection;
        string path = _path = input.Paths[0];
        _current = new TuiSnapshot { Source = Path.GetFileName(path), Rows = [], Findings = [], Running = true, Generation = ++_generation };
        _thread = new Thread(() => Run(options)) { IsBackground = true, Name = "pathprobe-analysis" };
        _thread.Start();
    }

    public TuiSnapshot Current => Volatile.Read(ref _current);
    public string? Error { get; private set; }

    /// <summary>Waits for the analysis (tests and scripted use).</summary>
    public bool WaitForCompletion(TimeSpan timeout) => _thread.Join(timeout);

    private void Run(AnalysisOptions options)
    {
        CaptureAnalysis analysis;
        Action<AnalysisProgress> progress = p => Volatile.Write(ref _current, _current with
        {
            Packets = p.Packets, Status = p.Length > 0 ? $"analysing {100.0 * p.Position / p.Length:0}%" : "analysing", Generation = Interlocked.Increment(ref _generation),
        });
        try
        {
            analysis = FileAnalyzer.Analyze(_input, options, _selection, progress: progress, cancel: _cancel.Token);
        }
        catch (InputsOverlapException e)
        {
            analysis = FileAnalyzer.Analyze(_input.Paths[0], options, progress: progress, cancel: _cancel.Token);
            analysis.Input.Error = $"not joined: {e.Message}; showing {Path.GetFileName(_input.Paths[0])} only";
        }
        if (analysis.Input.Unreadable) Error = analysis.Input.Error;
        var snapshot = FromAnalysis(analysis, Path.GetFileName(_path), Interlocked.Increment(ref _generation));
        _byId = analysis.Flows.ToDictionary(f => f.Id);
        _analysis = analysis;
        Volatile.Write(ref _current, snapshot);
    }

    /// <summary>The snapshot of a completed analysis.</summary>
    public static TuiSnapshot FromAnalysis(CaptureAnalysis analysis, string source, long generation = 1)
    {
        var builder = new SnapshotBuilder();
        builder.IndexFindings(analysis.Findings);
        var rows = new FlowRow[analysis.Flows.Count];
        for (int i = 0; i < rows.Length; i++) rows[i] = builder.Row(analysis.Flows[i]);
        var input = analysis.Input;
        return new TuiSnapshot
        {
            Source = source,
            Packets = input.Packets,
            Elapsed = input.FirstTime is { } a && input.LastTime is { } b ? TimeSpan.FromTicks((b.UnixNanoseconds - a.UnixNanoseconds) / 100) : TimeSpan.Zero,
            Rows = rows,
            Findings = analysis.Findings.ToArray(),
            Status = input.Error,
            Generation = generation,
        };
    }

    /// <summary>Detail of a flow of a completed analysis.</summary>
    public static FlowDetail? Detail(CaptureAnalysis analysis, int flowId, TuiSnapshot snapshot)
    {
        var flow = analysis.Flows.FirstOrDefault(f => f.Id == flowId);
        var row = snapshot.Rows.FirstOrDefault(r => r.Id == flowId);
        return flow is null || row is null ? null : SnapshotBuilder.BuildDetail(flow, row, analysis.Findings);
    }

    public void RequestDetail(int flowId)
    {
        var current = Current;
        if (_analysis is null || _byId is null || !_byId.TryGetValue(flowId, out var flow)) return;
        var row = current.Rows.First(r => r.Id == flowId);
        Volatile.Write(ref _current, current with { Detail = SnapshotBuilder.BuildDetail(flow, row, _analysis.Findings), Generation = Interlocked.Increment(ref _generation) });
    }

    /// <summary>Copies the input file's frames into a pcapng file (one interface per link type).</summary>
    public Task<string> WriteAsync(string path) => Task.Run(() =>
    {
        // The input's frames as read (every file of a joined input), without the filter or window.
        using IPacketSource source = _input.Paths.Count > 1 ? MergedSource.Open(_input.Paths, strict: false) : CaptureFile.Open(File.OpenRead(_path), _path);
        using var writer = PcapNgWriter.Create(path, $"pathprobe tui: copy of {Path.GetFileName(_path)}");
        var interfaces = new Dictionary<int, int>();
        long n = 0;
        while (source.TryRead(out RawFrame frame))
        {
            if (!interfaces.TryGetValue(frame.LinkType, out int itf)) interfaces[frame.LinkType] = itf = writer.AddInterface(frame.LinkType);
            writer.WritePacket(itf, frame.Time, frame.Data, frame.OriginalLength);
            n++;
        }
        return $"wrote {path} ({n:#,0} packets)";
    });

    public void Dispose()
    {
        _cancel.Cancel();
        _thread.Join();
        _cancel.Dispose();
    }
}

/// <summary>
/// Live capture: the read loop and the engine on their own thread, which publishes a snapshot every 100 ms or so
/// (less often when building one takes long, so analysis keeps most of the thread) and never waits for the screen.
/// Frames are also spooled to a temporary pcapng file so that 'w' can save the capture so far.
/// </summary>
public sealed class LiveTuiSource : ITuiSource
{
    /// <summary>Spool limit: beyond it frames are no longer kept for 'w' (counted and said).</summary>
    public const long SpoolLimitBytes = 2_000_000_000;

    private readonly LiveCaptureSource _source;
    private readonly Engine _engine;
    private readonly Thread _thread;
    private readonly string _spoolPath;
    private readonly RotatingPcapNgWriter _spool;
    private readonly SnapshotBuilder _builder = new();
    private TuiSnapshot _current;
    private volatile int _requested = -1;
    private volatile bool _flushRequested;
    private readonly SemaphoreSlim _flushed = new(0);
    private long _spoolBytes, _notSpooled, _generation, _flushedLength;

    public LiveTuiSource(LiveCaptureSource source, AnalysisOptions options, string filter)
    {
        _source = source;
        _engine = new Engine(options);
        _spoolPath = Path.Combine(Path.GetTempPath(), $"pathprobe-tui-{Environment.ProcessId}-{Guid.NewGuid():N}.pcapng");
        var c = source.Capture;
        _spool = new RotatingPcapNgWriter(_spoolPath, 0, c.LinkType, c.SnapLength, c.Device, $"pathprobe tui -i {c.Device}; filter: {filter}");
        _current = new TuiSnapshot { Source = SafeText.Clean(c.Device), Live = true, Running = true, Rows = [], Findings = [], Generation = 0 };
        _thread = new Thread(Run) { IsBackground = true, Name = "pathprobe-capture" };
        _thread.Start();
    }

    public TuiSnapshot Current => Volatile.Read(ref _current);
    public string? Error { get; private set; }
    public void RequestDetail(int flowId) => _requested = flowId;

    private void Run()
    {
        var tally = new FrameTally();
        long first = 0, last = 0, lastPackets = 0;
        var clock = Stopwatch.StartNew();
        long nextSnapshot = 0, lastSnapshotAt = 0;
        while (true)
        {
            var status = _source.Read(out RawFrame frame);
            if (status == CaptureReadStatus.Packet)
            {
                tally.Add(frame);
                long t = frame.Time.UnixNanoseconds;
                if (first == 0) first = t;
                if (t > last) last = t;
                _engine.Process(frame);
                if (_spoolBytes < SpoolLimitBytes) { _spool.Write(frame); _spoolBytes += frame.Data.Length + 32; }
                else _notSpooled++;
            }
            else if (status is CaptureReadStatus.Stopped or CaptureReadStatus.Error)
            {
                if (status == CaptureReadStatus.Error) Error = _source.End.Reason;
                break;
            }
            if (_flushRequested) FlushSpool();
            long now = clock.ElapsedMilliseconds;
            if (now >= nextSnapshot)
            {
                // As in `capture`: silent flows age on the wall clock (a receiver-side black hole, DNS timeouts).
                _engine.Idle(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000);
                var sw = Stopwatch.StartNew();
                double seconds = Math.Max(0.001, (now - lastSnapshotAt) / 1000.0);
                Publish(tally.Packets, (tally.Packets - lastPackets) / seconds, first, last, running: true);
                lastPackets = tally.Packets;
                lastSnapshotAt = now;
                // At most ~10 snapshots a second, and never more than a fifth of the thread's time.
                nextSnapshot = now + Math.Max(100, sw.ElapsedMilliseconds * 5);
            }
        }
        Publish(tally.Packets, 0, first, last, running: false);
        FlushSpool();
    }

    private void FlushSpool()
    {
        _flushRequested = false;
        _spool.Flush();
        Interlocked.Exchange(ref _flushedLength, new FileInfo(_spoolPath).Length);
        _flushed.Release();
    }

    private void Publish(long packets, double pps, long first, long last, bool running)
    {
        var findings = _engine.Findings;
        _builder.IndexFindings(findings);
        var rows = new List<FlowRow>(_engine.Flows.LiveCount + _engine.Flows.ClosedFlows.Count);
        int want = _requested;
        Flow? wanted = null;
        foreach (var f in _engine.Flows.ClosedFlows) { rows.Add(_builder.Row(f)); if (f.Id == want) wanted = f; }
        foreach (var f in _engine.Flows.LiveFlows) { rows.Add(_builder.Row(f)); if (f.Id == want) wanted = f; }
        // Rows of flows whose records were recycled (past the report limit) leave the cache: it stays as large as
        // the flows on screen, not as all flows ever seen.
        if (_builder.CachedRows > 2 * rows.Count + 1024) _builder.Prune(rows.Select(r => r.Id).ToHashSet());
        var findingsCopy = findings.ToArray();
        var stats = _source.Statistics();
        Volatile.Write(ref _current, new TuiSnapshot
        {
            Source = SafeText.Clean(_source.Capture.Device),
            Live = true,
            Running = running,
            Packets = packets,
            PacketsPerSecond = pps,
            Drops = stats.TotalDropped,
            Elapsed = TimeSpan.FromTicks(Math.Max(0, last - first) / 100),
            Rows = rows,
            Findings = findingsCopy,
            Detail = wanted is null ? null : SnapshotBuilder.BuildDetail(wanted, _builder.Row(wanted), findingsCopy),
            Status = _notSpooled > 0 ? $"{_notSpooled:#,0} packets beyond the {SpoolLimitBytes / 1_000_000_000} GB spool are not kept for 'w'" : null,
            Generation = ++_generation,
        });
    }

    /// <summary>Asks the capture thread to flush the spool and note its length (a block boundary), then copies that
    /// prefix: a complete pcapng file even while the capture goes on writing behind it.</summary>
    public async Task<string> WriteAsync(string path)
    {
        _flushRequested = true;
        if (!await _flushed.WaitAsync(TimeSpan.FromSeconds(5)) && _thread.IsAlive)
            return "could not write: the capture thread did not answer";
        long length = Interlocked.Read(ref _flushedLength);
        await using var src = new FileStream(_spoolPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        await using var dst = new FileStream(path, FileMode.Create, FileAccess.Write);
        var buffer = new byte[1 << 16];
        long left = length;
        while (left > 0)
        {
            int n = await src.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)));
            if (n == 0) break;
            await dst.WriteAsync(buffer.AsMemory(0, n));
            left -= n;
        }
        return $"wrote {path} ({length - left:#,0} bytes)";
    }

    public void Dispose()
    {
        _source.Stop();
        _thread.Join();
        _spool.Dispose();
        try { File.Delete(_spoolPath); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        _source.Dispose();
    }
}
