using System.Globalization;
using PathProbe.Findings.Kinds;
using PathProbe.Decoding;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Flows.Tcp;
using PathProbe.Primitives;

namespace PathProbe.Analysis.Tcp;

public sealed class StormOptions
{
    /// <summary>Sliding window over capture time.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Retransmissions within the window needed for a storm.</summary>
    public int MinRetransmissions { get; init; } = 5;
    /// <summary>Share of data segments retransmitted within the window needed for a storm.</summary>
    public double MinShare { get; init; } = 0.02;
    /// <summary>Half-open connection attempts (SYNs without SYN-ACK) in the window that suggest a SYN flood.</summary>
    public int FloodMinHalfOpen { get; init; } = 100;
    public int FloodMinSources { get; init; } = 10;
}

/// <summary>
/// Capture-wide retransmission storms in a sliding window of one-second buckets, with a per-peer breakdown and a
/// classification: path fault (size-dependent loss that never recovers: a black hole, not an attack), congestion or
/// random loss, or a SYN flood (an attack, not a retransmission storm). Bounded: fixed buckets, at most
/// <see cref="MaxPeers"/> peers and <see cref="MaxFlows"/> flow ids per storm.
/// </summary>
public sealed class RetransmissionStormDetector(StormOptions options, FindingLog log, Mtu.IPathMtuView? mtu = null)
{
    private const int MaxPeers = 64;
    private const int MaxFlows = 200;
    private const long Second = 1_000_000_000;

    private struct Bucket
    {
        public long Second;
        public long Data, Retx, Fast, Rto, Large, Small, DupAcks, Syns, SynAcks;
    }

    private readonly Bucket[] _ring = new Bucket[Math.Max(1, (int)Math.Ceiling(options.Window.TotalSeconds))];
    private long _currentSecond = long.MinValue;
    private long _secondStart = long.MaxValue / 2;
    private int _bucket;

    // The storm in progress.
    private bool _active;
    private Bucket _total;
    private long _peakRetxInWindow;
    private double _peakShare;
    private readonly Dictionary<IpAddress, long> _peers = new();
    private readonly HashSet<IpAddress> _synSources = new();
    private readonly List<Flow> _flows = new();
    private readonly HashSet<int> _flowIds = new();
    /// <summary>Per noted flow id: the directions that retransmitted.</summary>
    private readonly Dictionary<int, (bool C2s, bool S2c)> _directions = new();
    /// <summary>Per noted flow id: where its application dialogue was when it was first noted.</summary>
    private readonly Dictionary<int, SmtpPosition?> _positions = new();
    private VerdictHandle _handle;
    private int _maxIpSize;

    public int StormsReported { get; private set; }

