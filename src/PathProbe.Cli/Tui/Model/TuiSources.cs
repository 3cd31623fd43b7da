using System.Diagnostics;
using PathProbe.Capture;
using PathProbe.Cli.Commands;
using PathProbe.Cli.Commands.Capture;
using PathProbe.Flows;
using PathProbe.LibPcap;
using PathProbe.Pipeline;
using PathProbe.Primitives;

namespace PathProbe.Cli.Tui.Model;

/// <summary>Where the UI gets its snapshots: the latest is read without waiting; the flow to detail is asked for.</summary>
public interface ITuiSource : IDisposable
{
    TuiSnapshot Current { get; }
    /// <summary>Asks for the detail of <paramref name="flowId"/> in the snapshots from now on (-1: none).</summary>
    void RequestDetail(int flowId);
    /// <summary>Writes the capture so far to a pcapng file; returns what to tell the user (runs off the UI thread).</summary>
    Task<string> WriteAsync(string path);
    /// <summary>Makes the packets so far readable from <see cref="TuiSnapshot.Store"/> and returns how many bytes of it may
    /// be read (the live spool's flushed length; a file: all of it).</summary>
    Task<long> ReadableLengthAsync();
    /// <summary>Why the source ended when it failed (the capture broke, the file could not be read), or null.</summary>
    string? Error { get; }
}

/// <summary>A capture file analysed on a background thread; progress snapshots while it runs, then one snapshot of the
/// complete (immutable) analysis, whose flow details are built on demand.</summary>
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
        _current = new TuiSnapshot { Source = SafeText.Clean(Label(path, input.Paths.Count)), Rows = [], Verdicts = [], Running = true, Generation = ++_generation };
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
            Packets = p.Packets, Status = p.Length > 0 ? $"analysing {100.0 * p.Position / p.Length:0}%" : "analysing",
            Generation = Interlocked.Increment(ref _generation),
        });
        var input = _input;
        try
        {
            analysis = FileAnalyzer.Analyze(input, options, _selection, progress: progress, cancel: _cancel.Token);
        }
        catch (InputsOverlapException e)
        {
            // Named like a rotated set, but the files overlap in time: separate vantages after all (analyze takes them
            // one by one; the TUI shows one capture, the first).
            input = AnalysisInput.One(_input.Paths[0]);
            analysis = FileAnalyzer.Analyze(input, options, _selection, progress: progress, cancel: _cancel.Token);
            analysis.Input.Error = $"not joined: {e.Message}; showing {Path.GetFileName(_input.Paths[0])} only";
        }
        if (analysis.Input.Unreadable) Error = analysis.Input.Error;
        _byId = analysis.Flows.ToDictionary(f => f.Id);
        _analysis = analysis;
        string label = Label(analysis.Input.Path, analysis.Input.JoinedFiles?.Count ?? 1);
        Volatile.Write(ref _current, FromAnalysis(analysis, label, Interlocked.Increment(ref _generation)) with
        {
            // The packet view reads the frames again as this analysis read them: every file of a joined input, merged
            // by time, and only those the selection kept.
            Store = analysis.Input.Unreadable ? null : new PacketStoreInfo(_path, Live: false)
            {
                Files = input.Paths.Count > 1 ? input.Paths : null, Selection = _selection,
            },
        });
    }

    /// <summary>The header's name of the input: the file, or for a joined input the first in time and how many more.</summary>
    private static string Label(string first, int files) =>
        files > 1 ? $"{Path.GetFileName(first)} +{files - 1} joined" : Path.GetFileName(first);

    /// <summary>The snapshot of a completed analysis.</summary>
    public static TuiSnapshot FromAnalysis(CaptureAnalysis analysis, string source, long generation = 1)
    {
        var verdicts = VerdictAdapter.FromFindings(analysis.Findings);
        var builder = new SnapshotBuilder();
        builder.IndexVerdicts(verdicts);
        var rows = new FlowRow[analysis.Flows.Count];
        for (int i = 0; i < rows.Length; i++) rows[i] = builder.Row(analysis.Flows[i]);
        var input = analysis.Input;
        long first = input.FirstTime?.UnixNanoseconds ?? 0, last = input.LastTime?.UnixNanoseconds ?? 0;
        return new TuiSnapshot
        {
            Source = SafeText.Clean(source),
            Packets = input.Packets,
            FirstTime = first,
            ElapsedNanos = Math.Max(0, last - first),
            Rows = rows,
            Verdicts = verdicts,
            Status = input.Error is null ? null : SafeText.Clean(input.Error, 400),
            Generation = generation,
        };
    }

    /// <summary>The detail of a flow of a completed analysis (the snapshot's rows and verdicts).</summary>
    public static FlowDetail? Detail(CaptureAnalysis analysis, TuiSnapshot snapshot, int flowId)
    {
        var flow = analysis.Flows.FirstOrDefault(f => f.Id == flowId);
        var row = snapshot.Rows.FirstOrDefault(r => r.Id == flowId);
        return flow is null || row is null ? null : SnapshotBuilder.BuildDetail(flow, row, snapshot.Verdicts);
    }

    public void RequestDetail(int flowId)
    {
        var current = Current;
        if (_analysis is null || _byId is null) return;
        if (flowId < 0 || !_byId.TryGetValue(flowId, out var flow))
        {
            if (current.Detail is not null) Volatile.Write(ref _current, current with { Detail = null, Generation = Interlocked.Increment(ref _generation) });
            return;
        }
        if (current.Detail?.Row.Id == flowId) return;
        var row = current.Rows.First(r => r.Id == flowId);
        Volatile.Write(ref _current, current with { Detail = SnapshotBuilder.BuildDetail(flow, row, current.Verdicts), Generation = Interlocked.Increment(ref _generation) });
    }

    public Task<long> ReadableLengthAsync() => Task.FromResult(long.MaxValue);

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

