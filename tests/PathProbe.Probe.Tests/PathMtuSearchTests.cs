using System.Net;

namespace PathProbe.Probe.Tests;

/// <summary>The probe's search on simulated paths (no sockets, no root): every MTU found exactly, with and without
/// ICMP, through chance losses, local limits and the probe budget.</summary>
public sealed class PathMtuSearchTests
{
    private static readonly IPAddress Hop = IPAddress.Parse("198.51.100.1");

    /// <summary>A path that carries IP packets up to <see cref="Mtu"/>; above, a router answers too-big when
    /// <see cref="SendsIcmp"/>, else the packet vanishes.</summary>
    private sealed class SimulatedPath(ProbeMethod method, int baseline) : IProbeChannel
    {
        public int Mtu { get; init; } = 1500;
        public bool SendsIcmp { get; init; }
        public bool Answers { get; init; } = true;
        public int LocalLimit { get; init; } = int.MaxValue;
        /// <summary>(size, n-th probe of this size) → lost by chance.</summary>
        public Func<int, int, bool> Chance { get; init; } = (_, _) => false;
        public readonly List<int> Sent = new();

        public ProbeMethod Method => method;
        public int BaselineSize => baseline;

        public ProbeAttempt Send(int size, TimeSpan timeout, CancellationToken cancel)
        {
            if (size > LocalLimit) return new ProbeAttempt(size, method, ProbeStatus.LocalTooBig, null, null, false);
            int nth = Sent.Count(s => s == size);
            Sent.Add(size);
            if (!Answers || Chance(size, nth)) return new ProbeAttempt(size, method, ProbeStatus.NoAnswer, null, null, false);
            if (size <= Mtu) return new ProbeAttempt(size, method, ProbeStatus.Arrived, null, 0.2, false);
            return SendsIcmp
                ? new ProbeAttempt(size, method, ProbeStatus.TooBig, new IcmpNote(3, 4, Mtu, Hop), null, false)
                : new ProbeAttempt(size, method, ProbeStatus.NoAnswer, null, null, false);
        }

        public void Dispose() { }
    }

    private static readonly ProbeOptions Fast = new() { MinInterval = TimeSpan.Zero, Timeout = TimeSpan.FromMilliseconds(1), MinTimeout = TimeSpan.FromMilliseconds(1) };

    private static SearchOutcome Run(SimulatedPath icmp, SimulatedPath? tcp = null, int localMtu = 1500, ProbeOptions? options = null) =>
        new PathMtuSearch(options ?? Fast).Run(icmp, tcp, localMtu, CancellationToken.None);

    [Fact]
    public void SilentPath_EveryMtuFoundExactlyWithinBudget()
    {
        for (int mtu = 100; mtu < 1500; mtu += 7)
        {
            var path = new SimulatedPath(ProbeMethod.IcmpEcho, 84) { Mtu = mtu };
            var o = Run(path);
            Assert.Equal(mtu, o.PathMtu);
            Assert.True(o.Exact);
            Assert.Equal(PathVerdict.BlackHole, o.Verdict);
            Assert.Equal(mtu + 1, o.SmallestFailed);
            // Bisection over 84..1500 (11 sizes at most), each lost size probed twice, one baseline: never near the cap.
            Assert.InRange(o.Probes.Count, 3, 24);
        }
    }

    [Fact]
    public void IcmpPath_AnnouncedMtuConfirmedWithOneMoreByte()
    {
        var path = new SimulatedPath(ProbeMethod.IcmpEcho, 84) { Mtu = 1400, SendsIcmp = true };
        var o = Run(path);
        Assert.Equal(PathVerdict.IcmpAnnounced, o.Verdict);
        Assert.Equal(1400, o.PathMtu);
        Assert.True(o.Exact);
        Assert.Equal([84, 1500, 1400, 1401], path.Sent);
    }

    [Fact]
    public void FinePath_OneFullSizeProbe()
    {
        var path = new SimulatedPath(ProbeMethod.IcmpEcho, 84);
        var o = Run(path);
        Assert.Equal(PathVerdict.Fine, o.Verdict);
        Assert.Equal(1500, o.PathMtu);
        Assert.Null(o.SmallestFailed);
        Assert.Equal([84, 1500], path.Sent);
    }

