using PathProbe.LibPcap.Native;

namespace PathProbe.LibPcap.Tests;

public class NativeLayoutTests
{
    [SkippableFact]
    public void PacketHeaderLayout_PerOs_TimevalSizesAndLengthOffsets()
    {
        // struct pcap_pkthdr { struct timeval ts; bpf_u_int32 caplen; bpf_u_int32 len; }
        var linux = PacketHeaderLayout.Linux64;
        Assert.Equal((8, 8, 8, 16, 20), (linux.SecondsSize, linux.FractionOffset, linux.FractionSize, linux.CapturedLengthOffset, linux.WireLengthOffset));
        var windows = PacketHeaderLayout.Long32;
        Assert.Equal((4, 4, 4, 8, 12), (windows.SecondsSize, windows.FractionOffset, windows.FractionSize, windows.CapturedLengthOffset, windows.WireLengthOffset));
        var mac = PacketHeaderLayout.MacOS;
        Assert.Equal((8, 8, 4, 16, 20), (mac.SecondsSize, mac.FractionOffset, mac.FractionSize, mac.CapturedLengthOffset, mac.WireLengthOffset));
    }

    [SkippableFact]
    public unsafe void PacketHeaderLayout_Linux64_ReadsFields()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Linux only");
        Skip.If(IntPtr.Size != 8, "the layout checked is 64-bit");
        byte* h = stackalloc byte[24];
        *(long*)h = 1_700_000_000;
        *(long*)(h + 8) = 123_456;
        *(int*)(h + 16) = 60;
        *(int*)(h + 20) = 1514;
        var l = PacketHeaderLayout.Current;
        Assert.Equal(1_700_000_000, l.Seconds(h));
        Assert.Equal(123_456, l.Fraction(h));
        Assert.Equal(60, l.CapturedLength(h));
        Assert.Equal(1514, l.WireLength(h));
    }

    [SkippableTheory]
    // Linux sockaddr_in: family 2 (host order), port, 192.0.2.7
    [InlineData("0200 0019 c0000207 0000000000000000", "192.0.2.7")]
    // Linux sockaddr_in6: family 10, port, flowinfo, 2001:db8::25, scope 0
    [InlineData("0a00 0019 00000000 20010db8000000000000000000000025 00000000", "2001:db8::25")]
    // AF_PACKET (17): not an IP address
    [InlineData("1100 0000 00000000 0000000000000000", null)]
    public unsafe void SockAddr_Linux_ParsesInetAndInet6(string hex, string? expected)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Linux only");
        byte[] bytes = Convert.FromHexString(hex.Replace(" ", ""));
        fixed (byte* p = bytes)
            Assert.Equal(expected, SockAddr.Parse((IntPtr)p)?.ToString());
    }
}