/// <summary>How a live TUI captures: the interface's source, where frames are kept, when to stop.</summary>
public sealed record LiveTuiOptions
{
    public required string Filter { get; init; }
    /// <summary>-w: write the frames to this pcapng (it is also where the packet view reads them); null: a temporary
    /// spool deleted on exit.</summary>
    public string? WritePath { get; init; }
    /// <summary>--duration: stop capturing after this many seconds (the screen stays); 0: until quit.</summary>
    public double DurationSeconds { get; init; }
}

/// <summary>
/// Live capture: the read loop and the engine on their own thread, which publishes a snapshot every 100 ms or so
/// (less often when building one takes long, so analysis keeps most of the thread) and never waits for the screen.
/// Frames are written to a pcapng file (-w, or a temporary spool) so that the packet view and 'w' can read them.
/// </summary>
public sealed class LiveTuiSource : ITuiSource
{
    /// <summary>Spool limit: beyond it frames are no longer kept (counted and said).</summary>
    public const long SpoolLimitBytes = 2_000_000_000;

    private readonly LiveCaptureSource _source;
    private readonly Engine _engine;
    private readonly Thread _thread;
    private readonly string _spoolPath;
    private readonly bool _temporary;
    /// <summary>The spool's writer; a write error (a full disk) is kept, said, and ends the spool, not the capture (the
    /// file stays valid up to its last whole block).</summary>
    private readonly RotatingPcapNgWriter _spool;
    private readonly SnapshotBuilder _builder = new();
    private readonly List<(int Version, TuiVerdict Verdict)> _verdicts = new();
    private readonly LiveTuiOptions _options;
    private TuiSnapshot _current;
    private volatile int _requested = -1;
    private volatile bool _flushRequested;
    private readonly SemaphoreSlim _flushed = new(0);
    private long _spoolBytes, _notSpooled, _generation, _flushedLength;
    private volatile bool _stopped;

    public LiveTuiSource(LiveCaptureSource source, AnalysisOptions options, LiveTuiOptions live)
    {
        _source = source;
        _options = live;
        _engine = new Engine(options);
        _temporary = live.WritePath is null;
        _spoolPath = live.WritePath ?? Path.Combine(Path.GetTempPath(), $"pathprobe-tui-{Environment.ProcessId}-{Guid.NewGuid():N}.pcapng");
        var c = source.Capture;
        _spool = new RotatingPcapNgWriter(_spoolPath, 0, c.LinkType, c.SnapLength, c.Device, $"pathprobe tui -i {c.Device}; filter: {live.Filter}");
        _current = new TuiSnapshot
        {
            Source = SafeText.Clean(c.Device), Live = true, Running = true, Rows = [], Verdicts = [], Generation = 0,
            Store = new PacketStoreInfo(_spoolPath, Live: true),
        };
        _thread = new Thread(Run) { IsBackground = true, Name = "pathprobe-capture" };
        _thread.Start();
    }

    public TuiSnapshot Current => Volatile.Read(ref _current);
    public string? Error { get; private set; }
    public void RequestDetail(int flowId) => _requested = flowId;
    /// <summary>The capture stopped (--duration, an error, or disposal).</summary>
    public bool Stopped => _stopped;

