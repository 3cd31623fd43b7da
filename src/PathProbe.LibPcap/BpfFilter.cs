using System.Runtime.InteropServices;
using PathProbe.LibPcap.Native;

namespace PathProbe.LibPcap;

/// <summary>
/// A tcpdump filter expression (pcap-filter(7)) compiled for one link type and run on frames in memory, as tcpdump
/// does for <c>tcpdump -r FILE FILTER</c>: pcap_open_dead + pcap_compile (optimised) once, then pcap_offline_filter
/// per frame, which allocates nothing. Not thread-safe; compile on one thread (pcap_compile before libpcap 1.8 is
/// not reentrant).
/// </summary>
public sealed unsafe class BpfFilter : IDisposable
{
    /// <summary>Room for struct pcap_pkthdr on any platform (Apple's may carry more than the standard fields).</summary>
    private const int HeaderRoom = 512;
    private static readonly PacketHeaderLayout Layout = PacketHeaderLayout.Current;
    private PcapNative.BpfProgram* _program;

    private BpfFilter(string expression, int linkType, PcapNative.BpfProgram* program)
    {
        Expression = expression;
        LinkType = linkType;
        _program = program;
    }

    public string Expression { get; }
    /// <summary>LINKTYPE_* of the frames this program reads.</summary>
    public int LinkType { get; }

    /// <summary>Compiles <paramref name="expression"/> for frames of <paramref name="linkType"/> (a LINKTYPE_* value,
    /// as in capture files).</summary>
    /// <exception cref="PcapException">Kind <see cref="PcapErrorKind.BadFilter"/> with libpcap's message, or
    /// <see cref="PcapErrorKind.LibraryMissing"/>.</exception>
    public static BpfFilter Compile(string expression, int linkType, int snapLength = 262_144)
    {
        ArgumentNullException.ThrowIfNull(expression);
        return PcapLibrary.Call(() =>
        {
            IntPtr p = PcapNative.OpenDead(LinkTypeToDlt(linkType), snapLength);
            if (p == IntPtr.Zero) throw new PcapException(PcapErrorKind.Generic, $"pcap_open_dead failed for link type {linkType}");
            using var handle = new PcapHandle(p);
            var program = (PcapNative.BpfProgram*)NativeMemory.AllocZeroed((nuint)sizeof(PcapNative.BpfProgram));
            if (PcapNative.Compile(handle, program, expression, 1, PcapNative.NetmaskUnknown) != 0)
            {
                string error = PcapNative.Utf8(PcapNative.GetErr(handle)) ?? "unknown libpcap error";
                NativeMemory.Free(program);
                throw new PcapException(PcapErrorKind.BadFilter, error);
            }
            return new BpfFilter(expression, linkType, program);
        });
    }

    /// <summary>True when the frame passes (bpf_filter's result is not zero). <paramref name="originalLength"/> is
    /// the length on the wire; the program sees only the captured bytes, as it would reading a file.</summary>
    public bool Matches(ReadOnlySpan<byte> data, int originalLength)
    {
        ObjectDisposedException.ThrowIf(_program is null, this);
        byte* header = stackalloc byte[HeaderRoom];
        Layout.Write(header, data.Length, originalLength);
        fixed (byte* d = data)
        {
            // bpf_filter never reads past caplen; an empty frame still needs a valid pointer.
            byte empty = 0;
            return PcapNative.OfflineFilter(_program, header, d == null ? &empty : d) != 0;
        }
    }

    public void Dispose()
    {
        if (_program is null) return;
        PcapNative.FreeCode(_program);
        NativeMemory.Free(_program);
        _program = null;
    }

    /// <summary>
    /// pcap_open_dead takes a DLT_* value; files carry LINKTYPE_* values. They are equal except below 104
    /// (libpcap's linktype_to_dlt): LINKTYPE_RAW 101 is DLT_RAW (12 on Linux, macOS, Windows; 14 on OpenBSD),
    /// LINKTYPE_ATM_RFC1483 100 is DLT_ATM_RFC1483 11, 102/103 are BSD/OS SLIP and PPP (15, 16).
    /// </summary>
    public static int LinkTypeToDlt(int linkType) => linkType switch
    {
        100 => 11,
        // .NET runs on none of the systems where DLT_RAW is 14; a file written there with 14 holds raw IP, as the
        // decoder also reads it.
        101 or 14 => 12,
        102 => 15,
        103 => 16,
        _ => linkType,
    };
}
