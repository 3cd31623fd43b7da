using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Dns;

/// <summary>
/// A real recursive resolver for tests: unbound in the foreground (-d) on 127.0.0.1 on a free port, with a stub-zone
/// per test zone pointing at an <see cref="NsdServer"/> on loopback, so queries take the recursive path (RD=1,
/// unbound asks nsd, caches, answers with RA=1 and truncates big answers at the client's EDNS size). Zones named in
/// <c>refused</c> are local-zones of type refuse: unbound itself answers REFUSED. No DNSSEC validation (module
/// "iterator" only), no root: names outside the stub zones are never asked about. Dispose kills the process by PID
/// and deletes its directory. <see cref="TryStart"/> returns null when unbound is not installed.
/// </summary>
public sealed class UnboundServer : IDisposable
{
    public static string? Executable =>
        TestPaths.Tool("unbound") ?? (File.Exists("/usr/sbin/unbound") ? "/usr/sbin/unbound" : null);

    public int Port { get; }
    public string Directory { get; }
    private Process? _process;

    private UnboundServer(string dir, int port) { Directory = dir; Port = port; }

    public IPEndPoint Endpoint => new(IPAddress.Loopback, Port);
    public string ServerArgument => $"127.0.0.1:{Port}";

    /// <summary>Starts unbound with a stub-zone to <paramref name="upstream"/> for each of <paramref name="stubZones"/>.</summary>
    public static UnboundServer? TryStart(IPEndPoint upstream, IEnumerable<string> stubZones, IEnumerable<string>? refused = null)
    {
        if (Executable is null) return null;
        var zones = stubZones.ToList();
        var refuse = refused?.ToList() ?? new List<string>();
        for (int attempt = 0; ; attempt++)
        {
            string dir = Path.Combine(Path.GetTempPath(), "pp-unbound-" + Guid.NewGuid().ToString("N")[..12]);
            System.IO.Directory.CreateDirectory(dir);
            var server = new UnboundServer(dir, NsdServer.FreePort(v6: false));
            try
            {
                server.Start(upstream, zones, refuse);
                return server;
            }
            catch (Exception) when (attempt < 3)
            {
                server.Dispose(); // the port was taken between the probe and unbound's bind: pick another
            }
        }
    }

    private void Start(IPEndPoint upstream, List<string> zones, List<string> refused)
    {
        var conf = new System.Text.StringBuilder();
        conf.AppendLine("server:");
        conf.AppendLine($"  interface: 127.0.0.1@{Port}");
        conf.AppendLine($"  port: {Port}");
        conf.AppendLine("  do-daemonize: no");
        conf.AppendLine("  use-syslog: no");
        conf.AppendLine($"  logfile: \"{Directory}/unbound.log\"");
        conf.AppendLine("  verbosity: 1");
        conf.AppendLine("  username: \"\"");
        conf.AppendLine("  chroot: \"\"");
        conf.AppendLine($"  directory: \"{Directory}\"");
        conf.AppendLine($"  pidfile: \"{Directory}/unbound.pid\"");
        conf.AppendLine("  num-threads: 1");
        conf.AppendLine("  do-ip6: no");
        conf.AppendLine("  access-control: 127.0.0.0/8 allow");
        // nsd is on loopback; unbound refuses to ask loopback addresses unless told.
        conf.AppendLine("  do-not-query-localhost: no");
        conf.AppendLine("  module-config: \"iterator\"");
        conf.AppendLine("  qname-minimisation: no");
        // test., the documentation networks' reverse zones, ... are locally served (RFC 6761, RFC 6303) unless told not to.
        foreach (var z in zones.Append("test").Append("8.b.d.0.1.0.0.2.ip6.arpa").Distinct(StringComparer.OrdinalIgnoreCase))
            conf.AppendLine($"  local-zone: \"{z.TrimEnd('.')}.\" nodefault");
        foreach (var z in refused) conf.AppendLine($"  local-zone: \"{z.TrimEnd('.')}.\" refuse");
        conf.AppendLine("remote-control:");
        conf.AppendLine("  control-enable: no");
        foreach (var z in zones)
        {
            conf.AppendLine("stub-zone:");
            conf.AppendLine($"  name: \"{z.TrimEnd('.')}.\"");
            conf.AppendLine($"  stub-addr: {upstream.Address}@{upstream.Port}");
        }
        string confPath = Path.Combine(Directory, "unbound.conf");
        File.WriteAllText(confPath, conf.ToString());

        var psi = new ProcessStartInfo(Executable!) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-d", "-c", confPath }) psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.StandardError.ReadToEndAsync();
        _process.StandardOutput.ReadToEndAsync();
        if (!WaitUntilAnswering(TimeSpan.FromSeconds(10)))
        {
            string log = File.Exists(Path.Combine(Directory, "unbound.log")) ? File.ReadAllText(Path.Combine(Directory, "unbound.log")) : "";
            Kill();
            throw new InvalidOperationException($"unbound did not start on port {Port}: {log}");
        }
    }

