using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace PathProbe.Flows;

/// <summary>Asks the CPU to load an object's first cache lines, or an array element's line, ahead of use (x86 SSE; nothing elsewhere). A hint only:
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

    /// <summary>Asks for the cache line of <paramref name="array"/>[<paramref name="index"/>] (in bounds).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Element<T>(T[] array, int index)
    {
        if (Sse.IsSupported)
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(array), index)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Object(object o, int lines)
    {
        if (!Sse.IsSupported) return;
        byte* p = (byte*)Unsafe.AsPointer(ref Unsafe.As<RawData>(o).Data);
        for (int i = 0; i < lines; i++) Sse.Prefetch0(p + 64 * i);
    }
}
