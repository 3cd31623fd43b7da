using System.Diagnostics;
using System.Text;

namespace PathProbe.Probe.Tests.Support;

/// <summary>
/// client — router — mail server in three network namespaces, IPv4 and IPv6, offloads off (wire-sized frames):
/// <code>
///   client 198.51.100.10     router 198.51.100.1 | 203.0.113.1     server 203.0.113.25
///          2001:db8:1::10           2001:db8:1::1 | 2001:db8:2::1         2001:db8:2::25
/// </code>
/// The MTUs of the router's two interfaces and of the server's are chosen per test. A router interface whose MTU is
/// below its peer's silently drops larger frames arriving on it (veth admits IP packets up to MTU + 4): an MRU black
/// hole. Names carry the test process id; Dispose kills what runs in the namespaces and deletes them.
/// </summary>
internal sealed class Topology : IDisposable
{
    public const string ClientV4 = "198.51.100.10", RouterV4 = "198.51.100.1", ServerV4 = "203.0.113.25";
    public const string ClientV6 = "2001:db8:1::10", RouterV6 = "2001:db8:1::1", ServerV6 = "2001:db8:2::25";

    private static int _serial;
    private readonly List<Process> _processes = new();

    public Topology(int routerClientMtu = 1500, int routerServerMtu = 1500, int serverMtu = 1500)
    {
        int id = Environment.ProcessId % 100_000;
        int n = Interlocked.Increment(ref _serial);
        Client = $"ppbc{id}-{n}";
        Router = $"ppbr{id}-{n}";
        Server = $"ppbs{id}-{n}";
        ClientIf = $"pbc{id}x{n}";
        RouterClientIf = $"pba{id}x{n}";
        RouterServerIf = $"pbb{id}x{n}";
        ServerIf = $"pbs{id}x{n}";
        try
        {
            foreach (var ns in new[] { Client, Router, Server })
            {
                Ip($"netns add {ns}");
                Ip($"-n {ns} link set lo up");
                // No duplicate address detection: link-local and global addresses usable at once.
                Exec(ns, "sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
            }
            Ip($"-n {Client} link add {ClientIf} type veth peer name {RouterClientIf} netns {Router}");
            Ip($"-n {Router} link add {RouterServerIf} type veth peer name {ServerIf} netns {Server}");
            Ip($"-n {Client} addr add {ClientV4}/24 dev {ClientIf}");
            Ip($"-n {Client} addr add {ClientV6}/64 dev {ClientIf} nodad");
            Ip($"-n {Router} addr add {RouterV4}/24 dev {RouterClientIf}");
            Ip($"-n {Router} addr add {RouterV6}/64 dev {RouterClientIf} nodad");
            Ip($"-n {Router} addr add 203.0.113.1/24 dev {RouterServerIf}");
            Ip($"-n {Router} addr add 2001:db8:2::1/64 dev {RouterServerIf} nodad");
            Ip($"-n {Server} addr add {ServerV4}/24 dev {ServerIf}");
            Ip($"-n {Server} addr add {ServerV6}/64 dev {ServerIf} nodad");
            Ip($"-n {Router} link set {RouterClientIf} mtu {routerClientMtu}");
            Ip($"-n {Router} link set {RouterServerIf} mtu {routerServerMtu}");
            Ip($"-n {Server} link set {ServerIf} mtu {serverMtu}");
            foreach (var (ns, itf) in new[] { (Client, ClientIf), (Router, RouterClientIf), (Router, RouterServerIf), (Server, ServerIf) })
            {
                Ip($"-n {ns} link set {itf} up");
                Shell.Run("ip", ["netns", "exec", ns, "ethtool", "-K", itf, "tso", "off", "gso", "off", "gro", "off"], check: false);
            }
            Ip($"-n {Client} route add default via {RouterV4}");
            Ip($"-n {Client} -6 route add default via {RouterV6}");
            Ip($"-n {Server} route add default via 203.0.113.1");
            Ip($"-n {Server} -6 route add default via 2001:db8:2::1");
            Exec(Router, "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1");
            // No PLPMTUD: a black hole must stay a black hole unless a fix removes it.
            foreach (var ns in new[] { Client, Server }) Exec(ns, "sysctl -qw net.ipv4.tcp_mtu_probing=0");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Client { get; }
    public string Router { get; }
    public string Server { get; }
    public string ClientIf { get; }
    public string RouterClientIf { get; }
    public string RouterServerIf { get; }
    public string ServerIf { get; }

    /// <summary>Runs <paramref name="script"/> with <c>sh -e</c> in <paramref name="ns"/>; throws when it fails.</summary>
    public static string Exec(string ns, string script, int timeoutMs = 20_000) =>
        Shell.Run("ip", ["netns", "exec", ns, "sh", "-ec", script], timeoutMs: timeoutMs).Stdout;

    /// <summary>Loads an nft ruleset (nft -f) in <paramref name="ns"/>.</summary>
    public static void Nft(string ns, string ruleset) =>
        Shell.Run("ip", ["netns", "exec", ns, "nft", "-f", "-"], stdin: ruleset);

    /// <summary>Starts a long-running program in <paramref name="ns"/>; it is killed on Dispose.</summary>
    public Process Start(string ns, params string[] command)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", ns }.Concat(command)) psi.ArgumentList.Add(a);
        var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start ip netns exec");
        _processes.Add(p);
        return p;
    }

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            try { if (!p.HasExited) { p.Kill(entireProcessTree: true); p.WaitForExit(5000); } } catch (InvalidOperationException) { }
            p.Dispose();
        }
        foreach (var ns in new[] { Client, Router, Server })
        {
            if (ns is null) continue;
            var (_, pids, _) = Shell.Run("ip", ["netns", "pids", ns], check: false);
            foreach (var pid in pids.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                Shell.Run("kill", ["-KILL", pid], check: false);
            Shell.Run("ip", ["netns", "del", ns], check: false);
        }
    }

    private static void Ip(string args) => Shell.Run("ip", args.Split(' ', StringSplitOptions.RemoveEmptyEntries));
}

internal static class Shell
{
    public static (int Exit, string Stdout, string Stderr) Run(string program, IEnumerable<string> args, bool check = true,
        int timeoutMs = 20_000, string? stdin = null)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {program}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', psi.ArgumentList)} did not finish in {timeoutMs} ms");
        }
        p.WaitForExit();
        if (check && p.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', psi.ArgumentList)}: exit {p.ExitCode}: {stderr.Result}{stdout.Result}");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    public static string? Which(string program)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/usr/bin", "/sbin", "/bin"]))
        {
            if (dir.Length == 0) continue;
            var candidate = Path.Combine(dir, program);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}

/// <summary>Preconditions: a test that cannot run is reported as skipped with the reason.</summary>
internal static class Requires
{
    public const string Python = "/usr/bin/python3";

    public static void RootAnd(params string[] programs)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "network namespace tests need Linux");
        Skip.IfNot(Environment.IsPrivilegedProcess, "network namespace tests need root (run the tests as root, as CI does)");
        foreach (var p in programs)
            Skip.If(Shell.Which(p) is null, $"'{p}' is not installed (scripts/test.sh installs it on Debian)");
    }

