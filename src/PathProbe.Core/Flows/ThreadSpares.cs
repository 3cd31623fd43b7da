namespace PathProbe.Flows;

/// <summary>
/// Per-flow state given back when its flow no longer needs it (a TCP state of a record that became a UDP flow, a
/// recycled record's DNS state, a closed TCP side's counter box, a closed SMTP session's decoding state), waiting for
/// the next flow of this thread to take it instead of a new one. Per
/// thread, because a flow table and its analyzers are used by one thread; bounded by the giver, so a burst of flows
/// leaving at once does not keep their states. Arrays have their own free lists (<see cref="Tcp.GrowArrays{T}"/>).
/// </summary>
internal static class ThreadSpares<T> where T : class
{
    [ThreadStatic] private static Stack<T>? t_spares;

    /// <summary>A spare, or null when none waits.</summary>
    public static T? Take() => t_spares is { Count: > 0 } spares ? spares.Pop() : null;

    /// <summary>Keeps <paramref name="item"/> (already cleared by the giver) while fewer than <paramref name="bound"/>
    /// wait; beyond that it is left to the collector.</summary>
    public static void Give(T item, int bound)
    {
        var spares = t_spares ??= new Stack<T>();
        if (spares.Count < bound) spares.Push(item);
    }
}
