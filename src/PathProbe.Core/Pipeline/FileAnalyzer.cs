using System.Diagnostics;
using PathProbe.Capture;
using PathProbe.Primitives;

namespace PathProbe.Pipeline;

/// <summary>Progress of a long analysis: bytes of the file consumed so far and its size.</summary>
public readonly record struct AnalysisProgress(string Path, long Position, long Length, long Packets);

/// <summary>Runs one input (a capture file, standard input, or files read as one capture) through an <see cref="Engine"/>.</summary>
public static class FileAnalyzer
{
    /// <summary>Frames between looks at the cancellation token and the progress clock: a signal is honoured within a
    /// few milliseconds of analysis, at the cost of one volatile read per 4,096 frames.</summary>
    private const int CheckEvery = 1 << 12;

    /// <summary>Analyses <paramref name="path"/> ("-" is standard input). Never throws for a bad or missing file: the
    /// problem is reported in <see cref="InputSummary.Error"/> (with <see cref="InputSummary.Unreadable"/> when nothing
    /// could be read).</summary>
    public static CaptureAnalysis Analyze(string path, AnalysisOptions? options = null, int inputIndex = 0, int firstFlowId = 1,
        Action<AnalysisProgress>? progress = null, CancellationToken cancel = default, int threads = 1) =>
        Analyze(AnalysisInput.One(path), options, null, inputIndex, firstFlowId, progress, cancel, threads);

    /// <summary>
    /// Analyses <paramref name="input"/>, keeping the frames <paramref name="selection"/> selects. Never throws for a
    /// bad or missing file (see above). Throws <see cref="InputsOverlapException"/> for a strict set whose files
    /// overlap in time: the caller then analyses them one by one.
    /// With <paramref name="threads"/> above 1 the frames are read on this thread and analysed by that many
    /// <see cref="ParallelAnalyzer"/> workers; the result is the same.
    /// </summary>
    public static CaptureAnalysis Analyze(AnalysisInput input, AnalysisOptions? options, PacketSelection? selection, int inputIndex = 0,
        int firstFlowId = 1, Action<AnalysisProgress>? progress = null, CancellationToken cancel = default, int threads = 1)
    {
        var engine = new Engine(options, inputIndex, firstFlowId);
        var parallel = threads > 1 ? new ParallelAnalyzer(options, inputIndex, firstFlowId, Math.Min(threads, ParallelAnalyzer.MaxWorkers)) : null;
        string first = input.Paths[0];
        IPacketSource source;
        Stream? stream = null;
        MergedSource? merged = null;
        InputSummary summary;
        bool rereadable = input.Paths.Count > 1;
        try
        {
            if (input.Paths.Count > 1)
            {
                merged = MergedSource.Open(input.Paths, input.Strict, cancel);
                source = merged;
                summary = new InputSummary { Path = merged.Paths[0], JoinedFiles = merged.Paths, JoinReason = input.JoinReason };
            }
            else
            {
                summary = new InputSummary { Path = first };
                stream = InputStreams.Open(first, cancel);
                rereadable = stream.CanSeek && !InputStreams.IsStandardInput(first);
                source = CaptureFile.Open(stream, first, readAhead: true);
            }
        }
        catch (Exception e) when (e is CaptureFormatException or OperationCanceledException)
        {
            summary = new InputSummary { Path = first, JoinedFiles = input.Paths.Count > 1 ? input.Paths : null, JoinReason = input.JoinReason };
            if (cancel.IsCancellationRequested)
            {
                summary.Error = "interrupted before a packet was read";
                summary.Truncated = true;
            }
            else
            {
                summary.Error = e.Message;
                summary.Unreadable = true;
            }
            return engine.Complete(summary);
        }

        using (source)
        {
            long length = merged?.Length ?? (stream is { CanSeek: true } ? SafeLength(stream) : 0);
            Action? report = progress is null ? null : () => progress(new AnalysisProgress(first,
                merged?.Position ?? SafePosition(stream), length, summary.Packets));
            if (parallel is null) Run(source, engine, summary, cancel, report, selection);
            else
            {
                parallel.Start();
                try { Run(source, parallel, summary, cancel, report, selection); }
                finally { parallel.EndOfInput(summary); }
            }
            if (merged is not null) summary.JoinedFiles = merged.Paths;
        }
        if (parallel is null) return engine.Complete(summary);
        var result = parallel.Complete(summary);
        // A storm over several workers' flows, or timeouts with capture time out of order: one engine decides (only a
        // file can be read again).
        if (parallel.NeedsOneEngine && rereadable && !cancel.IsCancellationRequested)
            return Analyze(input, options, selection, inputIndex, firstFlowId, progress, cancel, threads: 1);
        return result;
    }

