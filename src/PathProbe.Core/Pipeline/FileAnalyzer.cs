using System.Diagnostics;
using PathProbe.Capture;

namespace PathProbe.Pipeline;

/// <summary>Progress of a long analysis: bytes of the file consumed so far and its size.</summary>
public readonly record struct AnalysisProgress(string Path, long Position, long Length, long Packets);

/// <summary>Runs one capture file through an <see cref="Engine"/>.</summary>
public static class FileAnalyzer
{
    /// <summary>Analyses <paramref name="path"/>. Never throws for a bad or missing file: the problem is reported in
    /// <see cref="InputSummary.Error"/> (with <see cref="InputSummary.Unreadable"/> when nothing could be read).</summary>
    public static CaptureAnalysis Analyze(string path, AnalysisOptions? options = null, int inputIndex = 0, int firstFlowId = 1,
        Action<AnalysisProgress>? progress = null, CancellationToken cancel = default)
    {
        var engine = new Engine(options, inputIndex, firstFlowId);
        var input = new InputSummary { Path = path };
        FileStream? file = null;
        IPacketSource source;
        try
        {
            file = OpenFile(path);
            source = CaptureFile.Open(file, path);
        }
        catch (CaptureFormatException e)
        {
            file?.Dispose();
            input.Error = e.Message;
            input.Unreadable = true;
            return engine.Complete(input);
        }

        using (source)
        {
            Run(source, engine, input, cancel, progress is null ? null : () => progress(new AnalysisProgress(path, SafePosition(file), SafeLength(file), input.Packets)));
        }
        return engine.Complete(input);
    }

    /// <summary>Reads every frame of <paramref name="source"/> into <paramref name="engine"/> and records the input summary.</summary>
    public static void Run(IPacketSource source, Engine engine, InputSummary input, CancellationToken cancel = default, Action? progress = null)
    {
        var tally = new FrameTally();
        int lastLinkType = -1;
        var clock = progress is null ? null : Stopwatch.StartNew();
        long nextCheck = 1 << 16;
        while (source.TryRead(out RawFrame frame))
        {
            tally.Add(frame);
            if (frame.LinkType != lastLinkType) { lastLinkType = frame.LinkType; input.LinkTypes.Add(frame.LinkType); }
            engine.Process(frame);
            if (tally.Packets == nextCheck)
            {
                nextCheck += 1 << 16;
                if (cancel.IsCancellationRequested) break;
                if (clock is not null && clock.ElapsedMilliseconds >= 500) { clock.Restart(); progress!(); input.Packets = tally.Packets; }
            }
        }

        var info = source.Info;
        input.Info = info;
        input.Format = info.Format;
        input.Compressed = info.Compressed;
        foreach (var itf in info.Interfaces) input.LinkTypes.Add(itf.LinkType);
        tally.WriteTo(input);
        input.Drops = CaptureDrops.FromStatistics(info, input.FirstTime);
        var end = source.End;
        if (cancel.IsCancellationRequested && end.Kind == SourceEndKind.None)
        {
            input.Error = "analysis interrupted";
            input.Truncated = true;
        }
        else if (!end.IsClean)
        {
            input.Truncated = true;
            input.StopOffset = end.Offset;
            input.Error = end.Kind switch
            {
                SourceEndKind.Truncated => $"file is cut short at byte {end.Offset}: {end.Reason}; everything before it was analysed",
                SourceEndKind.Corrupt => $"file is damaged at byte {end.Offset}: {end.Reason}; everything before it was analysed",
                _ => $"reading stopped at byte {end.Offset}: {end.Reason}; everything before it was analysed",
            };
        }
    }

    private static FileStream OpenFile(string path)
    {
        try
        {
            if (Directory.Exists(path))
                throw new CaptureFormatException($"'{path}' is a directory, not a capture file");
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1, FileOptions.SequentialScan);
        }
        catch (FileNotFoundException) { throw new CaptureFormatException($"'{path}' does not exist"); }
        catch (DirectoryNotFoundException) { throw new CaptureFormatException($"'{path}' does not exist (no such directory)"); }
        catch (UnauthorizedAccessException) { throw new CaptureFormatException($"'{path}' cannot be read: permission denied (check the file's owner and mode, or run with sudo)"); }
        catch (IOException e) { throw new CaptureFormatException($"'{path}' cannot be read: {e.Message}"); }
    }

    private static long SafePosition(FileStream? f) { try { return f?.Position ?? 0; } catch (ObjectDisposedException) { return 0; } }
    private static long SafeLength(FileStream? f) { try { return f?.Length ?? 0; } catch (ObjectDisposedException) { return 0; } }
}
