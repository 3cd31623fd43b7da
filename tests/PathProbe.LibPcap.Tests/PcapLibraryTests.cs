using PathProbe.LibPcap.Tests.Support;
using Xunit.Abstractions;

namespace PathProbe.LibPcap.Tests;

public class PcapLibraryTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void Version_LibraryInstalled_NamesLibpcap()
    {
        if (!Requires.LibPcap(output)) return;
        Assert.StartsWith("libpcap version", PcapLibrary.Version);
        output.WriteLine(PcapLibrary.Version);
    }

    [SkippableFact]
    public void FindAll_Linux_ListsLoopbackWithItsAddress()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Linux only");
        if (!Requires.LibPcap(output)) return;
        var devices = PcapDevice.FindAll();
        var lo = Assert.Single(devices, d => d.Name == "lo");
        Assert.True(lo.IsLoopback);
        Assert.True(lo.IsUp);
        Assert.Contains(lo.Addresses, a => a.Address.ToString() == "127.0.0.1" && a.Netmask?.ToString() == "255.0.0.0");
        foreach (var d in devices)
            output.WriteLine($"{d.Name} flags={d.Flags:x} {string.Join(" ", d.Addresses.Select(a => a.Address))}");
    }

    [SkippableFact]
    public void CompileError_ValidFilter_IsNull()
    {
        if (!Requires.LibPcap(output)) return;
        Assert.Null(LiveCapture.CompileError("tcp port 25 or icmp or icmp6 or (ip[6:2] & 0x3fff != 0)"));
    }

    [SkippableFact]
    public void CompileError_BadFilter_IsLibpcapMessage()
    {
        if (!Requires.LibPcap(output)) return;
        string? error = LiveCapture.CompileError("tcp port banana");
        Assert.NotNull(error);
        Assert.Contains("banana", error);
    }
}