    /// <summary>Root, the namespace tools, and aiosmtpd for the mail server.</summary>
    public static void MailNamespaces(params string[] more)
    {
        RootAnd(new[] { "ip", "nft", "ethtool" }.Concat(more).ToArray());
        Skip.IfNot(File.Exists(Python), $"{Python} is missing (the mail server is aiosmtpd)");
        var (exit, _, _) = Shell.Run(Python, ["-c", "import aiosmtpd"], check: false);
        Skip.If(exit != 0, "python3-aiosmtpd is not installed (scripts/test.sh installs it on Debian)");
    }
}

/// <summary>A real SMTP server (aiosmtpd) on port 25 of every address of the server namespace, and swaks as client.</summary>
internal sealed class MailServer
{
    private const string Script = """
        import asyncio, sys
        from aiosmtpd.smtp import SMTP
        class Handler:
            async def handle_DATA(self, server, session, envelope):
                print(f"delivered {len(envelope.content)}", flush=True)
                return "250 2.0.0 Ok: queued"
        async def main():
            loop = asyncio.get_running_loop()
            srv = await loop.create_server(lambda: SMTP(Handler(), hostname="mx.example.test"), host=None, port=25)
            print("listening", flush=True)
            await srv.serve_forever()
        asyncio.run(main())
        """;

    private readonly StringBuilder _log = new();
    private readonly string _attachment;

    public MailServer(Topology net, string dir)
    {
        string script = Path.Combine(dir, "smtpd.py");
        File.WriteAllText(script, Script);
        // About 200 kB of text: the mail with an attachment whose full-size packets fall into the hole.
        _attachment = Path.Combine(dir, "attachment.txt");
        var rnd = new Random(25);
        var bytes = new byte[150_000];
        rnd.NextBytes(bytes);
        File.WriteAllText(_attachment, Convert.ToBase64String(bytes, Base64FormattingOptions.InsertLineBreaks));
        var p = net.Start(net.Server, Requires.Python, script);
        var ready = new TaskCompletionSource();
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_log) _log.AppendLine(e.Data);
            if (e.Data == "listening") ready.TrySetResult();
        };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!ready.Task.Wait(15_000)) throw new InvalidOperationException($"the SMTP server did not start: {Log}");
    }

    public string Log { get { lock (_log) return _log.ToString(); } }

    public int Delivered { get { lock (_log) return _log.ToString().Split('\n').Count(l => l.StartsWith("delivered ", StringComparison.Ordinal)); } }

    /// <summary>Sends the mail with the attachment from the client namespace with swaks; true when the server queued it
    /// within <paramref name="seconds"/> (a stalled mail is killed then).</summary>
    public bool Send(Topology net, string server, double seconds, out string transcript)
    {
        int before = Delivered;
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", net.Client, "swaks", "--server", server, "--port", "25", "--from", "sender@example.net",
                     "--to", "rcpt@example.test", "--attach", "@" + _attachment, "--timeout", "30" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        bool finished = p.WaitForExit(TimeSpan.FromSeconds(seconds));
        if (!finished) p.Kill(entireProcessTree: true);
        p.WaitForExit();
        transcript = stdout.Result + stderr.Result;
        // The server's log line can trail swaks' exit by a moment.
        for (int i = 0; i < 20 && Delivered == before && finished; i++) Thread.Sleep(50);
        return finished && p.ExitCode == 0 && Delivered > before;
    }
}