    /// <summary>Asks "localhost. A", which unbound answers from its own default zone (nothing leaves the machine).</summary>
    private bool WaitUntilAnswering(TimeSpan limit)
    {
        var sw = Stopwatch.StartNew();
        var buf = new byte[PathProbe.Protocols.Dns.DnsWriter.MaxQueryLength];
        PathProbe.Protocols.Dns.DnsWriter.WriteQuery(buf, 0xabce, "localhost", PathProbe.Protocols.Dns.DnsType.A, new(true, 0), out int n);
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
}

/// <summary>How a test reaches the zones: straight at the authoritative nsd, or through unbound in front of it.</summary>
public enum DnsPath { Authoritative, Recursive }

/// <summary>nsd serving the zones and unbound in front of it; <see cref="Server"/> picks the path.</summary>
public sealed class DnsServers : IDisposable
{
    public NsdServer Nsd { get; }
    public UnboundServer Unbound { get; private set; }
    private readonly List<string> _stubs;
    private readonly List<string> _refused;

    private DnsServers(NsdServer nsd, UnboundServer unbound, List<string> stubs, List<string> refused)
    {
        Nsd = nsd; Unbound = unbound; _stubs = stubs; _refused = refused;
    }

    /// <summary>Both servers, or a <see cref="SkipException"/> naming what is missing.</summary>
    public static DnsServers Start(IReadOnlyDictionary<string, string> zones, IEnumerable<string>? extraStubs = null, IEnumerable<string>? refused = null)
    {
        if (NsdServer.Executable is null) throw new SkipException("nsd is not installed (apt-get install nsd; scripts/test.sh does it)");
        if (UnboundServer.Executable is null) throw new SkipException("unbound is not installed (apt-get install unbound; scripts/test.sh does it)");
        var nsd = NsdServer.TryStart(zones, ipv6: false)!;
        try
        {
            var stubs = zones.Keys.Concat(extraStubs ?? []).ToList();
            var refuse = refused?.ToList() ?? new List<string>();
            var unbound = UnboundServer.TryStart(nsd.Endpoint, stubs, refuse)!;
            return new DnsServers(nsd, unbound, stubs, refuse);
        }
        catch
        {
            nsd.Dispose();
            throw;
        }
    }

    /// <summary>New zone texts: nsd restarts on its port, and unbound starts afresh (a new port, an empty cache).</summary>
    public void Restart(IReadOnlyDictionary<string, string> zones)
    {
        Nsd.Restart(zones);
        Unbound.Dispose();
        Unbound = UnboundServer.TryStart(Nsd.Endpoint, _stubs, _refused)!;
    }

    public string Server(DnsPath path) => path == DnsPath.Authoritative ? Nsd.ServerArgument : Unbound.ServerArgument;
    public IPEndPoint Endpoint(DnsPath path) => path == DnsPath.Authoritative ? Nsd.Endpoint : Unbound.Endpoint;

    public void Dispose()
    {
        Unbound.Dispose();
        Nsd.Dispose();
    }
}
