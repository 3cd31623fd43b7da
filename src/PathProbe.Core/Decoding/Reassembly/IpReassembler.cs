using PathProbe.Primitives;

namespace PathProbe.Decoding.Reassembly;

/// <summary>Identifies the datagram a fragment belongs to (RFC 791: src, dst, protocol, id; RFC 8200 4.5: src, dst, id).</summary>
public readonly record struct FragmentKey(IpAddress Src, IpAddress Dst, uint Id, byte Protocol, byte IpVersion);

public enum ReassemblyResult : byte
{
    /// <summary>Fragment stored, datagram not complete.</summary>
    Held,
    /// <summary>This fragment completed the datagram; the payload is returned.</summary>
    Completed,
    /// <summary>Dropped: duplicate, bad offset, oversize, or memory bound hit (see counters).</summary>
    Dropped,
}

public sealed class ReassemblyOptions
{
    /// <summary>Capture-time timeout after the first fragment (Linux ipfrag_time default: 30 s).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Bytes held in incomplete datagrams at most.</summary>
    public long MaxBytes { get; init; } = 64L * 1024 * 1024;
    /// <summary>Incomplete datagrams held at most.</summary>
    public int MaxDatagrams { get; init; } = 16_384;
    /// <summary>How many incomplete-datagram records are kept for reports.</summary>
    public int MaxIncompleteRecords { get; init; } = 1_000;
}

public sealed class ReassemblyCounters
{
    public long Fragments;
    public long Completed;
    public long TimedOut;
    public long OpenAtEnd;
    public long Overlaps;
    public long Duplicates;
    public long Oversize;
    public long DroppedMemoryBound;
    public long Incomplete => TimedOut + OpenAtEnd;
}

/// <summary>A datagram whose fragments never all arrived (timed out, or still open at the end of input).</summary>
public readonly record struct IncompleteDatagram(
    FragmentKey Key,
    Timestamp FirstSeen,
    Timestamp LastSeen,
    int FragmentsReceived,
    int BytesReceived,
    bool FirstFragmentSeen,
    bool LastFragmentSeen,
    /// <summary>Payload length of the whole datagram when the last fragment was seen, else -1.</summary>
    int TotalPayloadLength,
    /// <summary>Transport ports from the first fragment, when it was seen.</summary>
    ushort SrcPort,
    ushort DstPort,
    bool TimedOut);

/// <summary>
/// IPv4/IPv6 fragment reassembly on capture time with a memory bound (RFC 791, RFC 815, RFC 8200 4.5).
/// The span returned by <see cref="Add"/> is valid until the next call.
/// </summary>
public sealed class IpReassembler
{
    // Contract only; the implementation lands separately. Construction works so decoders can be tested meanwhile.
    public IpReassembler(ReassemblyOptions? options = null) { }

    public ReassemblyCounters Counters { get; } = new();

    /// <summary>Records kept of incomplete datagrams (bounded by <see cref="ReassemblyOptions.MaxIncompleteRecords"/>).</summary>
    public IReadOnlyList<IncompleteDatagram> Incomplete { get; } = Array.Empty<IncompleteDatagram>();

    /// <param name="offset">Byte offset of <paramref name="data"/> in the datagram's payload.</param>
    /// <param name="datagram">On Completed: the whole reassembled payload (transport header onward).</param>
    public ReassemblyResult Add(in FragmentKey key, int offset, bool moreFragments, ReadOnlySpan<byte> data, Timestamp time,
        out ReadOnlySpan<byte> datagram, out int fragmentCount) => throw new NotImplementedException();

    /// <summary>Times out datagrams whose first fragment is older than the timeout at <paramref name="now"/>.</summary>
    public void Expire(Timestamp now) => throw new NotImplementedException();

    /// <summary>End of input: every datagram still open is counted as incomplete.</summary>
    public void Finish() => throw new NotImplementedException();
}
