using System.Diagnostics;

namespace PathProbe.LibPcap.Tests.Support;

/// <summary>
/// Two network namespaces joined by a veth pair: client 198.51.100.10/24 in <see cref="ClientNs"/> on
/// <see cref="ClientIf"/>, server 198.51.100.25/24 in <see cref="ServerNs"/> on <see cref="ServerIf"/>. Offloads are off
/// so the capture sees wire-sized frames. Names carry the test process id; Dispose deletes both namespaces (which
/// removes the veth pair) after killing anything still running in them.
/// </summary>
internal sealed class NetnsPair : IDisposable
{
    public const string ClientAddress = "198.51.100.10";
    public const string ServerAddress = "198.51.100.25";

    private static int _serial;

    public NetnsPair(int serverMtu = 1500, int? serverAdvertisedMss = null)
    {
        int id = Environment.ProcessId % 100_000;
        int n = Interlocked.Increment(ref _serial);
        ClientNs = $"ppcli{id}-{n}";
        ServerNs = $"ppsrv{id}-{n}";
        ClientIf = $"ppc{id}x{n}"; // interface names: at most 15 characters
        ServerIf = $"pps{id}x{n}";
        try
        {
            Ip($"netns add {ClientNs}");
            Ip($"netns add {ServerNs}");
            Ip($"-n {ClientNs} link add {ClientIf} type veth peer name {ServerIf} netns {ServerNs}");
            Ip($"-n {ClientNs} addr add {ClientAddress}/24 dev {ClientIf}");
            Ip($"-n {ServerNs} addr add {ServerAddress}/24 dev {ServerIf}");
            if (serverMtu != 1500) Ip($"-n {ServerNs} link set {ServerIf} mtu {serverMtu}");
            foreach (var (ns, itf) in new[] { (ClientNs, ClientIf), (ServerNs, ServerIf) })
            {
                Ip($"-n {ns} link set lo up");
                Ip($"-n {ns} link set {itf} up");
                Run("ip", $"netns exec {ns} ethtool -K {itf} tso off gso off gro off", check: false);
            }
            if (serverAdvertisedMss is { } mss)
            {
                // The MRU black hole: the server's link only takes 1424-byte frames but it advertises MSS 1460, so
                // full-sized segments from the client are dropped by the veth without any ICMP.
                Ip($"-n {ServerNs} route replace 198.51.100.0/24 dev {ServerIf} advmss {mss}");
                Run("ip", $"netns exec {ClientNs} sysctl -qw net.ipv4.tcp_mtu_probing=0", check: false);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string ClientNs { get; }
    public string ServerNs { get; }
    public string ClientIf { get; }
    public string ServerIf { get; }

    public static bool Available => Requires.Which("ip") is not null;

    /// <summary>Starts <paramref name="program"/> inside <paramref name="ns"/> with redirected output.</summary>
    public static Process Start(string ns, string program, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "netns", "exec", ns, program }.Concat(args)) psi.ArgumentList.Add(a);
        return Process.Start(psi) ?? throw new InvalidOperationException("cannot start ip netns exec");
    }

    public void Dispose()
    {
        foreach (string ns in new[] { ClientNs, ServerNs })
        {
            if (ns is null) continue;
            var (_, pids) = Run("ip", $"netns pids {ns}", check: false);
            foreach (string pid in pids.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                Run("kill", $"-KILL {pid}", check: false);
            Run("ip", $"netns del {ns}", check: false);
        }
    }

    private static void Ip(string args) => Run("ip", args);

    public static (int exit, string stdout) Run(string program, string args, bool check = true, int timeoutMs = 20_000)
    {
        var psi = new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs)) { p.Kill(entireProcessTree: true); throw new TimeoutException($"{program} {args} did not finish"); }
        p.WaitForExit();
        if (check && p.ExitCode != 0) throw new InvalidOperationException($"{program} {args}: exit {p.ExitCode}: {stderr.Result}");
        return (p.ExitCode, stdout.Result);
    }
}