    /// <summary>One analysed TCP segment.</summary>
    public void OnSegment(Flow flow, bool fromClient, TcpAnalysisFlags ta, int seglen, TcpFlags flags, int ipSize, long now)
    {
        // Divisions only when the second changes (capture time is nearly monotonic).
        if (now < _secondStart || now >= _secondStart + Second)
        {
            long sec = Math.DivRem(now, Second, out long rem);
            if (rem < 0) sec--;
            if (sec != _currentSecond) Advance(sec);
            _secondStart = sec * Second;
            _bucket = (int)(((sec % _ring.Length) + _ring.Length) % _ring.Length);
        }
        ref Bucket b = ref _ring[_bucket];
        if (seglen > 0) b.Data++;
        if ((flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn) b.Syns++;
        if ((flags & (TcpFlags.Syn | TcpFlags.Ack)) == (TcpFlags.Syn | TcpFlags.Ack)) b.SynAcks++;
        if ((ta & TcpAnalysisFlags.DuplicateAck) != 0) b.DupAcks++;
        if ((ta & TcpAnalysisFlags.AnyRetransmission) == 0 || seglen == 0) return;

        b.Retx++;
        if ((ta & TcpAnalysisFlags.FastRetransmission) != 0) b.Fast++;
        if ((ta & TcpAnalysisFlags.Retransmission) != 0) b.Rto++;
        if (TcpAnalyzer.IsFullSize(flow, fromClient, seglen)) b.Large++; else b.Small++;
        if (_active) Note(flow, fromClient, ipSize, now);
        else
        {
            _recent[_recentNext] = (flow, flow.Id, fromClient, ipSize, now);
            _recentNext = (_recentNext + 1) % _recent.Length;
        }
    }

    // The latest retransmissions before a storm is recognised, so the storm includes those of its first window.
    private readonly (Flow? Flow, int FlowId, bool FromClient, int IpSize, long Time)[] _recent = new (Flow?, int, bool, int, long)[256];
    private int _recentNext;
    private long _firstRetx, _lastRetx;

    private void Note(Flow flow, bool fromClient, int ipSize, long time)
    {
        if (_firstRetx == 0 || time < _firstRetx) _firstRetx = time;
        if (time > _lastRetx) _lastRetx = time;
        var peer = fromClient ? flow.ServerAddress : flow.ClientAddress;
        if (_peers.TryGetValue(peer, out long n) || _peers.Count < MaxPeers) _peers[peer] = n + 1;
        if (_flowIds.Count < MaxFlows && _flowIds.Add(flow.Id))
        {
            _flows.Add(flow);
            _positions[flow.Id] = flow.App?.Position; // once per flow, not per packet
        }
        if (_flowIds.Contains(flow.Id))
        {
            var d = _directions.GetValueOrDefault(flow.Id);
            _directions[flow.Id] = fromClient ? (true, d.S2c) : (d.C2s, true);
        }
        if (ipSize > _maxIpSize) _maxIpSize = ipSize;
    }

    /// <summary>Moves the window to <paramref name="sec"/> and evaluates it once per elapsed second.</summary>
    private void Advance(long sec)
    {
        if (_currentSecond != long.MinValue)
        {
            long steps = Math.Min(sec - _currentSecond, _ring.Length + 1);
            for (long s = 1; s <= steps; s++)
            {
                Evaluate(_currentSecond + s - 1);
                ref Bucket next = ref _ring[(int)((_currentSecond + s) % _ring.Length + _ring.Length) % _ring.Length];
                next = default;
                next.Second = _currentSecond + s;
            }
            if (sec - _currentSecond > steps && _active) Close();
        }
        else
        {
            ref Bucket first = ref _ring[(int)(sec % _ring.Length + _ring.Length) % _ring.Length];
            first = default;
            first.Second = sec;
        }
        _currentSecond = sec;
    }

    private void Evaluate(long lastSecond)
    {
        Bucket w = default;
        foreach (var b in _ring)
        {
            if (b.Second > lastSecond || b.Second <= lastSecond - _ring.Length) continue;
            Accumulate(ref w, b);
        }
        double share = w.Data == 0 ? 0 : (double)w.Retx / w.Data;
        bool storm = w.Retx >= options.MinRetransmissions && share >= options.MinShare;
        bool flood = w.Syns - w.SynAcks >= options.FloodMinHalfOpen;
        if (storm || flood)
        {
            if (!_active)
            {
                _active = true;
                _total = w; // the window that crossed the threshold belongs to the storm
                long windowStart = (lastSecond - _ring.Length + 1) * Second;
                foreach (var r in _recent)
                    if (r.Flow is not null && r.Time >= windowStart && r.Flow.Id == r.FlowId) Note(r.Flow, r.FromClient, r.IpSize, r.Time);
                Array.Clear(_recent);
                _handle = log.Raise(Build(ongoing: true));
            }
            else
            {
                ref Bucket cur = ref _ring[(int)(lastSecond % _ring.Length + _ring.Length) % _ring.Length];
                if (cur.Second == lastSecond) Accumulate(ref _total, cur);
            }
            _peakRetxInWindow = Math.Max(_peakRetxInWindow, w.Retx);
            _peakShare = Math.Max(_peakShare, share);
        }
        else if (_active) Close();
    }

    private static void Accumulate(ref Bucket t, in Bucket b)
    {
        t.Data += b.Data; t.Retx += b.Retx; t.Fast += b.Fast; t.Rto += b.Rto; t.Large += b.Large; t.Small += b.Small;
        t.DupAcks += b.DupAcks; t.Syns += b.Syns; t.SynAcks += b.SynAcks;
    }

    /// <summary>SYN sources are only collected for flood classification (a bounded set).</summary>
    public void OnSyn(IpAddress source)
    {
        if (_synSources.Count < 10_000) _synSources.Add(source);
    }

    /// <summary>End of input: evaluate the last window and close a storm in progress.</summary>
    public void Finish()
    {
        if (_currentSecond == long.MinValue) return;
        Evaluate(_currentSecond);
        if (_active) Close();
    }

    private void Close()
    {
        _active = false;
        var final = Build(ongoing: false);
        if (_handle.IsValid) log.Update(_handle, final); else log.Raise(final);
        StormsReported++;
        _peers.Clear(); _flows.Clear(); _flowIds.Clear(); _synSources.Clear(); _directions.Clear(); _positions.Clear();
        _peakRetxInWindow = 0; _peakShare = 0; _maxIpSize = 0; _total = default; _firstRetx = 0; _lastRetx = 0;
        _handle = default;
    }

    /// <summary>The storm so far: counts are the listed flows' own numbers (a flow record recycled since it was noted
    /// is another flow: it is counted as not listed).</summary>
    private StormVerdict Build(bool ongoing)
    {
        var t = _total;
        var current = _flows.Where(f => _flowIds.Contains(f.Id)).OrderBy(f => f.Id).ToList();
        var facts = current.Select(FlowFacts.Of).ToArray();
        var dirs = current.Select(f => _directions.GetValueOrDefault(f.Id)).ToArray();
        int unacked = 0, blackHoled = 0;
        foreach (var f in current)
        {
            var tcp = f.Tcp;
            if (tcp is null) continue;
            if (!tcp.Client.Series.IsEmpty && !tcp.Client.Series.Acknowledged || !tcp.Server.Series.IsEmpty && !tcp.Server.Series.Acknowledged) unacked++;
            if (mtu?.BlackHoled(f) == true) blackHoled++;
        }
        long retx = 0, large = 0;
        for (int i = 0; i < facts.Length; i++)
        {
            if (dirs[i].C2s) { retx += facts[i].Retransmissions.C2s; large += facts[i].FullSizeRetransmissions.C2s; }
            if (dirs[i].S2c) { retx += facts[i].Retransmissions.S2c; large += facts[i].FullSizeRetransmissions.S2c; }
        }
        long halfOpen = t.Syns - t.SynAcks;
        StormClass cls =
            halfOpen >= options.FloodMinHalfOpen && _synSources.Count >= options.FloodMinSources ? StormClass.Flood
            : retx > 0 && large == retx && unacked > 0 || blackHoled > 0 ? StormClass.PathFault
            : StormClass.Loss;
        return new StormVerdict
        {
            Flows = facts,
            Directions = dirs.Select(d => (d.C2s, d.S2c)).ToArray(),
            Ongoing = ongoing,
            Class = cls,
            Start = new Timestamp(_firstRetx),
            End = new Timestamp(_lastRetx),
            PeakRetransmissionsPerWindow = _peakRetxInWindow,
            WindowNanos = (long)options.Window.TotalNanoseconds,
            HalfOpenConnections = halfOpen,
            SynSources = _synSources.Count,
            LargestIpPacket = _maxIpSize,
            BlackHoledFlows = blackHoled,
            UnacknowledgedFlows = unacked,
            FlowsNotListed = _flowIds.Count - current.Count,
            Positions = current.Select(f => _positions.GetValueOrDefault(f.Id)).ToArray(),
        };
    }

    private static string Span(long nanos) =>
        nanos < 1_000_000_000 ? (nanos / 1e6).ToString("0", CultureInfo.InvariantCulture) + " ms" : (nanos / 1e9).ToString("0.#", CultureInfo.InvariantCulture) + " s";
}
