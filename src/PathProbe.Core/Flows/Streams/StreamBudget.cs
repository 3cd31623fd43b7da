namespace PathProbe.Flows.Streams;

/// <summary>
/// Memory shared by all stream reassemblers of one analysis (out-of-order bytes buffered). Single-threaded,
/// like the engine loop that owns it. When a reservation fails, the reassembler that asked gives up its direction.
/// </summary>
public sealed class StreamBudget(long capacityBytes = StreamBudget.DefaultCapacity)
{
    public const long DefaultCapacity = 64L << 20;

    public long Capacity { get; } = capacityBytes;
    public long Used { get; private set; }
    public long Peak { get; private set; }
    /// <summary>Reservations refused because the budget was exhausted.</summary>
    public long Refusals { get; private set; }

    public bool TryReserve(int bytes)
    {
        if (Used + bytes > Capacity) { Refusals++; return false; }
        Used += bytes;
        if (Used > Peak) Peak = Used;
        return true;
    }

    public void Release(int bytes) => Used -= bytes;
}
