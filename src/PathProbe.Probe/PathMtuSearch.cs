using System.Diagnostics;

namespace PathProbe.Probe;

/// <summary>One way of sending a probe of a given IP size and waiting for what proves its arrival.</summary>
internal interface IProbeChannel : IDisposable
{
    ProbeMethod Method { get; }
    /// <summary>The small probe that tests reachability (a plain echo request, a SYN without data).</summary>
    int BaselineSize { get; }
    /// <summary>Sends one probe of <paramref name="size"/> IP bytes, don't-fragment, and waits up to
    /// <paramref name="timeout"/> for its answer.</summary>
    ProbeAttempt Send(int size, TimeSpan timeout, CancellationToken cancel);
}

/// <summary>What the search found, before the fixes are made.</summary>
internal sealed record SearchOutcome(
    ProbeMethod? Method, PathVerdict Verdict, int? PathMtu, int? SmallestFailed, bool Exact, int LocalMtu,
    string? PortState, int? PortCheckedAt, string? Stopped, List<ProbeAttempt> Probes);

/// <summary>
/// Finds the largest IP packet that reaches the target by bisection between the largest size that arrived and the
/// smallest that did not, one probe in flight, paced, and bounded (<see cref="ProbeOptions"/>).
/// </summary>
/// <remarks>
/// Order: a small probe proves the host answers (ICMP echo, else a TCP SYN to the port); then the largest size this
/// host can send (the path is fine when it arrives); then the MTU an ICMP too-big named, and one byte more to prove it
/// exact; otherwise the middle of the open range. A size counts as lost after <see cref="ProbeOptions.Attempts"/>
/// probes without an answer; a too-big answer decides at once. The bounds are recomputed from every answer so far, so
/// a random loss below a size that later arrived does not distort them. When ICMP echo measured the path, one TCP SYN of
/// the final size checks that the mail port gets it too.
/// </remarks>
internal sealed class PathMtuSearch
{
    private readonly ProbeOptions _options;
    private readonly List<ProbeAttempt> _probes = new();
    private readonly Dictionary<(ProbeMethod, int), ProbeStatus> _outcome = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _lastSend;
    private TimeSpan _timeout;
    private int _sent;
    private double _maxRttMs;

    public PathMtuSearch(ProbeOptions options)
    {
        _options = options;
        _timeout = options.Timeout;
    }

    public SearchOutcome Run(IProbeChannel? icmp, IProbeChannel? tcp, int localMtu, CancellationToken cancel)
    {
        string? stopped = null;
        IProbeChannel? channel = null;
        try
        {
            if (icmp is not null && Attempt(icmp, icmp.BaselineSize, cancel) == ProbeStatus.Arrived) channel = icmp;
            else if (tcp is not null && Attempt(tcp, tcp.BaselineSize, cancel) == ProbeStatus.Arrived) channel = tcp;
            if (channel is null)
                return new SearchOutcome(null, PathVerdict.Unreachable, null, null, false, localMtu, tcp is null ? null : "no-answer",
                    tcp?.BaselineSize, null, _probes);

            int limit = localMtu;
            while (true)
            {
                var (lo, hi) = Bounds(channel.Method, limit);
                if (lo >= hi) break;
                int next = Next(channel.Method, lo, hi, limit);
                var status = Attempt(channel, next, cancel);
                if (status == ProbeStatus.LocalTooBig) limit = next - 1; // this host cannot send it: the local MTU is lower
            }
        }
        catch (ProbeLimitException e) { stopped = e.Message; }
        catch (OperationCanceledException) { stopped = "interrupted"; }

        if (channel is null)
            return new SearchOutcome(null, PathVerdict.Unreachable, null, null, false, localMtu, null, null, stopped, _probes);
        var method = channel.Method;
        int local = LocalLimit(method, localMtu);
        var (low, high) = Bounds(method, local);
        int? failed = high < local ? high + 1 : null;
        PathVerdict verdict = failed is null ? PathVerdict.Fine
            : _outcome.TryGetValue((method, failed.Value), out var s) && s == ProbeStatus.TooBig ? PathVerdict.IcmpAnnounced
            : PathVerdict.BlackHole;

        string? port = null;
        int? portAt = null;
        if (method == ProbeMethod.TcpSyn)
        {
            var answered = _probes.LastOrDefault(p => p.Method == ProbeMethod.TcpSyn && p.Arrived);
            port = answered is null ? "no-answer" : answered.PortClosed ? "closed" : "open";
            portAt = answered?.Size;
        }
        else if (tcp is not null && stopped is null)
        {
            // The sizes came from ICMP echo: does the mail port get a packet of that size too?
            try
            {
                foreach (int size in new[] { low, tcp.BaselineSize }.Distinct())
                {
                    portAt = size;
                    if (Attempt(tcp, size, cancel) is var st && st == ProbeStatus.Arrived)
                    {
                        port = _probes[^1].PortClosed ? "closed" : "open";
                        break;
                    }
                    port = "no-answer";
                }
            }
            catch (ProbeLimitException e) { stopped = e.Message; }
            catch (OperationCanceledException) { stopped = "interrupted"; }
        }
        return new SearchOutcome(method, verdict, low, failed, low == high, local, port, portAt, stopped, _probes);
    }

