using PathProbe.Capture;

namespace PathProbe.LibPcap;

/// <summary>
/// A live interface as an <see cref="IPacketSource"/> (format "live"). <see cref="TryRead"/> blocks until a frame
/// arrives and returns false once <see cref="Stop"/> was called or the device failed. A frame's span points into
/// libpcap's buffer and is valid only until the next read. Callers that need periodic work while the link is idle use
/// <see cref="Read"/>, which also returns on the read timeout.
/// </summary>
public sealed class LiveCaptureSource : IPacketSource
{
    private readonly LiveCapture _capture;
    private SourceEnd _end;

    public LiveCaptureSource(LiveCapture capture, string? description = null)
    {
        _capture = capture;
        Info = new CaptureInfo
        {
            Path = capture.Device,
            Format = "live",
            SnapLength = capture.SnapLength,
            TimestampResolution = capture.NanosecondTimestamps ? "nanoseconds" : "microseconds",
            Sections = 1,
        };
        Info.Interfaces.Add(new CaptureInterface
        {
            LinkType = capture.LinkType,
            SnapLength = capture.SnapLength,
            Name = capture.Device,
            Description = description,
            TicksPerSecond = capture.NanosecondTimestamps ? 1_000_000_000 : 1_000_000,
        });
    }

    /// <summary>Opens <paramref name="device"/> (see <see cref="LiveCapture.Open"/>).</summary>
    public static LiveCaptureSource Open(string device, LiveCaptureOptions? options = null) => new(LiveCapture.Open(device, options));

    public LiveCapture Capture => _capture;
    public CaptureInfo Info { get; }
    public SourceEnd End => _end;

    public bool TryRead(out RawFrame frame)
    {
        while (true)
        {
            switch (Read(out frame))
            {
                case CaptureReadStatus.Packet: return true;
                case CaptureReadStatus.Timeout: continue;
                default: return false;
            }
        }
    }

    /// <summary>One read: a frame, a timeout (idle link: time for periodic work), stopped or failed (see <see cref="End"/>).</summary>
    public CaptureReadStatus Read(out RawFrame frame)
    {
        if (_end.Kind != SourceEndKind.None) { frame = default; return _end.IsClean ? CaptureReadStatus.Stopped : CaptureReadStatus.Error; }
        var status = _capture.Read(out frame);
        if (status == CaptureReadStatus.Stopped) _end = new SourceEnd(SourceEndKind.EndOfInput, 0, "capture stopped");
        else if (status == CaptureReadStatus.Error) _end = new SourceEnd(SourceEndKind.Error, 0, _capture.LastError);
        return status;
    }

    /// <summary>Stops the capture; safe from another thread or a signal handler.</summary>
    public void Stop() => _capture.BreakLoop();

    public CaptureStatistics Statistics() => _capture.GetStatistics();

    public void Dispose() => _capture.Dispose();
}
