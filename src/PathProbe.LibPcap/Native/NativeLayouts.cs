using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace PathProbe.LibPcap.Native;

/// <summary>
/// <c>struct pcap_pkthdr { struct timeval ts; bpf_u_int32 caplen; bpf_u_int32 len; }</c> per platform. timeval is
/// not fixed-size: Linux LP64 has two 64-bit longs, 32-bit Linux and Windows (LLP64, libpcap's own timeval) two
/// 32-bit longs, macOS a 64-bit tv_sec and a 32-bit tv_usec followed by 4 bytes of padding.
/// </summary>
internal readonly struct PacketHeaderLayout
{
    public readonly int SecondsOffset;
    public readonly int SecondsSize;
    public readonly int FractionOffset;
    public readonly int FractionSize;
    public readonly int CapturedLengthOffset;
    public readonly int WireLengthOffset;

    private PacketHeaderLayout(int secondsSize, int fractionOffset, int fractionSize, int capturedLengthOffset)
    {
        SecondsOffset = 0;
        SecondsSize = secondsSize;
        FractionOffset = fractionOffset;
        FractionSize = fractionSize;
        CapturedLengthOffset = capturedLengthOffset;
        WireLengthOffset = capturedLengthOffset + 4;
    }

    /// <summary>Linux LP64 (x64, arm64): tv_sec 8, tv_usec 8, caplen at 16, len at 20.</summary>
    public static PacketHeaderLayout Linux64 => new(8, 8, 8, 16);
    /// <summary>32-bit Unix and Windows (both word sizes): tv_sec 4, tv_usec 4, caplen at 8, len at 12.</summary>
    public static PacketHeaderLayout Long32 => new(4, 4, 4, 8);
    /// <summary>macOS: tv_sec 8, tv_usec (int32) 4 + 4 padding, caplen at 16, len at 20.</summary>
    public static PacketHeaderLayout MacOS => new(8, 8, 4, 16);

    public static PacketHeaderLayout Current { get; } =
        OperatingSystem.IsWindows() ? Long32
        : OperatingSystem.IsMacOS() || OperatingSystem.IsIOS() || OperatingSystem.IsFreeBSD() ? MacOS
        : IntPtr.Size == 8 ? Linux64 : Long32;

    public unsafe long Seconds(byte* h) => SecondsSize == 8 ? *(long*)(h + SecondsOffset) : *(int*)(h + SecondsOffset);
    public unsafe long Fraction(byte* h) => FractionSize == 8 ? *(long*)(h + FractionOffset) : *(int*)(h + FractionOffset);
    /// <summary>sizeof(struct pcap_pkthdr) on this platform.</summary>
    public int Size => WireLengthOffset + 4;

    /// <summary>Fills a header for pcap_offline_filter: the lengths (all bpf_filter reads) and a zero time.</summary>
    public unsafe void Write(byte* h, int capturedLength, int wireLength)
    {
        new Span<byte>(h, Size).Clear();
        *(int*)(h + CapturedLengthOffset) = capturedLength;
        *(int*)(h + WireLengthOffset) = wireLength;
    }

    public unsafe int CapturedLength(byte* h) => *(int*)(h + CapturedLengthOffset);
    public unsafe int WireLength(byte* h) => *(int*)(h + WireLengthOffset);
}

/// <summary>Native structures of the interface list (pcap_findalldevs), read through named offsets.</summary>
internal static class DeviceLayout
{
    // struct pcap_if { struct pcap_if *next; char *name; char *description; struct pcap_addr *addresses; bpf_u_int32 flags; }
    public static int IfNext => 0;
    public static int IfName => IntPtr.Size;
    public static int IfDescription => 2 * IntPtr.Size;
    public static int IfAddresses => 3 * IntPtr.Size;
    public static int IfFlags => 4 * IntPtr.Size;

    // struct pcap_addr { struct pcap_addr *next; struct sockaddr *addr, *netmask, *broadaddr, *dstaddr; }
    public static int AddrNext => 0;
    public static int AddrAddress => IntPtr.Size;
    public static int AddrNetmask => 2 * IntPtr.Size;
    public static int AddrBroadcast => 3 * IntPtr.Size;
    public static int AddrDestination => 4 * IntPtr.Size;
}

/// <summary>
/// struct sockaddr per OS. Linux and Windows: u16 sa_family in host order at 0. BSD/macOS: u8 sa_len, u8 sa_family.
/// AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 23 (Windows), 30 (macOS), 28 (FreeBSD).
/// sockaddr_in: sin_port at 2, sin_addr at 4; sockaddr_in6: sin6_port 2, sin6_flowinfo 4, sin6_addr 8, sin6_scope_id 24.
/// </summary>
internal static class SockAddr
{
    private const int AfInet = 2;
    private const int InAddrOffset = 4;
    private const int In6AddrOffset = 8;
    private const int In6ScopeIdOffset = 24;

    private static readonly int AfInet6 =
        OperatingSystem.IsWindows() ? 23 : OperatingSystem.IsMacOS() || OperatingSystem.IsIOS() ? 30 : OperatingSystem.IsFreeBSD() ? 28 : 10;
    private static readonly bool FamilyIsByte = OperatingSystem.IsMacOS() || OperatingSystem.IsIOS() || OperatingSystem.IsFreeBSD();

    public static int Family(IntPtr sa) => FamilyIsByte ? Marshal.ReadByte(sa, 1) : (ushort)Marshal.ReadInt16(sa, 0);

    /// <summary>The IPv4 or IPv6 address in <paramref name="sa"/>, or null for other families (AF_PACKET, AF_LINK).</summary>
    public static unsafe IPAddress? Parse(IntPtr sa)
    {
        if (sa == IntPtr.Zero) return null;
        int family = Family(sa);
        byte* p = (byte*)sa;
        if (family == AfInet) return new IPAddress(new ReadOnlySpan<byte>(p + InAddrOffset, 4));
        if (family == AfInet6)
        {
            uint scope = *(uint*)(p + In6ScopeIdOffset);
            return new IPAddress(new ReadOnlySpan<byte>(p + In6AddrOffset, 16), scope);
        }
        return null;
    }

    public static AddressFamily? ToAddressFamily(int family) =>
        family == AfInet ? AddressFamily.InterNetwork : family == AfInet6 ? AddressFamily.InterNetworkV6 : null;
}
