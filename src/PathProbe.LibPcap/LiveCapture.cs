using System.Diagnostics.CodeAnalysis;
using PathProbe.Capture;
using PathProbe.LibPcap.Native;
using PathProbe.Primitives;

namespace PathProbe.LibPcap;

/// <summary>Outcome of one <see cref="LiveCapture.Read"/>.</summary>
public enum CaptureReadStatus
{
    /// <summary>A frame was read.</summary>
    Packet,
    /// <summary>The read timeout expired with no frame: a chance for periodic work.</summary>
    Timeout,
    /// <summary><see cref="LiveCapture.BreakLoop"/> was called.</summary>
    Stopped,
    /// <summary>The device failed (e.g. the interface went away); <see cref="LiveCapture.LastError"/> says why.</summary>
    Error,
}

/// <summary>Kernel counters (pcap_stats), widened to 64 bits across wrap-around of libpcap's 32-bit counters.</summary>
/// <param name="Received">Packets the kernel handed to the capture (before the filter on some platforms).</param>
/// <param name="Dropped">Dropped because the capture buffer was full (the reader was too slow).</param>
/// <param name="InterfaceDropped">Dropped by the interface or its driver (Linux: the interface's rx_dropped since the capture started).</param>
public readonly record struct CaptureStatistics(long Received, long Dropped, long InterfaceDropped)
{
    public long TotalDropped => Dropped + InterfaceDropped;
}

/// <summary>
/// A live capture on one interface through libpcap. Reads are single-threaded and copy nothing: the frame's span points
/// into libpcap's ring buffer and is valid only until the next <see cref="Read"/> (or <see cref="Dispose"/>).
/// <see cref="BreakLoop"/> is the one member that is safe from another thread or a signal handler.
/// </summary>
public sealed unsafe class LiveCapture : IDisposable
{
    private readonly PcapHandle _handle;
    private readonly IntPtr _raw;
    private readonly PacketHeaderLayout _layout = PacketHeaderLayout.Current;
    private readonly long _fractionToNanos;
    /// <summary>Selectable fd polled between non-blocking reads; -1 where there is none (Windows: blocking reads,
    /// which Npcap ends at the read timeout).</summary>
    private readonly int _pollFd = -1;
    private volatile bool _stopRequested;
    private int _disposed;
    private uint _lastRecv, _lastDrop, _lastIfDrop;
    private long _recv, _drop, _ifDrop;

    private LiveCapture(PcapHandle handle, string device, LiveCaptureOptions options, List<string> warnings)
    {
        _handle = handle;
        _raw = handle.DangerousGetHandle();
        Device = device;
        Options = options;
        Warnings = warnings;
        LinkType = PcapNative.DataLink(handle);
        SnapLength = PcapNative.Snapshot(handle);
        NanosecondTimestamps = PcapNative.GetTimestampPrecision(handle) == PcapNative.TimestampPrecisionNano;
        _fractionToNanos = NanosecondTimestamps ? 1 : Timestamp.NanosPerMicrosecond;
        if (!OperatingSystem.IsWindows())
        {
            int fd = PcapNative.GetSelectableFd(handle);
            byte* errbuf = stackalloc byte[PcapNative.ErrorBufferSize];
            if (fd >= 0 && PcapNative.SetNonBlock(handle, 1, errbuf) == 0) _pollFd = fd;
        }
    }

    public string Device { get; }
    public LiveCaptureOptions Options { get; }
    /// <summary>LINKTYPE_* of the device (pcap_datalink).</summary>
    public int LinkType { get; }
    /// <summary>The snap length in effect (pcap_snapshot).</summary>
    public int SnapLength { get; }
    public bool NanosecondTimestamps { get; }
    /// <summary>Warnings from pcap_activate (e.g. promiscuous mode not supported), already phrased for the user.</summary>
    public IReadOnlyList<string> Warnings { get; }
    /// <summary>The filter in effect, null when everything is captured.</summary>
    public string? Filter { get; private set; }
    /// <summary>Why the last read returned <see cref="CaptureReadStatus.Error"/>.</summary>
    public string? LastError { get; private set; }
    /// <summary>True once <see cref="BreakLoop"/> was called.</summary>
    public bool StopRequested => _stopRequested;

    /// <summary>Opens and activates <paramref name="device"/> and sets <see cref="LiveCaptureOptions.Filter"/>.</summary>
    /// <exception cref="PcapException">With a message that says what to do (no such interface, permission, libpcap missing, bad filter).</exception>
    public static LiveCapture Open(string device, LiveCaptureOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(device);
        options ??= new LiveCaptureOptions();
        return PcapLibrary.Call(() => OpenCore(device, options));
    }

