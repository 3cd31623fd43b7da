using System.Net;
using System.Runtime.InteropServices;
using PathProbe.LibPcap.Native;

namespace PathProbe.LibPcap;

/// <summary>An address of a capture device (pcap_addr): IPv4 or IPv6 only; link-layer addresses are left out.</summary>
public sealed record PcapAddress(IPAddress Address, IPAddress? Netmask, IPAddress? Broadcast, IPAddress? Destination);

/// <summary>An interface libpcap can capture on (pcap_findalldevs).</summary>
public sealed class PcapDevice
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    public IReadOnlyList<PcapAddress> Addresses { get; init; } = Array.Empty<PcapAddress>();
    /// <summary>PCAP_IF_* flags as libpcap reports them.</summary>
    public uint Flags { get; init; }

    public bool IsLoopback => (Flags & PcapNative.IfLoopback) != 0;
    public bool IsUp => (Flags & PcapNative.IfUp) != 0;
    public bool IsRunning => (Flags & PcapNative.IfRunning) != 0;
    public bool IsWireless => (Flags & PcapNative.IfWireless) != 0;

    public override string ToString() => Name;

    /// <summary>All devices, in libpcap's order (up and running interfaces first).</summary>
    /// <exception cref="PcapException">libpcap is missing or the list cannot be read.</exception>
    public static unsafe IReadOnlyList<PcapDevice> FindAll() => PcapLibrary.Call(() =>
    {
        byte* errbuf = stackalloc byte[PcapNative.ErrorBufferSize];
        errbuf[0] = 0;
        if (PcapNative.FindAllDevs(out IntPtr list, errbuf) != 0)
            throw new PcapException(PcapErrorKind.Generic, "cannot list interfaces: " + PcapNative.Utf8(errbuf));
        try
        {
            var devices = new List<PcapDevice>();
            for (IntPtr d = list; d != IntPtr.Zero; d = Marshal.ReadIntPtr(d, DeviceLayout.IfNext))
            {
                var addresses = new List<PcapAddress>();
                for (IntPtr a = Marshal.ReadIntPtr(d, DeviceLayout.IfAddresses); a != IntPtr.Zero; a = Marshal.ReadIntPtr(a, DeviceLayout.AddrNext))
                {
                    if (SockAddr.Parse(Marshal.ReadIntPtr(a, DeviceLayout.AddrAddress)) is not { } address) continue;
                    addresses.Add(new PcapAddress(address,
                        SockAddr.Parse(Marshal.ReadIntPtr(a, DeviceLayout.AddrNetmask)),
                        SockAddr.Parse(Marshal.ReadIntPtr(a, DeviceLayout.AddrBroadcast)),
                        SockAddr.Parse(Marshal.ReadIntPtr(a, DeviceLayout.AddrDestination))));
                }
                devices.Add(new PcapDevice
                {
                    Name = Marshal.PtrToStringUTF8(Marshal.ReadIntPtr(d, DeviceLayout.IfName)) ?? "",
                    Description = Marshal.PtrToStringUTF8(Marshal.ReadIntPtr(d, DeviceLayout.IfDescription)),
                    Flags = (uint)Marshal.ReadInt32(d, DeviceLayout.IfFlags),
                    Addresses = addresses,
                });
            }
            return (IReadOnlyList<PcapDevice>)devices;
        }
        finally
        {
            PcapNative.FreeAllDevs(list);
        }
    });
}
