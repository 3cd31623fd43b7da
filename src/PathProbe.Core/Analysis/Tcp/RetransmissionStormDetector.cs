using System.Globalization;
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
public sealed class RetransmissionStormDetector(StormOptions options, Action<Finding> report)
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
        if (_flowIds.Count < MaxFlows && _flowIds.Add(flow.Id)) _flows.Add(flow);
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
        var t = _total;
        var reasons = new List<string>();
        string classification;
        Severity severity;
        long unacked = 0, blackHoled = 0;
        // A flow record that left the table may have been recycled for another flow since it was noted: its state is
        // read only while it still carries a noted id (the finding lists the noted ids either way).
        var current = _flows.Where(f => _flowIds.Contains(f.Id)).ToList();
        foreach (var f in current)
        {
            var tcp = f.Tcp;
            if (tcp is null) continue;
            if (!tcp.Client.Series.IsEmpty && !tcp.Client.Series.Acknowledged || !tcp.Server.Series.IsEmpty && !tcp.Server.Series.Acknowledged) unacked++;
            if (tcp.MtuIfAny(true)?.Decided == true || tcp.MtuIfAny(false)?.Decided == true) blackHoled++;
        }
        long halfOpen = t.Syns - t.SynAcks;
        if (halfOpen >= options.FloodMinHalfOpen && _synSources.Count >= options.FloodMinSources)
        {
            classification = "flood";
            severity = Severity.Critical;
            reasons.Add($"{halfOpen} connection attempts were never answered, from {_synSources.Count} sources");
            reasons.Add("this is a SYN flood (many half-open connections), an attack pattern, not a retransmission storm");
        }
        else if (t.Retx > 0 && t.Small == 0 && (double)t.Large / t.Retx >= 0.9 && unacked > 0 || blackHoled > 0)
        {
            classification = "path-fault";
            severity = unacked > 0 ? Severity.Critical : Severity.Warning;
            if (blackHoled > 0)
                reasons.Add($"{blackHoled} of {_flowIds.Count} flow{(_flowIds.Count == 1 ? " is" : "s are")} in a path-MTU black hole (see the mtu-blackhole finding): packets above a size are dropped silently, smaller ones get through");
            reasons.Add($"{t.Large} of {t.Retx} retransmissions were full-size packets (up to {_maxIpSize} bytes)" + (t.Small == 0 ? "; no small packet needed resending" : $", {t.Small} smaller"));
            reasons.Add($"{unacked} of {_flowIds.Count} flow{(_flowIds.Count == 1 ? "" : "s")} kept resending data that was never acknowledged");
            reasons.Add($"{t.Rto} were timeout (RTO) retransmissions, {t.Fast} fast retransmissions, {t.DupAcks} duplicate ACKs");
            reasons.Add("size-dependent loss is a path fault (an MTU/MRU black hole), not an attack: the retransmissions come from the senders' own TCP stacks");
        }
        else
        {
            classification = "loss";
            severity = _peakShare >= 0.1 ? Severity.Warning : Severity.Info;
            reasons.Add($"retransmissions spread over packet sizes: {t.Large} full-size, {t.Small} smaller");
            reasons.Add($"{t.Fast} fast retransmissions and {t.DupAcks} duplicate ACKs: the receivers saw later data and asked for the missing segments");
            if (unacked == 0) reasons.Add("every resent segment was eventually acknowledged");
            reasons.Add("this is congestion or random loss on the path, not an attack");
        }

        // Where the application dialogues were (SMTP: the phase and transaction of each flow), most common first.
        var positions = current.Select(f => f.App?.Phase).OfType<string>().GroupBy(p => p).OrderByDescending(g => g.Count())
            .Select(g => (Phase: g.Key, Count: g.Count())).ToList();
        var flowPositions = current.Where(f => f.App is not null).Take(20)
            .Select(f => (object?)new Evidence { { "flow", f.Id }, { "phase", f.App!.Phase }, { "position", f.App.DescribePosition() is { } d ? SafeText.Clean(d, 200) : null } })
            .ToList();
        string phaseText = positions.Count == 0 ? "" :
            " [" + string.Join(", ", positions.Select(p => $"{p.Count} in {p.Phase}")) + "]";
        var peers = _peers.OrderByDescending(kv => kv.Value).Take(10)
            .Select(kv => (object?)new Evidence { { "address", kv.Key.ToString() }, { "retransmissions", kv.Value } }).ToList();
        string peerText = _peers.Count == 1 ? $"toward {_peers.Keys.First()}" : $"toward {_peers.Count} peers";
        string what = classification switch
        {
            "flood" => "SYN flood: many half-open connections",
            "path-fault" => "retransmission storm caused by a path fault (not an attack)",
            _ => "retransmission storm from congestion or random loss (not an attack)",
        };
        report(new Finding
        {
            Kind = "retransmission-storm",
            Severity = severity,
            Flows = _flowIds.OrderBy(i => i).ToList(),
            Time = new Timestamp(_firstRetx),
            Summary = $"{what}: {t.Retx} of {t.Data} data segments retransmitted ({100.0 * t.Retx / Math.Max(1, t.Data):0.#}%) " +
                      $"over {Span(_lastRetx - _firstRetx)} in {_flowIds.Count} flow{(_flowIds.Count == 1 ? "" : "s")} {peerText}{phaseText}",
            Evidence = new Evidence
            {
                { "classification", classification },
                { "start", new Timestamp(_firstRetx) },
                { "end", new Timestamp(_lastRetx) },
                { "dataSegments", t.Data },
                { "retransmissions", t.Retx },
                { "share", Math.Round((double)t.Retx / Math.Max(1, t.Data), 4) },
                { "peakRetransmissionsPerWindow", _peakRetxInWindow },
                { "windowSeconds", options.Window.TotalSeconds },
                { "rtoRetransmissions", t.Rto },
                { "fastRetransmissions", t.Fast },
                { "duplicateAcks", t.DupAcks },
                { "fullSizeRetransmissions", t.Large },
                { "smallRetransmissions", t.Small },
                { "halfOpenConnections", halfOpen },
                { "peers", peers },
                { "reasons", reasons.Cast<object?>().ToList() },
                { "applicationPositions", flowPositions },
            },
            Advice = classification switch
            {
                "flood" => "treat it as an attack: enable SYN cookies (net.ipv4.tcp_syncookies=1), rate-limit new connections per source, and involve the upstream provider",
                "path-fault" => "do not block the senders: find the hop that drops large packets, fix its MTU/MRU or clamp the MSS (iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu), and let ICMP 'fragmentation needed' / 'packet too big' through",
                _ => "look for congestion or a lossy link on the path (interface errors, full queues, duplex mismatch); TCP recovers, but throughput suffers",
            },
        });
        StormsReported++;
        _peers.Clear(); _flows.Clear(); _flowIds.Clear(); _synSources.Clear();
        _peakRetxInWindow = 0; _peakShare = 0; _maxIpSize = 0; _total = default; _firstRetx = 0; _lastRetx = 0;
    }

    private static string Span(long nanos) =>
        nanos < 1_000_000_000 ? (nanos / 1e6).ToString("0", CultureInfo.InvariantCulture) + " ms" : (nanos / 1e9).ToString("0.#", CultureInfo.InvariantCulture) + " s";
}