    private static LiveCapture OpenCore(string device, LiveCaptureOptions options)
    {
        byte* errbuf = stackalloc byte[PcapNative.ErrorBufferSize];
        errbuf[0] = 0;
        IntPtr p = PcapNative.Create(device, errbuf);
        if (p == IntPtr.Zero)
            throw new PcapException(PcapErrorKind.Generic, $"cannot open '{Show(device)}': {PcapNative.Utf8(errbuf)}");
        var handle = new PcapHandle(p);
        try
        {
            Check(handle, PcapNative.SetSnapLen(handle, options.SnapLength), "snap length", options.SnapLength);
            Check(handle, PcapNative.SetPromisc(handle, options.Promiscuous ? 1 : 0), "promiscuous mode", options.Promiscuous ? 1 : 0);
            Check(handle, PcapNative.SetImmediateMode(handle, options.ImmediateMode ? 1 : 0), "immediate mode", options.ImmediateMode ? 1 : 0);
            if (options.BufferSize > 0)
                Check(handle, PcapNative.SetBufferSize(handle, options.BufferSize), "buffer size", options.BufferSize);
            Check(handle, PcapNative.SetTimeout(handle, options.TimeoutMilliseconds), "read timeout", options.TimeoutMilliseconds);
            // Nanoseconds where the kernel provides them (Linux TPACKET_V3 does); otherwise microseconds.
            if (!options.NanosecondTimestamps || PcapNative.SetTimestampPrecision(handle, PcapNative.TimestampPrecisionNano) != 0)
                PcapNative.SetTimestampPrecision(handle, PcapNative.TimestampPrecisionMicro);

            int status = PcapNative.Activate(handle);
            var warnings = new List<string>();
            if (status < 0) throw ActivateError(handle, device, status);
            if (status > 0) warnings.Add(ActivateWarning(handle, device, status));

            var capture = new LiveCapture(handle, device, options, warnings);
            if (!string.IsNullOrWhiteSpace(options.Filter)) capture.SetFilter(options.Filter);
            return capture;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Compiles <paramref name="filter"/> (tcpdump syntax, optimised) and installs it in the kernel.</summary>
    /// <exception cref="PcapException">Kind <see cref="PcapErrorKind.BadFilter"/> with libpcap's message and the filter text.</exception>
    public void SetFilter(string filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        PcapNative.BpfProgram program = default;
        if (PcapNative.Compile(_handle, &program, filter, 1, PcapNative.NetmaskUnknown) != 0)
            throw new PcapException(PcapErrorKind.BadFilter, $"the filter does not compile: {GetError(_handle)}; filter: {Primitives.SafeText.Clean(filter, 300)}");
        try
        {
            if (PcapNative.SetFilter(_handle, &program) != 0)
                throw new PcapException(PcapErrorKind.BadFilter, $"the filter cannot be installed on '{Show(Device)}': {GetError(_handle)}; filter: {Primitives.SafeText.Clean(filter, 300)}");
        }
        finally
        {
            PcapNative.FreeCode(&program);
        }
        Filter = filter;
    }

    /// <summary>Checks that <paramref name="filter"/> compiles for <paramref name="linkType"/> without opening a device
    /// (pcap_open_dead). Returns null when it does, otherwise libpcap's message.</summary>
    public static string? CompileError(string filter, int linkType = PathProbe.Capture.LinkTypes.Ethernet, int snapLength = 262_144) =>
        PcapLibrary.Call(() =>
        {
            IntPtr p = PcapNative.OpenDead(linkType, snapLength);
            if (p == IntPtr.Zero) return "pcap_open_dead failed";
            using var handle = new PcapHandle(p);
            PcapNative.BpfProgram program = default;
            if (PcapNative.Compile(handle, &program, filter, 1, PcapNative.NetmaskUnknown) != 0) return GetError(handle);
            PcapNative.FreeCode(&program);
            return null;
        });

    /// <summary>
    /// Reads the next frame. <paramref name="frame"/>'s data points into libpcap's buffer and is valid until the next
    /// call (or <see cref="Dispose"/>). Allocates nothing. Returns <see cref="CaptureReadStatus.Timeout"/> when the
    /// read timeout expired (idle link), <see cref="CaptureReadStatus.Stopped"/> after <see cref="BreakLoop"/>.
    /// </summary>
    public CaptureReadStatus Read(out RawFrame frame)
    {
        frame = default;
        if (_stopRequested) return CaptureReadStatus.Stopped;
        int r = PcapNative.NextEx(_raw, out byte* header, out byte* data);
        if (r == 0 && _pollFd >= 0)
        {
            // Non-blocking: nothing ready. Wait for the fd at most the read timeout, then try once more.
            var pfd = new PcapNative.PollFd { Fd = _pollFd, Events = PcapNative.PollIn };
            if (PcapNative.Poll(&pfd, 1, Options.TimeoutMilliseconds) > 0 && !_stopRequested)
                r = PcapNative.NextEx(_raw, out header, out data);
        }
        if (r == 1)
        {
            var time = new Timestamp(_layout.Seconds(header) * Timestamp.NanosPerSecond + _layout.Fraction(header) * _fractionToNanos);
            frame = new RawFrame(new ReadOnlySpan<byte>(data, _layout.CapturedLength(header)), _layout.WireLength(header), time, LinkType, 0);
            return CaptureReadStatus.Packet;
        }
        if (r == 0) return _stopRequested ? CaptureReadStatus.Stopped : CaptureReadStatus.Timeout;
        if (r == PcapNative.ErrorBreak || _stopRequested) return CaptureReadStatus.Stopped;
        LastError = $"capture on '{Device}' failed: {GetError(_handle)}";
        return CaptureReadStatus.Error;
    }

    /// <summary>
    /// Makes a blocked or future <see cref="Read"/> return <see cref="CaptureReadStatus.Stopped"/>. Safe from any thread
    /// and from a signal handler: pcap_breakloop only sets a flag (and on Linux libpcap ≥ 1.10 wakes its poll); a read
    /// waiting in our own poll returns when the read timeout expires, and the flag set here is checked then.
    /// </summary>
    public void BreakLoop()
    {
        _stopRequested = true;
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added); // not while Dispose closes the handle
            PcapNative.BreakLoop(_raw);
        }
        catch (ObjectDisposedException) { }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
    }

