using System.Reflection;
using System.Runtime.InteropServices;

namespace PathProbe.LibPcap.Native;

/// <summary>
/// Source-generated P/Invoke declarations for libpcap (pcap(3PCAP)). Only blittable types cross the boundary
/// (the assembly disables runtime marshalling); strings are passed as UTF-8 by the generated stubs.
/// The library name is resolved at run time: libpcap.so.0.8 (Debian/Ubuntu), libpcap.so.1, libpcap.so on Linux;
/// libpcap.A.dylib on macOS; wpcap (Npcap) on Windows.
/// </summary>
internal static unsafe partial class PcapNative
{
    private const string Library = "pcap";
    private const string LibC = "c";

    /// <summary>PCAP_ERRBUF_SIZE.</summary>
    public const int ErrorBufferSize = 256;
    /// <summary>PCAP_NETMASK_UNKNOWN: for pcap_compile when the netmask is not known (only "ip broadcast" needs it).</summary>
    public const uint NetmaskUnknown = 0xffffffff;

    // pcap_activate / pcap_set_* status codes (pcap/pcap.h).
    public const int Error = -1;
    public const int ErrorBreak = -2;
    public const int ErrorNotActivated = -3;
    public const int ErrorActivated = -4;
    public const int ErrorNoSuchDevice = -5;
    public const int ErrorRfmonNotSupported = -6;
    public const int ErrorNotRfmon = -7;
    public const int ErrorPermissionDenied = -8;
    public const int ErrorInterfaceNotUp = -9;
    public const int ErrorCannotSetTimestampType = -10;
    public const int ErrorPromiscPermissionDenied = -11;
    public const int ErrorTimestampPrecisionNotSupported = -12;
    public const int Warning = 1;
    public const int WarningPromiscNotSupported = 2;
    public const int WarningTimestampTypeNotSupported = 3;

    public const int TimestampPrecisionMicro = 0;
    public const int TimestampPrecisionNano = 1;

    // pcap_if_t.flags
    public const uint IfLoopback = 0x1;
    public const uint IfUp = 0x2;
    public const uint IfRunning = 0x4;
    public const uint IfWireless = 0x8;

    /// <summary>Environment variable naming the libpcap to load (a path or a library name) instead of the usual
    /// names, e.g. a build of your own; when set, nothing else is tried.</summary>
    public const string LibraryVariable = "PATHPROBE_LIBPCAP";

    private static readonly Lazy<IntPtr> Loaded = new(LoadLibrary);

    static PcapNative()
    {
        NativeLibrary.SetDllImportResolver(typeof(PcapNative).Assembly, Resolve);
    }

    /// <summary>Loads libpcap (once) and says whether it is there. Call before any other member.</summary>
    public static bool EnsureLoaded() => Loaded.Value != IntPtr.Zero;

