using System.Numerics;

namespace PathProbe.Flows.Tcp;

/// <summary>
/// Free lists, per thread, of the per-side arrays that start small and double as a flow uses them (unacknowledged
/// segments, RTT samples, the TCP timestamp ring, path-MTU candidates). An array a side grew past, or let go when its
/// flow left the table, is taken by the next side that needs one of its size instead of a new one: bulk mail
/// (benchmark set (a)) otherwise allocated 11 of its 37 MB this way (an unacknowledged-segment list grows 2, 4, ...
/// 512 in every connection; allocation ticks by type), each collection scanning the young ones. Arrays are cleared when they come back, so one taken reads as
/// a new one. Bounded: per size, at most about 256 KiB of arrays (at least 4, at most 1,024) wait on a thread; what
/// comes back beyond that is left to the collector. Lengths are powers of two (others are neither kept nor asked for).
/// </summary>
internal static class GrowArrays<T> where T : unmanaged
{
    private const int Sizes = 17; // lengths 1 .. 65,536
    private const int KeepBytes = 256 * 1024;

    [ThreadStatic] private static Stack<T[]>?[]? t_free;

    /// <summary>An array of <paramref name="length"/> (a power of two), all zero.</summary>
    public static T[] Rent(int length)
    {
        System.Diagnostics.Debug.Assert(BitOperations.IsPow2(length));
        int k = BitOperations.Log2((uint)length);
        if (k < Sizes && t_free?[k] is { Count: > 0 } free) return free.Pop();
        return new T[length];
    }

    /// <summary>Gives an array back (null is ignored); the caller holds no reference to it afterwards.</summary>
    public static void Return(T[]? array)
    {
        if (array is null || !BitOperations.IsPow2(array.Length)) return;
        int k = BitOperations.Log2((uint)array.Length);
        if (k >= Sizes) return;
        var free = (t_free ??= new Stack<T[]>?[Sizes])[k] ??= new Stack<T[]>();
        if (free.Count >= Keep(array.Length)) return;
        Array.Clear(array);
        free.Push(array);
    }

    /// <summary>A grown copy: an array of <paramref name="length"/> with <paramref name="array"/>'s entries in their
    /// places (the rest zero); <paramref name="array"/> is given back.</summary>
    public static T[] Grow(T[] array, int length)
    {
        var bigger = Rent(length);
        array.AsSpan().CopyTo(bigger);
        Return(array);
        return bigger;
    }

    private static unsafe int Keep(int length) => Math.Clamp(KeepBytes / (length * sizeof(T)), 4, 1024);
}