    /// <summary>pcap_stats: packets received and dropped since the capture started.</summary>
    public CaptureStatistics GetStatistics()
    {
        PcapNative.PcapStat s = default;
        if (PcapNative.Stats(_handle, &s) == 0)
        {
            // libpcap's counters are 32-bit and wrap on long captures at high rates; accumulate the differences.
            _recv += unchecked(s.Received - _lastRecv);
            _drop += unchecked(s.Dropped - _lastDrop);
            _ifDrop += unchecked(s.InterfaceDropped - _lastIfDrop);
            (_lastRecv, _lastDrop, _lastIfDrop) = (s.Received, s.Dropped, s.InterfaceDropped);
        }
        return new CaptureStatistics(_recv, _drop, _ifDrop);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopRequested = true;
        _handle.Dispose();
    }

    private static void Check(PcapHandle handle, int status, string what, int value)
    {
        if (status == 0) return;
        throw new PcapException(PcapErrorKind.BadOption, $"libpcap refused {what} {value}: {StatusText(handle, status)}", status);
    }

    private static string GetError(PcapHandle handle) => PcapNative.Utf8(PcapNative.GetErr(handle)) ?? "unknown libpcap error";

    private static string StatusText(PcapHandle handle, int status)
    {
        string generic = PcapNative.Utf8(PcapNative.StatusToStr(status)) ?? status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string detail = status == PcapNative.Error || status == PcapNative.Warning ? GetError(handle) : "";
        return string.IsNullOrEmpty(detail) ? generic : detail;
    }

    /// <summary>The command that lets an unprivileged user capture with this program (<see cref="Primitives.Setcap"/>).</summary>
    public static string SetcapHint => SetcapHintFor(Environment.ProcessPath);

    public static string SetcapHintFor(string? processPath) =>
        Primitives.Setcap.Hint("cap_net_raw,cap_net_admin=eip", "capture", processPath);

    /// <summary>A device name as the user gave it, safe for a terminal (control characters escaped).</summary>
    private static string Show(string device) => Primitives.SafeText.Clean(device, 100);

    private static PcapException ActivateError(PcapHandle handle, string device, int status)
    {
        string detail = GetError(handle);
        return status switch
        {
            PcapNative.ErrorNoSuchDevice => new PcapException(PcapErrorKind.NoSuchDevice, NoSuchInterfaceMessage(device), status),
            PcapNative.ErrorPermissionDenied => new PcapException(PcapErrorKind.PermissionDenied,
                $"capture on '{Show(device)}' needs root or CAP_NET_RAW: run with sudo, or {SetcapHint} ({detail})", status),
            PcapNative.ErrorPromiscPermissionDenied => new PcapException(PcapErrorKind.PromiscuousPermissionDenied,
                $"promiscuous mode on '{Show(device)}' is not permitted: run with sudo, or capture without it (--no-promisc) ({detail})", status),
            PcapNative.ErrorInterfaceNotUp => new PcapException(PcapErrorKind.InterfaceNotUp,
                $"interface '{Show(device)}' is down: bring it up (sudo ip link set {Show(device)} up) and try again", status),
            _ => new PcapException(PcapErrorKind.Generic, $"cannot capture on '{Show(device)}': {StatusText(handle, status)}", status),
        };
    }

    private static string ActivateWarning(PcapHandle handle, string device, int status) => status switch
    {
        PcapNative.WarningPromiscNotSupported => $"'{Show(device)}' does not support promiscuous mode: only traffic to and from this host is captured",
        PcapNative.WarningTimestampTypeNotSupported => $"'{Show(device)}' does not support the requested timestamp type: the default is used",
        _ => $"'{Show(device)}': {StatusText(handle, status)}",
    };

    /// <summary>"no such interface 'x'; interfaces: eth0, lo, ...".</summary>
    public static string NoSuchInterfaceMessage(string device)
    {
        string names;
        try { names = string.Join(", ", PcapDevice.FindAll().Select(d => Show(d.Name))); }
        catch (PcapException) { names = "(cannot be listed)"; }
        return $"no such interface '{Show(device)}'; interfaces: {(names.Length == 0 ? "none visible (try sudo)" : names)} (pathprobe capture -D lists them with addresses)";
    }
}
