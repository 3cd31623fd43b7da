using System.Runtime.InteropServices;

namespace PathProbe.LibPcap.Native;

/// <summary>An owned <c>pcap_t*</c>; released with pcap_close.</summary>
internal sealed class PcapHandle : SafeHandle
{
    public PcapHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    public PcapHandle(IntPtr handle) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        PcapNative.Close(handle);
        return true;
    }
}