    [Fact]
    public void ChanceLossOfOneProbe_IsRetriedAndDoesNotMoveTheResult()
    {
        // The first probe of every size below the MTU is lost: the second one arrives.
        var path = new SimulatedPath(ProbeMethod.IcmpEcho, 84) { Mtu = 1404, Chance = (size, nth) => nth == 0 && size != 84 && size <= 1404 };
        var o = Run(path);
        Assert.Equal(1404, o.PathMtu);
        Assert.Equal(PathVerdict.BlackHole, o.Verdict);
    }

    [Fact]
    public void InterfaceSmallerThanAssumed_LocalEmsgsizeLowersTheLimitWithoutSending()
    {
        var path = new SimulatedPath(ProbeMethod.IcmpEcho, 84) { LocalLimit = 1500 };
        var o = Run(path, localMtu: 9000);
        Assert.Equal(PathVerdict.Fine, o.Verdict);
        Assert.Equal(1500, o.PathMtu);
        Assert.Equal(1500, o.LocalMtu);
        Assert.DoesNotContain(o.Probes, p => p.Size > 1500);
    }

    [Fact]
    public void EchoFiltered_TcpSynsMeasureThePath()
    {
        var icmp = new SimulatedPath(ProbeMethod.IcmpEcho, 84) { Answers = false };
        var tcp = new SimulatedPath(ProbeMethod.TcpSyn, 44) { Mtu = 1400 };
        var o = Run(icmp, tcp);
        Assert.Equal(ProbeMethod.TcpSyn, o.Method);
        Assert.Equal(1400, o.PathMtu);
        Assert.Equal("open", o.PortState);
        Assert.Equal(2, icmp.Sent.Count); // the baseline, twice
    }

    [Fact]
    public void IcmpMeasured_MailPortCheckedAtThePathMtu()
    {
        var icmp = new SimulatedPath(ProbeMethod.IcmpEcho, 84) { Mtu = 1400 };
        var tcp = new SimulatedPath(ProbeMethod.TcpSyn, 44) { Mtu = 1400 };
        var o = Run(icmp, tcp);
        Assert.Equal(ProbeMethod.IcmpEcho, o.Method);
        Assert.Equal([1400], tcp.Sent);
        Assert.Equal("open", o.PortState);
        Assert.Equal(1400, o.PortCheckedAt);
    }

    [Fact]
    public void NothingAnswers_UnreachableAfterTwoProbesPerMethod()
    {
        var icmp = new SimulatedPath(ProbeMethod.IcmpEcho, 84) { Answers = false };
        var tcp = new SimulatedPath(ProbeMethod.TcpSyn, 44) { Answers = false };
        var o = Run(icmp, tcp);
        Assert.Equal(PathVerdict.Unreachable, o.Verdict);
        Assert.Null(o.PathMtu);
        Assert.Equal(4, o.Probes.Count);
    }

    [Fact]
    public void ProbeBudget_StopsTheSearchAndSaysSo()
    {
        var path = new SimulatedPath(ProbeMethod.IcmpEcho, 84) { Mtu = 1000 };
        var o = Run(path, options: Fast with { MaxProbes = 6 });
        Assert.Equal(6, o.Probes.Count);
        Assert.False(o.Exact);
        Assert.Equal("probe limit of 6 reached", o.Stopped);
        Assert.True(o.PathMtu <= 1000 && o.SmallestFailed > 1000, $"the range {o.PathMtu}..{o.SmallestFailed - 1} must hold the MTU");
    }

    [Fact]
    public void Pacing_OneProbeInFlightAtMostFivePerSecond()
    {
        var path = new SimulatedPath(ProbeMethod.IcmpEcho, 84) { Mtu = 1400, SendsIcmp = true };
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var o = new PathMtuSearch(new ProbeOptions()).Run(path, null, 1500, CancellationToken.None);
        Assert.Equal(4, o.Probes.Count);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(3 * 200 - 20), $"4 probes took only {watch.Elapsed.TotalMilliseconds} ms");
    }
}
