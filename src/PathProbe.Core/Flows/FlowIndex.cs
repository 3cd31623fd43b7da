using System.Runtime.CompilerServices;
using PathProbe.Primitives;

namespace PathProbe.Flows;

/// <summary>
/// The flow table's index: open addressing with linear probing over the flow records themselves (the key is read from
/// the record, so it is stored once), a power-of-two array at most half full, deletion by backward shift (no
/// tombstones). A slot costs 12 bytes (the reference and the key's hash); a <see cref="Dictionary{TKey,TValue}"/> entry
/// costs 56 (hash, next, the 40-byte key, the reference) at a prime capacity past twice the count after growing.
/// </summary>
internal sealed class FlowIndex
{
    private const int MinCapacity = 512;
    private Flow?[] _slots = new Flow?[MinCapacity];
    private int[] _hashes = new int[MinCapacity];
    private int _mask = MinCapacity - 1;
    private int _shift = 32 - 9; // log2(MinCapacity)

    /// <summary>Home slot: Fibonacci hashing of the key's hash (its low bits alone are not spread well enough for a
    /// power-of-two table: ports and protocol enter the key's hash last).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(int h) => (int)(unchecked((uint)h * 2654435769u) >> _shift);

    public int Count { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Flow? Find(in FlowKey key)
    {
        int h = key.GetHashCode();
        var slots = _slots;
        var hashes = _hashes;
        for (int i = Home(h); ; i = (i + 1) & _mask)
        {
            var f = slots[i];
            if (f is null) return null;
            if (hashes[i] == h && f.Key.Equals(key)) return f;
        }
    }

    /// <summary>Adds <paramref name="flow"/>, whose key is not in the index.</summary>
    public void Add(Flow flow)
    {
        if ((Count + 1) * 2 > _slots.Length) Resize(_slots.Length * 2);
        Insert(flow, flow.Key.GetHashCode());
        Count++;
    }

    /// <summary>Puts <paramref name="flow"/> in the place of <paramref name="old"/>, which has the same key.</summary>
    public void Replace(Flow old, Flow flow)
    {
        int i = SlotOf(old);
        _slots[i] = flow;
    }

    /// <summary>Removes <paramref name="flow"/> (present in the index).</summary>
    public void Remove(Flow flow)
    {
        int i = SlotOf(flow);
        var slots = _slots;
        var hashes = _hashes;
        // Backward shift: an entry after the hole moves into it unless its home slot lies cyclically in (hole, j].
        for (int j = (i + 1) & _mask; slots[j] is not null; j = (j + 1) & _mask)
        {
            int home = Home(hashes[j]);
            bool stays = i <= j ? home > i && home <= j : home > i || home <= j;
            if (stays) continue;
            slots[i] = slots[j];
            hashes[i] = hashes[j];
            i = j;
        }
        slots[i] = null;
        hashes[i] = 0;
        Count--;
    }

    /// <summary>The live flows, in slot order.</summary>
    public IEnumerable<Flow> Values
    {
        get
        {
            var slots = _slots;
            foreach (var f in slots)
                if (f is not null) yield return f;
        }
    }

    /// <summary>Gives back the array of an emptied index.</summary>
    public void TrimExcess()
    {
        if (Count == 0 && _slots.Length > MinCapacity) SetArrays(MinCapacity);
    }

    /// <summary>Asks for the cache line of <paramref name="flow"/>'s home slot (x86; elsewhere nothing): the flow table
    /// calls it for the next flow to leave a list, whose record it has just written, so that the slot is in the cache
    /// when that flow leaves (a removal otherwise waits for memory there: 3.3 % of the CPU samples of DNS traffic (c),
    /// 0.7 % with this). A prefetch never faults, so an array the collector has moved since costs nothing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(Flow flow) => CachePrefetch.Element(_slots, Home(flow.Key.GetHashCode()));

    private int SlotOf(Flow flow)
    {
        for (int i = Home(flow.Key.GetHashCode()); ; i = (i + 1) & _mask)
        {
            var f = _slots[i];
            if (ReferenceEquals(f, flow)) return i;
            if (f is null) throw new InvalidOperationException("flow not in the index");
        }
    }

    private void Insert(Flow flow, int h)
    {
        int i = Home(h);
        while (_slots[i] is not null) i = (i + 1) & _mask;
        _slots[i] = flow;
        _hashes[i] = h;
    }

    private void Resize(int capacity)
    {
        var old = _slots;
        var oldHashes = _hashes;
        SetArrays(capacity);
        for (int i = 0; i < old.Length; i++)
            if (old[i] is { } f) Insert(f, oldHashes[i]);
    }

    private void SetArrays(int capacity)
    {
        _slots = new Flow?[capacity];
        _hashes = new int[capacity];
        _mask = capacity - 1;
        _shift = 32 - System.Numerics.BitOperations.Log2((uint)capacity);
    }
}
