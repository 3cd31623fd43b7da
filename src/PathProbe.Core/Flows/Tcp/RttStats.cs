namespace PathProbe.Flows.Tcp;

/// <summary>
/// RTT samples of one direction: exact min/max/count, the RFC 6298 smoothed RTT and variance (for the RTO), and a
/// median over the first <see cref="ExactSamples"/> samples exactly, then over a reservoir of that size (an
/// estimate; the JSON says which). The sample array is made with the first sample (room for 4) and doubled as samples
/// come, up to <see cref="ExactSamples"/>. Only the TCP analyzer writes (Add, Reset and Freeze are internal): a side
/// without samples reads one shared, never written instance (<see cref="TcpEndpointState.Rtt"/>).
/// </summary>
public sealed class RttStats
{
    public const int ExactSamples = 64;
    private const int FirstSamples = 4;
    private long[]? _samples;
    private int _stored;
    private const ulong Seed = 0x9E3779B97F4A7C15UL;
    private ulong _rng = Seed;

    public long Count { get; private set; }
    public long MinNanos { get; private set; } = long.MaxValue;
    public long MaxNanos { get; private set; }
    /// <summary>RFC 6298 SRTT and RTTVAR in nanoseconds (0 before the first sample).</summary>
    public double SmoothedNanos { get; private set; }
    public double VarianceNanos { get; private set; }
    /// <summary>The latest sample (0 before the first): the TUI's RTT-over-time graph plots these.</summary>
    public long LastNanos { get; private set; }

    internal void Add(long nanos)
    {
        if (nanos < 0) return;
        Count++;
        LastNanos = nanos;
        if (nanos < MinNanos) MinNanos = nanos;
        if (nanos > MaxNanos) MaxNanos = nanos;
        if (Count == 1) { SmoothedNanos = nanos; VarianceNanos = nanos / 2.0; }
        else
        {
            VarianceNanos = 0.75 * VarianceNanos + 0.25 * Math.Abs(SmoothedNanos - nanos);
            SmoothedNanos = 0.875 * SmoothedNanos + 0.125 * nanos;
        }
        if (_frozen) { _frozen = false; _stored = 0; } // (a closed flow gets no samples; this keeps Add correct anyway)
        if (_stored < ExactSamples)
        {
            // Sized to what the side uses: 4 samples first, doubled as they come, up to ExactSamples.
            if (_samples is null) _samples = GrowArrays<long>.Rent(FirstSamples);
            else if (_stored == _samples.Length) _samples = GrowArrays<long>.Grow(_samples, Math.Min(_stored * 2, ExactSamples));
            _samples[_stored++] = nanos;
        }
        else
        {
            // Reservoir sampling (Vitter's algorithm R) with a cheap deterministic generator.
            _rng ^= _rng << 13; _rng ^= _rng >> 7; _rng ^= _rng << 17;
            ulong j = Math.BigMul(_rng, (ulong)Count, out _); // uniform in [0, Count) without a division
            if (j < ExactSamples) _samples![j] = nanos;
        }
    }

    /// <summary>Median of the kept samples (exact when Count ≤ ExactSamples); -1 without samples.</summary>
    public long MedianNanos()
    {
        if (_frozen) return _median;
        if (_stored == 0) return -1;
        Span<long> copy = stackalloc long[ExactSamples];
        copy = copy[.._stored];
        _samples.AsSpan(0, _stored).CopyTo(copy);
        copy.Sort();
        return _stored % 2 == 1 ? copy[_stored / 2] : (copy[_stored / 2 - 1] + copy[_stored / 2]) / 2;
    }

    public bool MedianIsExact => Count <= ExactSamples;

    /// <summary>RFC 6298 retransmission timeout with Linux's 200 ms floor; 1 s (RFC 6298 2.1) without samples.</summary>
    public long RtoNanos => Count == 0 ? 1_000_000_000 : Math.Max(200_000_000, (long)(SmoothedNanos + 4 * VarianceNanos));

    private bool _frozen;
    private long _median;

    /// <summary>No more samples will come (the flow closed): the median is kept and the samples let go.</summary>
    internal void Freeze()
    {
        if (_frozen) return;
        _median = MedianNanos();
        _frozen = true;
        GrowArrays<long>.Return(_samples);
        _samples = null;
    }

    internal void Reset()
    {
        _frozen = false;
        _stored = 0; Count = 0; LastNanos = 0; MinNanos = long.MaxValue; MaxNanos = 0; SmoothedNanos = 0; VarianceNanos = 0;
        // The reservoir's choices start over too: a recycled record picks the samples a new one would, so the median
        // does not depend on which record a flow got (one engine and parallel workers recycle different ones).
        _rng = Seed;
    }
}