    /// <summary>The local limit learnt from EMSGSIZE (a size this host refused to send), else the interface MTU.</summary>
    private int LocalLimit(ProbeMethod method, int localMtu)
    {
        int limit = localMtu;
        foreach (var ((m, size), status) in _outcome)
            if (m == method && status == ProbeStatus.LocalTooBig && size - 1 < limit) limit = size - 1;
        return limit;
    }

    /// <summary>Largest size that arrived; one below the smallest larger size that did not (or the local limit).</summary>
    private (int Lo, int Hi) Bounds(ProbeMethod method, int limit)
    {
        int lo = 0;
        foreach (var ((m, size), status) in _outcome)
            if (m == method && status == ProbeStatus.Arrived && size > lo) lo = size;
        int hi = limit;
        foreach (var ((m, size), status) in _outcome)
            if (m == method && status != ProbeStatus.Arrived && size > lo && size - 1 < hi) hi = size - 1;
        return (lo, Math.Max(lo, hi));
    }

    private int Next(ProbeMethod method, int lo, int hi, int limit)
    {
        if (!_outcome.ContainsKey((method, limit))) return limit;
        // An MTU a router named: try it, and once it arrived, one byte more proves it exact.
        foreach (var p in Enumerable.Reverse(_probes))
        {
            if (p.Method != method || p.Icmp?.Mtu is not int mtu) continue;
            if (mtu > lo && mtu <= hi && !_outcome.ContainsKey((method, mtu))) return mtu;
            if (mtu == lo && mtu + 1 <= hi && !_outcome.ContainsKey((method, mtu + 1))) return mtu + 1;
        }
        return lo + (hi - lo + 1) / 2;
    }

    /// <summary>Probes one size until it is answered or <see cref="ProbeOptions.Attempts"/> probes went unanswered.</summary>
    private ProbeStatus Attempt(IProbeChannel channel, int size, CancellationToken cancel)
    {
        var status = ProbeStatus.NoAnswer;
        for (int i = 0; i < _options.Attempts; i++)
        {
            var a = Probe(channel, size, cancel);
            status = a.Status;
            if (status != ProbeStatus.NoAnswer) break;
        }
        _outcome[(channel.Method, size)] = status;
        return status;
    }

    private ProbeAttempt Probe(IProbeChannel channel, int size, CancellationToken cancel)
    {
        if (_sent >= _options.MaxProbes) throw new ProbeLimitException($"probe limit of {_options.MaxProbes} reached");
        // One probe in flight and a pause between probes: a few per second at most.
        if (_sent > 0 && _lastSend + _options.MinInterval - _clock.Elapsed is var wait && wait > TimeSpan.Zero) cancel.WaitHandle.WaitOne(wait);
        cancel.ThrowIfCancellationRequested();
        var a = channel.Send(size, _timeout, cancel);
        if (a.Status == ProbeStatus.LocalTooBig) return a; // nothing left this host
        _sent++;
        _lastSend = _clock.Elapsed;
        _probes.Add(a);
        if (a.Arrived && a.RttMs is double rtt && rtt > _maxRttMs)
        {
            // Four round trips of the slowest answer so far, within [MinTimeout, Timeout].
            _maxRttMs = rtt;
            var max = _options.Timeout;
            var min = _options.MinTimeout < max ? _options.MinTimeout : max;
            var t = TimeSpan.FromMilliseconds(4 * rtt);
            _timeout = t < min ? min : t > max ? max : t;
        }
        else if (a.Arrived && _maxRttMs == 0) _timeout = _options.MinTimeout < _options.Timeout ? _options.MinTimeout : _options.Timeout;
        return a;
    }

    private sealed class ProbeLimitException(string message) : Exception(message);
}
