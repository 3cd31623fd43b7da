using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using PathProbe.Advice;
using PathProbe.Primitives;

namespace PathProbe.Probe;

/// <summary>Raw sockets could not be opened: the process lacks root or CAP_NET_RAW.</summary>
public sealed class ProbePermissionException(string message) : Exception(message);

/// <summary>
/// <c>pathprobe probe</c>: measures the largest IP packet that reaches a host, from this host, with don't-fragment
/// probes (ICMP echo, else TCP SYNs to the port), says whether a smaller MTU is announced by ICMP or silently
/// dropped, and gives the fixes for a black hole (<see cref="MtuFixGenerator"/>).
/// </summary>
public static class PathMtuProber
{
    /// <param name="started">Called once the raw sockets are open, before the first probe.</param>
    public static ProbeResult Run(IPAddress target, int port, IPAddress? source, ProbeOptions options, string? targetName,
        CancellationToken cancel, Action<IPAddress>? started = null)
    {
        var src = source ?? SourceFor(target, port);
        int localMtu = LocalMtu(src);
        IProbeChannel? icmp = null, tcp = null;
        try
        {
            try
            {
                icmp = new IcmpEchoChannel(src, target);
                tcp = new TcpSynChannel(src, target, port, localMtu);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.AccessDenied || e.NativeErrorCode is 1 or 13)
            {
                throw new ProbePermissionException(
                    "probe sends raw packets and needs root or CAP_NET_RAW: run it with sudo, or grant the capability once: " +
                    Primitives.Setcap.Hint("cap_net_raw+ep", "send raw packets", Environment.ProcessPath));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable)
            {
                throw new ProbeException($"{src} is not an address of this host (--source)");
            }
            started?.Invoke(src);
            var outcome = new PathMtuSearch(options).Run(icmp, tcp, localMtu, cancel);
            return Build(target, targetName, port, src, outcome);
        }
        finally
        {
            icmp?.Dispose();
            tcp?.Dispose();
        }
    }

    /// <summary>Builds the result and, for a black hole, the fixes at this host (the sender) and elsewhere.</summary>
    internal static ProbeResult Build(IPAddress target, string? name, int port, IPAddress source, SearchOutcome o)
    {
        var tooBig = o.Probes.Where(p => p.Icmp is { IsTooBig: true }).Select(p => p.Icmp!).OrderBy(n => n.Mtu).FirstOrDefault();
        var unreachable = o.Probes.Where(p => p.Icmp is { IsTooBig: false }).Select(p => p.Icmp!)
            .DistinctBy(n => (n.From.ToString(), n.Type, n.Code)).Take(4).ToList();
        MtuFixPlan? plan = null;
        if (o.Verdict == PathVerdict.BlackHole && o.PathMtu is int mtu)
        {
            plan = MtuFixGenerator.Generate(MtuFixRequest.ForVantage(FixSite.Sender,
                IpAddress.FromIPAddress(source), IpAddress.FromIPAddress(target),
                new MtuEvidence
                {
                    LargestDelivered = mtu,
                    SmallestLost = o.SmallestFailed,
                    ExactMtu = o.Exact ? mtu : null,
                    ExactSource = o.Exact ? MtuSource.Probe : MtuSource.None,
                }));
        }
        return new ProbeResult
        {
            Target = target, TargetName = name, Port = port, Source = source, LocalMtu = o.LocalMtu, Method = o.Method,
            Verdict = o.Verdict, PathMtu = o.PathMtu, SmallestFailed = o.SmallestFailed, Exact = o.Exact,
            TooBig = tooBig, Unreachable = unreachable, PortState = o.PortState, PortCheckedAt = o.PortCheckedAt,
            Probes = o.Probes, Fixes = plan, Stopped = o.Stopped,
        };
    }

    /// <summary>The address this host sends from toward <paramref name="target"/> (the kernel's choice, as for a
    /// connection: a connected UDP socket sends nothing).</summary>
    public static IPAddress SourceFor(IPAddress target, int port)
    {
        using var u = new Socket(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            u.Connect(new IPEndPoint(target, port));
        }
        catch (SocketException e)
        {
            throw new ProbeException($"no route to {target} from this host ({e.Message}): check `ip route get {target}`");
        }
        return ((IPEndPoint)u.LocalEndPoint!).Address;
    }

    /// <summary>The MTU of the interface that holds <paramref name="source"/> (1500 when it cannot be told). A probe
    /// larger than the real outgoing interface allows fails locally with EMSGSIZE and lowers the limit without sending.</summary>
    public static int LocalMtu(IPAddress source)
    {
        try
        {
            foreach (var ni in NetworkInterface.GetAllNetworkInterfaces())
            {
                var props = ni.GetIPProperties();
                if (!props.UnicastAddresses.Any(u => u.Address.Equals(source))) continue;
                int mtu = source.AddressFamily == AddressFamily.InterNetwork
                    ? props.GetIPv4Properties()?.Mtu ?? 0
                    : props.GetIPv6Properties()?.Mtu ?? 0;
                if (mtu >= 68) return Math.Min(mtu, 65535);
            }
        }
        catch (NetworkInformationException) { }
        return 1500;
    }
}