    private static IntPtr LoadLibrary()
    {
        foreach (string candidate in Candidates())
        {
            if (NativeLibrary.TryLoad(candidate, typeof(PcapNative).Assembly, null, out IntPtr handle)) return handle;
        }
        return IntPtr.Zero;
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name == LibC)
        {
            string libc = OperatingSystem.IsMacOS() ? "libSystem.dylib" : "libc.so.6";
            return NativeLibrary.TryLoad(libc, out IntPtr c) ? c : IntPtr.Zero;
        }
        // Never the runtime's own probing for "pcap": it would find a different library than the one we name, or
        // fail with a page of loader diagnostics. Callers check EnsureLoaded first (PcapLibrary.Call).
        return name == Library ? Loaded.Value : IntPtr.Zero;
    }

    /// <summary>Library names tried in order on this OS (only <see cref="LibraryVariable"/> when it is set).</summary>
    public static string[] Candidates()
    {
        string? chosen = Environment.GetEnvironmentVariable(LibraryVariable);
        if (!string.IsNullOrEmpty(chosen)) return [chosen];
        if (OperatingSystem.IsWindows())
            return ["wpcap", Path.Combine(Environment.SystemDirectory, "Npcap", "wpcap.dll")];
        if (OperatingSystem.IsMacOS())
            return ["libpcap.A.dylib", "libpcap.dylib"];
        return ["libpcap.so.0.8", "libpcap.so.1", "libpcap.so"];
    }

    [LibraryImport(Library, EntryPoint = "pcap_lib_version")]
    public static partial byte* LibVersion();

    [LibraryImport(Library, EntryPoint = "pcap_findalldevs")]
    public static partial int FindAllDevs(out IntPtr devices, byte* errbuf);

    [LibraryImport(Library, EntryPoint = "pcap_freealldevs")]
    public static partial void FreeAllDevs(IntPtr devices);

    [LibraryImport(Library, EntryPoint = "pcap_create", StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr Create(string source, byte* errbuf);

    [LibraryImport(Library, EntryPoint = "pcap_open_offline", StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr OpenOffline(string path, byte* errbuf);

    [LibraryImport(Library, EntryPoint = "pcap_open_dead")]
    public static partial IntPtr OpenDead(int linkType, int snaplen);

    [LibraryImport(Library, EntryPoint = "pcap_close")]
    public static partial void Close(IntPtr p);

    [LibraryImport(Library, EntryPoint = "pcap_set_snaplen")]
    public static partial int SetSnapLen(PcapHandle p, int snaplen);

    [LibraryImport(Library, EntryPoint = "pcap_set_promisc")]
    public static partial int SetPromisc(PcapHandle p, int promisc);

    [LibraryImport(Library, EntryPoint = "pcap_set_immediate_mode")]
    public static partial int SetImmediateMode(PcapHandle p, int immediate);

    [LibraryImport(Library, EntryPoint = "pcap_set_buffer_size")]
    public static partial int SetBufferSize(PcapHandle p, int bytes);

    [LibraryImport(Library, EntryPoint = "pcap_set_timeout")]
    public static partial int SetTimeout(PcapHandle p, int milliseconds);

    [LibraryImport(Library, EntryPoint = "pcap_set_tstamp_precision")]
    public static partial int SetTimestampPrecision(PcapHandle p, int precision);

    [LibraryImport(Library, EntryPoint = "pcap_get_tstamp_precision")]
    public static partial int GetTimestampPrecision(PcapHandle p);

    [LibraryImport(Library, EntryPoint = "pcap_activate")]
    public static partial int Activate(PcapHandle p);

    [LibraryImport(Library, EntryPoint = "pcap_compile", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Compile(PcapHandle p, BpfProgram* program, string filter, int optimize, uint netmask);

    [LibraryImport(Library, EntryPoint = "pcap_setfilter")]
    public static partial int SetFilter(PcapHandle p, BpfProgram* program);

    [LibraryImport(Library, EntryPoint = "pcap_freecode")]
    public static partial void FreeCode(BpfProgram* program);

    /// <summary>Runs a compiled filter on one frame in memory: non-zero when it matches (libpcap ≥ 1.0). Pure
    /// computation over the frame (bpf_filter), bounded and non-blocking, hence no GC transition.</summary>
    [LibraryImport(Library, EntryPoint = "pcap_offline_filter")]
    [SuppressGCTransition]
    public static partial int OfflineFilter(BpfProgram* program, byte* header, byte* data);

    [LibraryImport(Library, EntryPoint = "pcap_datalink")]
    public static partial int DataLink(PcapHandle p);

    [LibraryImport(Library, EntryPoint = "pcap_snapshot")]
    public static partial int Snapshot(PcapHandle p);

    /// <summary>1 packet, 0 timeout expired, -1 error, -2 pcap_breakloop was called (or end of a savefile).
    /// Header and data point into libpcap's buffer and stay valid until the next call on this handle.</summary>
    [LibraryImport(Library, EntryPoint = "pcap_next_ex")]
    public static partial int NextEx(IntPtr p, out byte* header, out byte* data);

    /// <summary>A file descriptor to poll for readability, -1 where there is none (Windows).</summary>
    [LibraryImport(Library, EntryPoint = "pcap_get_selectable_fd")]
    public static partial int GetSelectableFd(PcapHandle p);

    [LibraryImport(Library, EntryPoint = "pcap_setnonblock")]
    public static partial int SetNonBlock(PcapHandle p, int nonblock, byte* errbuf);

    [LibraryImport(Library, EntryPoint = "pcap_stats")]
    public static partial int Stats(PcapHandle p, PcapStat* stats);

    /// <summary>Safe from another thread or a signal handler: sets a flag (and on libpcap ≥ 1.10 Linux wakes the
    /// poll through an eventfd); a blocked read otherwise returns at the latest when the read timeout expires.</summary>
    [LibraryImport(Library, EntryPoint = "pcap_breakloop")]
    public static partial void BreakLoop(IntPtr p);

    [LibraryImport(Library, EntryPoint = "pcap_geterr")]
    public static partial byte* GetErr(PcapHandle p);

    [LibraryImport(Library, EntryPoint = "pcap_statustostr")]
    public static partial byte* StatusToStr(int status);

    /// <summary>poll(2) on one descriptor (Unix). Linux TPACKET_V3 ignores the pcap read timeout while no packet
    /// arrives (the kernel does not retire an empty block), so a blocking pcap_next_ex could sleep forever on an
    /// idle link; polling the selectable fd with our own timeout bounds every wait.</summary>
    [LibraryImport(LibC, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    public const short PollIn = 0x1;

    /// <summary>struct pollfd { int fd; short events; short revents; } (same on Linux and macOS).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    /// <summary>struct bpf_program { u_int bf_len; struct bpf_insn *bf_insns; }</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct BpfProgram
    {
        public uint Length;
        public IntPtr Instructions;
    }

    /// <summary>struct pcap_stat { u_int ps_recv; u_int ps_drop; u_int ps_ifdrop; } plus room for the Windows
    /// ps_capt/ps_sent/ps_netdrop (HAVE_REMOTE) fields so libpcap never writes past the struct.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PcapStat
    {
        public uint Received;
        public uint Dropped;
        public uint InterfaceDropped;
        public uint Reserved0, Reserved1, Reserved2;
    }

    /// <summary>A NUL-terminated C string from libpcap, or null.</summary>
    public static string? Utf8(byte* s) => s == null ? null : Marshal.PtrToStringUTF8((IntPtr)s);
}
