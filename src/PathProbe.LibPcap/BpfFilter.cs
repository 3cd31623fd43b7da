using System.Runtime.InteropServices;
using PathProbe.LibPcap.Native;

namespace PathProbe.LibPcap;

/// <summary>
/// A tcpdump filter expression (pcap-filter(7)) compiled for one link type and run on frames in memory, as tcpdump
/// does for <c>tcpdump -r FILE FILTER</c>: pcap_compile (optimised) once, then pcap_offline_filter per frame, which
/// allocates nothing. The program is compiled on a pcap_t opened on a savefile that holds only a file header with the
/// link type (in the byte order of the file being read), because libpcap compiles some link types differently for
/// savefiles than for pcap_open_dead, which it treats like a live capture: on BSD loopback (DLT_NULL) "ip6" then
/// matches only this host's AF_INET6 (10 on Linux) where a file from a BSD or macOS holds 24, 28 or 30, and the
/// address family is taken in this host's byte order. pcap_open_dead is the fallback when no temporary file can be
/// written. Not thread-safe; compile on one thread (pcap_compile before libpcap 1.8 is not reentrant).
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
    /// as in capture files) from a file whose byte order is the other than this host's when <paramref name="swapped"/>
    /// (only BSD loopback's address family depends on it).</summary>
    /// <exception cref="PcapException">Kind <see cref="PcapErrorKind.BadFilter"/> with libpcap's message, or
    /// <see cref="PcapErrorKind.LibraryMissing"/>.</exception>
    public static BpfFilter Compile(string expression, int linkType, bool swapped = false, int snapLength = 262_144)
    {
        ArgumentNullException.ThrowIfNull(expression);
        return PcapLibrary.Call(() =>
        {
            string? header = null;
            IntPtr p = IntPtr.Zero;
            try
            {
                header = WriteFileHeader(linkType, swapped, snapLength);
                if (header is not null)
                {
                    byte* errbuf = stackalloc byte[PcapNative.ErrorBufferSize];
                    p = PcapNative.OpenOffline(header, errbuf);
                }
                if (p == IntPtr.Zero) p = PcapNative.OpenDead(LinkTypeToDlt(linkType), snapLength);
                if (p == IntPtr.Zero) throw new PcapException(PcapErrorKind.Generic, $"libpcap cannot open a handle for link type {linkType}");
                using var handle = new PcapHandle(p);
                var program = (PcapNative.BpfProgram*)NativeMemory.AllocZeroed((nuint)sizeof(PcapNative.BpfProgram));
                if (PcapNative.Compile(handle, program, expression, 1, PcapNative.NetmaskUnknown) != 0)
                {
                    string error = PcapNative.Utf8(PcapNative.GetErr(handle)) ?? "unknown libpcap error";
                    NativeMemory.Free(program);
                    throw new PcapException(PcapErrorKind.BadFilter, error);
                }
                return new BpfFilter(expression, linkType, program);
            }
            finally
            {
                if (header is not null) try { File.Delete(header); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        });
    }

    /// <summary>A pcap file header alone (24 bytes): magic, version 2.4, snaplen, link type. Null when no temporary
    /// file can be written.</summary>
    private static string? WriteFileHeader(int linkType, bool swapped, int snapLength)
    {
        Span<byte> h = stackalloc byte[24];
        bool big = BitConverter.IsLittleEndian == swapped;
        void U32(Span<byte> at, uint v) { if (big) System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(at, v); else System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(at, v); }
        void U16(Span<byte> at, ushort v) { if (big) System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(at, v); else System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(at, v); }
        U32(h, 0xa1b2c3d4);
        U16(h[4..], 2);
        U16(h[6..], 4);
        U32(h[8..], 0);
        U32(h[12..], 0);
        U32(h[16..], (uint)snapLength);
        U32(h[20..], (uint)linkType);
        try
        {
            string path = Path.Combine(Path.GetTempPath(), $"pathprobe-bpf-{Environment.ProcessId}-{Guid.NewGuid():N}.pcap");
            File.WriteAllBytes(path, h.ToArray());
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
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
