using PathProbe.Capture;
using PathProbe.Primitives;

namespace PathProbe.Pipeline;

/// <summary>Files of a rotated set that were meant to chain in time overlap instead: they are not one capture
/// (e.g. two vantages named alike), and are analysed one by one.</summary>
public sealed class InputsOverlapException(string message) : Exception(message);

/// <summary>
/// Several capture files read as one time-ordered capture, like mergecap: frames come out by timestamp (equal times
/// in the order the files were given). Files are opened when the merge reaches their first packet and closed at
/// their end, so a rotated set (files that follow one another) holds one file open at a time, and files that overlap
/// in time are interleaved. Each open file's current frame is copied into a buffer of its own (a frame's span is
/// only valid until its source's next read); nothing else is allocated per frame.
/// </summary>
public sealed class MergedSource : IPacketSource, IFrameLocator
{
    private readonly Member[] _members; // sorted by first frame time; files without frames last
    private readonly List<Member> _open = new();
    private readonly CancellationToken _cancel;
    private readonly bool _strict;
    private int _nextToOpen;
    private Member? _last;
    private SourceEnd _end;

    private MergedSource(Member[] members, bool strict, CancellationToken cancel)
    {
        _members = members;
        _strict = strict;
        _cancel = cancel;
    }

    /// <summary>
    /// Opens each file to learn its first frame's time, then merges. Throws <see cref="CaptureFormatException"/>
    /// (naming the file) when one cannot be read at all.
    /// </summary>
    /// <param name="strict">The files are expected to follow one another in time (a rotated set): reading throws
    /// <see cref="InputsOverlapException"/> as soon as a file starts before the frames of another have ended.</param>
    public static MergedSource Open(IReadOnlyList<string> paths, bool strict, CancellationToken cancel = default)
    {
        var members = new List<Member>(paths.Count);
        try
        {
            for (int i = 0; i < paths.Count; i++) members.Add(Member.Peek(paths[i], i, cancel));
        }
        catch
        {
            foreach (var m in members) m.Close();
            throw;
        }
        var sorted = members.OrderBy(m => m.FirstTime is null ? 1 : 0).ThenBy(m => m.FirstTime ?? 0).ThenBy(m => m.Order).ToArray();
        return new MergedSource(sorted, strict, cancel);
    }

    /// <summary>The files in the order their first frames come, for the report.</summary>
    public IReadOnlyList<string> Paths => _members.Select(m => m.Path).ToArray();

    /// <summary>Per file that ended early: the file and how (damage, cut, read error).</summary>
    public List<(string Path, SourceEnd End)> Problems { get; } = new();

    /// <summary>Bytes of all files and how far reading has got (for progress; compressed files count their size on disk).</summary>
    public long Length => _members.Sum(m => m.Length);
    public long Position => _members.Sum(m => m.Done ? m.Length : m.Position);

    public SourceEnd End => _end;

    /// <summary>Which file the frame the last successful <see cref="TryRead"/> returned comes from: its index in the
    /// paths as given to <see cref="Open"/>.</summary>
    public int FrameFile => _last?.Order ?? -1;

    /// <inheritdoc />
    /// <remarks>In the file <see cref="FrameFile"/> (its decompressed stream); -1 when that file's reader cannot say.</remarks>
    public long FrameDataOffset => _last?.Offset ?? -1;

    /// <summary>The files' descriptions together: every interface and comment, the sum of sections and of the metadata
    /// bounds hit, and the interface statistics blocks in time order. The files of a rotated set or of a capture cut
    /// in pieces carry one capture's cumulative counters, so their samples read as one series per interface index
    /// (<see cref="CaptureDrops.FromStatistics"/> takes each interface's last sample as its total).</summary>
    public CaptureInfo Info
    {
        get
        {
            var infos = _members.Select(m => m.Info).OfType<CaptureInfo>().ToList();
            var formats = infos.Select(i => i.Format).Distinct().ToList();
            var info = new CaptureInfo
            {
                Path = _members[0].Path,
                Format = formats.Count == 0 ? "pcap" : string.Join("+", formats),
                Compressed = infos.Any(i => i.Compressed),
                SnapLength = infos.Count == 0 ? 0 : infos.Max(i => i.SnapLength),
                TimestampResolution = infos.Select(i => i.TimestampResolution).Distinct().Count() == 1 ? infos[0].TimestampResolution : null,
                Sections = infos.Sum(i => i.Sections),
                SkippedBlocks = infos.Sum(i => i.SkippedBlocks),
            };
            foreach (var i in infos)
            {
                info.Interfaces.AddRange(i.Interfaces);
                foreach (var c in i.Comments) if (!info.Comments.Contains(c)) info.Comments.Add(c);
                info.Statistics.AddRange(i.Statistics);
                info.LimitsHit.Add(i.LimitsHit);
            }
            return info;
        }
    }

