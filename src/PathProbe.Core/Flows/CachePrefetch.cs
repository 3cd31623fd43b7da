using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace PathProbe.Flows;

/// <summary>Asks the CPU to load an object's first cache lines ahead of use (x86 SSE; nothing elsewhere). A hint only:
/// an object the collector moves meanwhile is just not prefetched.</summary>
internal static class CachePrefetch
{
    // The layout of any object seen through Unsafe.As: its first field's address. Never made, never written.
    private sealed class RawData
    {
#pragma warning disable CS0649
        public byte Data;
#pragma warning restore CS0649
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Object(object o, int lines)
    {
        if (!Sse.IsSupported) return;
        byte* p = (byte*)Unsafe.AsPointer(ref Unsafe.As<RawData>(o).Data);
        for (int i = 0; i < lines; i++) Sse.Prefetch0(p + 64 * i);
    }
}
