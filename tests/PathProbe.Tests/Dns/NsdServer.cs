using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Dns;

/// <summary>
/// A real authoritative server for tests: NSD in the foreground (-d) on 127.0.0.1 (and ::1 when available) on a
/// free port, with a temporary config and zone directory. Dispose kills the process tree by PID and deletes the
/// directory, also when the test failed. <see cref="TryStart"/> returns null when NSD is not installed.
/// </summary>
public sealed class NsdServer : IDisposable
{
    public static string? Executable =>
        TestPaths.Tool("nsd") ?? (File.Exists("/usr/sbin/nsd") ? "/usr/sbin/nsd" : null);

    public int Port { get; }
    public bool HasIpv6 { get; }
    public string Directory { get; }
    private Process? _process;
    private readonly IReadOnlyDictionary<string, string> _zones;

    private NsdServer(string dir, int port, bool ipv6, IReadOnlyDictionary<string, string> zones)
    {
        Directory = dir; Port = port; HasIpv6 = ipv6; _zones = zones;
    }

    public IPEndPoint Endpoint => new(IPAddress.Loopback, Port);
    public string ServerArgument => $"127.0.0.1:{Port}";

    /// <summary>Starts NSD serving <paramref name="zones"/> (origin → zone file text). Null when NSD is missing.</summary>
    public static NsdServer? TryStart(IReadOnlyDictionary<string, string> zones, bool ipv6 = true)
    {
        if (Executable is null) return null;
        for (int attempt = 0; ; attempt++)
        {
            string dir = Path.Combine(Path.GetTempPath(), "pp-nsd-" + Guid.NewGuid().ToString("N")[..12]);
            System.IO.Directory.CreateDirectory(dir);
            bool v6 = ipv6 && Socket.OSSupportsIPv6 && CanBind(IPAddress.IPv6Loopback);
            var server = new NsdServer(dir, FreePort(v6), v6, zones);
            try
            {
                server.Start();
                return server;
            }
            catch (Exception) when (attempt < 3)
            {
                server.Dispose(); // the port was taken between the probe and NSD's bind: pick another
            }
        }
    }

    /// <summary>Stops NSD, writes the new zone texts and starts it again on the same port.</summary>
    public void Restart(IReadOnlyDictionary<string, string> zones)
    {
        Kill();
        foreach (var (origin, text) in zones) File.WriteAllText(Path.Combine(Directory, origin + ".zone"), text);
        Start();
    }

    private void Start()
    {
        var conf = new System.Text.StringBuilder();
        conf.AppendLine("server:");
        conf.AppendLine($"  ip-address: 127.0.0.1@{Port}");
        if (HasIpv6) conf.AppendLine($"  ip-address: ::1@{Port}");
        conf.AppendLine($"  port: {Port}");
        conf.AppendLine($"  zonesdir: \"{Directory}\"");
        conf.AppendLine($"  pidfile: \"{Directory}/nsd.pid\"");
        conf.AppendLine($"  xfrdfile: \"{Directory}/xfrd.state\"");
        conf.AppendLine($"  zonelistfile: \"{Directory}/zone.list\"");
        conf.AppendLine($"  logfile: \"{Directory}/nsd.log\"");
        conf.AppendLine("  username: \"\"");
        conf.AppendLine("  database: \"\"");
        conf.AppendLine("  chroot: \"\"");
        conf.AppendLine("  server-count: 1");
        conf.AppendLine("  verbosity: 1");
        conf.AppendLine("remote-control:");
        conf.AppendLine("  control-enable: no");
        foreach (var (origin, text) in _zones)
        {
            string file = origin + ".zone";
            if (!File.Exists(Path.Combine(Directory, file))) File.WriteAllText(Path.Combine(Directory, file), text);
            conf.AppendLine("zone:");
            conf.AppendLine($"  name: \"{origin}\"");
            conf.AppendLine($"  zonefile: \"{file}\"");
        }
        string confPath = Path.Combine(Directory, "nsd.conf");
        File.WriteAllText(confPath, conf.ToString());

        var psi = new ProcessStartInfo(Executable!) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-d", "-c", confPath }) psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.StandardError.ReadToEndAsync();
        _process.StandardOutput.ReadToEndAsync();
        if (!WaitUntilAnswering(TimeSpan.FromSeconds(10)))
        {
            string log = File.Exists(Path.Combine(Directory, "nsd.log")) ? File.ReadAllText(Path.Combine(Directory, "nsd.log")) : "";
            Kill();
            throw new InvalidOperationException($"nsd did not start on port {Port}: {log}");
        }
    }

    private bool WaitUntilAnswering(TimeSpan limit)
    {
        var sw = Stopwatch.StartNew();
        var buf = new byte[PathProbe.Protocols.Dns.DnsWriter.MaxQueryLength];
        PathProbe.Protocols.Dns.DnsWriter.WriteQuery(buf, 0xabcd, ".", PathProbe.Protocols.Dns.DnsType.SOA, new(false, 0), out int n);
        var query = buf[..n];
        using var udp = new UdpClient(AddressFamily.InterNetwork);
        while (sw.Elapsed < limit)
        {
            if (_process!.HasExited) return false;
            try
            {
                udp.Send(query, query.Length, Endpoint);
                udp.Client.ReceiveTimeout = 200;
                IPEndPoint? from = null;
                if (udp.Receive(ref from).Length >= 12) return true;
            }
            catch (SocketException) { Thread.Sleep(50); }
        }
        return false;
    }

    private void Kill()
    {
        if (_process is null) return;
        try
        {
            if (!_process.HasExited) { _process.Kill(entireProcessTree: true); _process.WaitForExit(5000); }
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
        _process = null;
    }

    public void Dispose()
    {
        Kill();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    internal static bool CanBind(IPAddress a)
    {
        try { using var s = new Socket(a.AddressFamily, SocketType.Dgram, ProtocolType.Udp); s.Bind(new IPEndPoint(a, 0)); return true; }
        catch (SocketException) { return false; }
    }

    /// <summary>A port free for UDP and TCP on 127.0.0.1 (and ::1).</summary>
    internal static int FreePort(bool v6)
    {
        for (int i = 0; i < 50; i++)
        {
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            tcp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)tcp.LocalEndPoint!).Port;
            try
            {
                using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                if (v6)
                {
                    using var u6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
                    u6.Bind(new IPEndPoint(IPAddress.IPv6Loopback, port));
                    using var t6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
                    t6.Bind(new IPEndPoint(IPAddress.IPv6Loopback, port));
                }
                return port;
            }
            catch (SocketException) { }
        }
        throw new InvalidOperationException("no free port");
    }
}