    /// <summary>Reads every frame of <paramref name="source"/> into <paramref name="engine"/> (an <see cref="Engine"/> or a
    /// <see cref="ParallelAnalyzer"/>) and records the input summary.</summary>
    public static void Run(IPacketSource source, IFrameSink engine, InputSummary input, CancellationToken cancel = default, Action? progress = null,
        PacketSelection? selection = null)
    {
        if (selection is { IsEmpty: true }) selection = null;
        var tally = new FrameTally();
        int lastLinkType = -1;
        var clock = progress is null ? null : Stopwatch.StartNew();
        long read = 0, nextCheck = CheckEvery;
        var filter = selection?.Filter;
        long count = selection?.Count ?? 0;
        long since = long.MinValue, until = long.MaxValue;
        SelectionSummary? chosen = selection is null ? null : new SelectionSummary
        {
            Filter = filter?.Expression, SinceText = selection.Since?.Text, UntilText = selection.Until?.Text, Count = count,
        };
        input.Selection = chosen;
        bool interrupted = false;
        try
        {
            while (source.TryRead(out RawFrame frame))
            {
                read++;
                if (frame.LinkType != lastLinkType) { lastLinkType = frame.LinkType; input.LinkTypes.Add(frame.LinkType); }
                bool selected = true;
                if (chosen is not null)
                {
                    long t = frame.Time.UnixNanoseconds;
                    if (read == 1)
                    {
                        // "+30s" counts from the input's first frame, whatever the filter keeps.
                        if (selection!.Since is { } s) { since = s.Resolve(t); chosen.Since = new Timestamp(since); }
                        if (selection.Until is { } u) { until = u.Resolve(t); chosen.Until = new Timestamp(until); }
                    }
                    selected = t >= since && t < until && (filter is null || filter.Matches(frame));
                }
                if (selected)
                {
                    tally.Add(frame);
                    engine.Process(frame);
                    if (count > 0 && tally.Packets >= count) { chosen!.StoppedAtCount = true; break; }
                }
                if (read == nextCheck)
                {
                    nextCheck += CheckEvery;
                    YoungGeneration.Check();
                    if (cancel.IsCancellationRequested) { interrupted = true; break; }
                    if (clock is not null && clock.ElapsedMilliseconds >= 500) { clock.Restart(); input.Packets = tally.Packets; progress!(); }
                }
            }
        }
        catch (OperationCanceledException)
        {
            interrupted = true; // the merge was opening its next file
        }
        interrupted |= cancel.IsCancellationRequested && chosen?.StoppedAtCount != true;

        var info = source.Info;
        input.Info = info;
        input.Format = info.Format;
        input.Compressed = info.Compressed;
        foreach (var itf in info.Interfaces) input.LinkTypes.Add(itf.LinkType);
        tally.WriteTo(input);
        input.Drops = CaptureDrops.FromStatistics(info, input.FirstTime);
        if (chosen is not null)
        {
            chosen.FramesRead = read;
            if (filter is not null) chosen.Problems.AddRange(filter.TakeProblems());
        }
        var end = source.End;
        string subject = "file";
        var merged = source as MergedSource;
        if (merged is { Problems.Count: > 0 }) subject = $"'{SafeText.Clean(merged.Problems[0].Path)}'";
        if (interrupted)
        {
            input.Error = $"interrupted after {read:#,0} frames; the report covers what was read";
            input.Truncated = true;
        }
        else if (chosen?.StoppedAtCount == true)
        {
            // Stopped on purpose (-c): not damage, whatever lies beyond.
        }
        else if (!end.IsClean && end.Kind != SourceEndKind.None)
        {
            input.Truncated = true;
            input.StopOffset = end.Offset;
            input.Error = end.Kind switch
            {
                SourceEndKind.Truncated => $"{subject} is cut short at byte {end.Offset}: {end.Reason}; everything before it was analysed",
                SourceEndKind.Corrupt => $"{subject} is damaged at byte {end.Offset}: {end.Reason}; everything before it was analysed",
                _ => $"reading {(merged is null ? "" : subject + " ")}stopped at byte {end.Offset}: {end.Reason}; everything before it was analysed",
            };
            if (merged is { Problems.Count: > 1 })
                input.Error += $" ({merged.Problems.Count - 1} more files ended early: " +
                               string.Join(", ", merged.Problems.Skip(1).Select(p => $"'{SafeText.Clean(p.Path)}' at byte {p.End.Offset}: {p.End.Reason}")) + ")";
        }
    }

    private static long SafePosition(Stream? f) { try { return f?.Position ?? 0; } catch (Exception e) when (e is ObjectDisposedException or NotSupportedException) { return 0; } }
    private static long SafeLength(Stream? f) { try { return f?.Length ?? 0; } catch (Exception e) when (e is ObjectDisposedException or NotSupportedException) { return 0; } }
}