    public bool TryRead(out RawFrame frame)
    {
        frame = default;
        if (_end.Kind != SourceEndKind.None) return false;
        if (_last is not null) { Advance(_last); _last = null; }

        while (_nextToOpen < _members.Length)
        {
            var next = _members[_nextToOpen];
            if (next.FirstTime is null) { next.Close(); _nextToOpen++; continue; } // no frames: only its description counts
            long min = MinPending(out _);
            if (_open.Count > 0 && next.FirstTime.Value > min) break;
            if (_strict)
                foreach (var m in _open)
                    if (m.Time > next.FirstTime.Value)
                        throw new InputsOverlapException(
                            $"'{SafeText.Clean(next.Path)}' starts at {new Timestamp(next.FirstTime.Value)} while '{SafeText.Clean(m.Path)}' still has frames at {new Timestamp(m.Time)}");
            _nextToOpen++;
            if (next.Reopen(_cancel)) { Advance(next); if (!next.Done) _open.Add(next); }
            else Record(next);
        }

        if (_open.Count == 0)
        {
            _end = Problems.Count > 0 ? Problems[0].End : new SourceEnd(SourceEndKind.EndOfInput, 0, null);
            return false;
        }
        MinPending(out var chosen);
        _last = chosen!;
        frame = new RawFrame(chosen!.Buffer.AsSpan(0, chosen.Length0), chosen.OriginalLength, new Timestamp(chosen.Time), chosen.LinkType, chosen.InterfaceIndex);
        return true;
    }

    /// <summary>The earliest pending frame among open files (ties: the file given first).</summary>
    private long MinPending(out Member? chosen)
    {
        chosen = null;
        long min = long.MaxValue;
        foreach (var m in _open)
            if (chosen is null || m.Time < min || (m.Time == min && m.Order < chosen.Order)) { min = m.Time; chosen = m; }
        return min;
    }

    private void Advance(Member m)
    {
        if (m.ReadNext()) return;
        _open.Remove(m);
        Record(m);
    }

    private void Record(Member m)
    {
        if (m.End is { } end && !end.IsClean) Problems.Add((m.Path, end));
        m.Close();
    }

    public void Dispose()
    {
        foreach (var m in _members) m.Close();
        _open.Clear();
    }

    /// <summary>One file of the merge and its current frame (a copy).</summary>
    private sealed class Member
    {
        public required string Path { get; init; }
        public required int Order { get; init; }
        public long Length { get; init; }
        public long? FirstTime { get; private set; }
        public CaptureInfo? Info { get; private set; }
        public SourceEnd? End { get; private set; }
        public bool Done { get; private set; }
        public byte[] Buffer = new byte[2048];
        public int Length0;
        public int OriginalLength;
        public long Time;
        public int LinkType;
        public int InterfaceIndex;
        public long Offset;
        private IPacketSource? _source;
        private Stream? _stream;
        private bool _pending; // the peeked first frame is in Buffer and not yet delivered (standard input only)

        public long Position { get { try { return _stream is { CanSeek: true } s ? s.Position : 0; } catch (ObjectDisposedException) { return Length; } } }

        /// <summary>Reads the first frame's time and the description. A file is closed again (reopened when the merge
        /// reaches it); standard input, a FIFO or a device cannot be reopened and stays open with its first frame kept.</summary>
        public static Member Peek(string path, int order, CancellationToken cancel)
        {
            var m = new Member { Path = path, Order = order, Length = InputStreams.LengthOf(path) };
            m.OpenSource(cancel);
            if (m._source!.TryRead(out RawFrame frame))
            {
                m.FirstTime = frame.Time.UnixNanoseconds;
                m.Copy(frame);
                m._pending = true;
            }
            m.Info = m._source.Info;
            if (InputStreams.CanReopen(path) || m.FirstTime is null)
            {
                m.End = m.FirstTime is null ? m._source.End : null;
                m._pending = false; // reopened from the start when the merge reaches it
                m.Dispose();
            }
            return m;
        }

        /// <summary>Opens the file again for the merge; false (with <see cref="End"/> set) when that fails now.</summary>
        public bool Reopen(CancellationToken cancel)
        {
            if (_source is not null) return true; // standard input or a FIFO, still open
            try
            {
                OpenSource(cancel);
                return true;
            }
            catch (CaptureFormatException e)
            {
                End = new SourceEnd(SourceEndKind.Error, 0, e.Message);
                Done = true;
                return false;
            }
        }

        private void OpenSource(CancellationToken cancel)
        {
            _stream = InputStreams.Open(path: Path, cancel);
            _source = CaptureFile.Open(_stream, Path);
        }

        /// <summary>Makes the next frame current; false at the end of the file.</summary>
        public bool ReadNext()
        {
            if (_pending) { _pending = false; return true; }
            if (_source is not null && _source.TryRead(out RawFrame frame))
            {
                Copy(frame);
                return true;
            }
            if (_source is not null) { End = _source.End; Info = _source.Info; }
            Done = true;
            return false;
        }

        private void Copy(in RawFrame frame)
        {
            if (frame.Data.Length > Buffer.Length) Buffer = new byte[Math.Max(frame.Data.Length, Buffer.Length * 2)];
            frame.Data.CopyTo(Buffer);
            Length0 = frame.Data.Length;
            OriginalLength = frame.OriginalLength;
            Time = frame.Time.UnixNanoseconds;
            LinkType = frame.LinkType;
            InterfaceIndex = frame.InterfaceIndex;
            Offset = _source is IFrameLocator locator ? locator.FrameDataOffset : -1;
        }

        public void Close()
        {
            Done = true;
            Dispose();
        }

        private void Dispose()
        {
            if (_source is not null) Info = _source.Info;
            _source?.Dispose();
            _source = null;
            _stream = null;
        }
    }
}