    private void Run()
    {
        var tally = new FrameTally();
        long first = 0, last = 0, lastPackets = 0;
        var clock = Stopwatch.StartNew();
        long stopAt = _options.DurationSeconds > 0 ? (long)(_options.DurationSeconds * 1000) : long.MaxValue;
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
            if (now >= stopAt) _source.Stop();
            if (now >= nextSnapshot)
            {
                // As in `capture`: silent flows age on the wall clock (a receiver-side black hole, DNS timeouts).
                _engine.Idle(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000);
                var sw = Stopwatch.StartNew();
                double seconds = Math.Max(0.001, (now - lastSnapshotAt) / 1000.0);
                Publish(tally.Packets, (tally.Packets - lastPackets) / seconds, first, last, running: true);
                lastPackets = tally.Packets;
                lastSnapshotAt = now;
                // At most 10 snapshots a second, and never more than a fifth of the thread's time.
                nextSnapshot = now + Math.Max(100, sw.ElapsedMilliseconds * 5);
            }
        }
        _spool.WaitForPendingWrites();
        NoteFlushedLength();
        _stopped = true;
        Publish(tally.Packets, 0, first, last, running: false);
        // Answer flush requests until disposed: the packet view and 'w' still read the spool after the capture stopped.
        while (!_disposed)
        {
            if (_flushRequested) FlushSpool();
            if (_requested != (_current.Detail?.Row.Id ?? -1)) Publish(tally.Packets, 0, first, last, running: false);
            Thread.Sleep(50);
        }
    }

    private volatile bool _disposed;

    private void FlushSpool()
    {
        _flushRequested = false;
        _spool.WaitForPendingWrites(); // on disk before the packet view reads up to the file's length
        NoteFlushedLength();
        _flushed.Release();
    }

    private void NoteFlushedLength()
    {
        try { Interlocked.Exchange(ref _flushedLength, new FileInfo(_spoolPath).Length); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // gone: the packet view says it cannot read it
    }

    /// <summary>Why writing the frames (-w FILE, or the temporary spool) failed, or null; the capture and analysis went on.</summary>
    public string? WriteError => _spool.Error;
    /// <summary>Frames not written after <see cref="WriteError"/>, and the bytes of packet blocks lost with it.</summary>
    public long FramesNotWritten => _spool.FramesNotWritten;
    public long BytesNotWritten => _spool.BytesNotWritten;
    /// <summary>The -w file (or the spool) could not be created at all: nothing is captured to it.</summary>
    public string? CreateError => _spool.CreateError;

    private void Publish(long packets, double pps, long first, long last, bool running)
    {
        var flows = new List<Flow>(_engine.Flows.LiveCount + _engine.Flows.ClosedFlows.Count);
        foreach (var f in _engine.Flows.ClosedFlows) flows.Add(f);
        foreach (var f in _engine.Flows.LiveFlows) flows.Add(f);
        var findings = _engine.Findings;
        // A finding's texts are written again only when it has a new version (they grow while the capture runs).
        var verdicts = new TuiVerdict[findings.Count];
        for (int i = 0; i < verdicts.Length; i++)
        {
            var f = findings[i];
            if (i >= _verdicts.Count) _verdicts.Add((0, null!));
            if (_verdicts[i].Version != f.Version) _verdicts[i] = (f.Version, VerdictAdapter.From(f, i));
            verdicts[i] = _verdicts[i].Verdict;
        }
        _builder.IndexVerdicts(verdicts);
        var rows = new FlowRow[flows.Count];
        int want = _requested;
        Flow? wanted = null;
        for (int i = 0; i < rows.Length; i++)
        {
            rows[i] = _builder.Row(flows[i]);
            if (flows[i].Id == want) wanted = flows[i];
        }
        // Rows of flows whose records were recycled leave the cache: it stays as large as the flows on screen.
        if (_builder.CachedRows > 2 * rows.Length + 1024) _builder.Prune(rows.Select(r => r.Id).ToHashSet());
        var stats = _source.Statistics();
        string? status = _notSpooled > 0 ? $"{_notSpooled:#,0} packets beyond the {SpoolLimitBytes / 1_000_000_000} GB spool are not kept" : null;
        if (_spool.Error is { } writeError)
            status = $"{writeError}; {_spool.FramesNotWritten:#,0} later packets are not kept (the analysis goes on)" + (status is null ? "" : "; " + status);
        if (!running) status = Error is not null ? $"capture stopped: {SafeText.Clean(Error, 300)}" : "capture stopped" + (status is null ? "" : "; " + status);
        Volatile.Write(ref _current, new TuiSnapshot
        {
            Source = SafeText.Clean(_source.Capture.Device),
            Live = true,
            Running = running,
            Packets = packets,
            PacketsPerSecond = pps,
            Drops = stats.TotalDropped,
            FirstTime = first,
            ElapsedNanos = Math.Max(0, last - first),
            Rows = rows,
            Verdicts = verdicts,
            Detail = wanted is null ? null : SnapshotBuilder.BuildDetail(wanted, _builder.Row(wanted), verdicts),
            Store = new PacketStoreInfo(_spoolPath, Live: true),
            Status = status,
            Generation = ++_generation,
        });
    }

    public async Task<long> ReadableLengthAsync()
    {
        _flushRequested = true;
        if (!await _flushed.WaitAsync(TimeSpan.FromSeconds(5)) && _thread.IsAlive)
            throw new IOException("the capture thread did not answer");
        return Interlocked.Read(ref _flushedLength);
    }

    /// <summary>Asks the capture thread to flush the spool and note its length (a block boundary), then copies that
    /// prefix: a complete pcapng file even while the capture goes on writing behind it.</summary>
    public async Task<string> WriteAsync(string path)
    {
        long length;
        try { length = await ReadableLengthAsync(); }
        catch (IOException e) { return "could not write: " + e.Message; }
        if (Path.GetFullPath(path) == Path.GetFullPath(_spoolPath)) return $"the capture is being written to {path} already (-w)";
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
        _disposed = true;
        _thread.Join();
        _spool.Dispose();
        if (_temporary) { try { File.Delete(_spoolPath); } catch (IOException) { } catch (UnauthorizedAccessException) { } }
        _source.Dispose();
    }
}
