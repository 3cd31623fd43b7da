using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using PathProbe.Primitives;
using PathProbe.Probe;

namespace PathProbe.Cli.Commands;

/// <summary><c>pathprobe probe HOST [--port 25] [-4|-6] [--json] [--timeout S] [--source ADDR]</c>: measures the path
/// MTU to a mail server actively.</summary>
public static class ProbeCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var host = new Argument<string>("HOST") { Description = "The mail server: an IPv4 or IPv6 address, or a name (resolved by the system resolver)." };
        var port = new Option<int>("--port", "-p") { HelpName = "PORT", Description = "The TCP port for the SYN probes and the port check.", DefaultValueFactory = _ => 25 };
        var v4 = new Option<bool>("-4") { Description = "Use IPv4 (for a name with both)." };
        var v6 = new Option<bool>("-6") { Description = "Use IPv6 (for a name with both)." };
        var json = new Option<bool>("--json") { Description = "Write one JSON document (schema pathprobe.probe/1) instead of the text report." };
        var timeout = new Option<double>("--timeout")
        {
            HelpName = "S",
            Description = "The longest wait for one probe's answer, in seconds (after the first answer: four round trips, at least 0.25 s).",
            DefaultValueFactory = _ => 1.0,
        };
        var source = new Option<string?>("--source") { HelpName = "ADDR", Description = "Send from this local address." };
        var cmd = new Command("probe",
            "Measure the largest IP packet that reaches a mail server (don't-fragment probes: ICMP echo, else TCP SYNs to the port), " +
            "say whether a smaller MTU is announced by ICMP or silently dropped (a black hole), and print the fixes. " +
            "Needs root or CAP_NET_RAW. One probe in flight, at most 5 per second and 64 per run. " +
            "Exit status: 0 measured (fine, or PMTUD works), 1 black hole, 2 usage error, no permission, or no answer.")
        {
            host, port, v4, v6, json, timeout, source,
        };
        cmd.SetAction((parse, cancel) => Task.FromResult(Run(parse.GetValue(host)!, parse.GetValue(port), parse.GetValue(v4), parse.GetValue(v6),
            parse.GetValue(json), parse.GetValue(timeout), parse.GetValue(source), stdout, stderr, cancel)));
        return cmd;
    }

    internal static int Run(string host, int port, bool v4, bool v6, bool json, double timeoutSeconds, string? sourceText,
        TextWriter stdout, TextWriter stderr, CancellationToken cancel)
    {
        if (v4 && v6) return Usage(stderr, "-4 and -6 exclude each other");
        if (port is < 1 or > 65535) return Usage(stderr, $"--port {port} is not a TCP port (1-65535)");
        if (timeoutSeconds is not (> 0 and <= 60)) return Usage(stderr, "--timeout must be more than 0 and at most 60 seconds");
        var family = v4 ? AddressFamily.InterNetwork : v6 ? AddressFamily.InterNetworkV6 : AddressFamily.Unspecified;

        IPAddress? source = null;
        if (sourceText is not null)
        {
            if (!IPAddress.TryParse(sourceText, out source)) return Usage(stderr, $"--source '{SafeText.Clean(sourceText, 100)}' is not an IP address");
            if (family == AddressFamily.Unspecified) family = source.AddressFamily;
            else if (source.AddressFamily != family) return Usage(stderr, $"--source {source} is not {(v4 ? "IPv4" : "IPv6")}");
        }

        string? name = null;
        if (!IPAddress.TryParse(host, out var target))
        {
            name = host;
            if (!IsHostName(host))
                return Usage(stderr, $"'{SafeText.Clean(host, 100)}' is neither an IP address nor a host name");
            try
            {
                var all = System.Net.Dns.GetHostAddresses(host);
                target = all.FirstOrDefault(a => family == AddressFamily.Unspecified
                    ? a.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6
                    : a.AddressFamily == family);
                if (target is null)
                    return Usage(stderr, $"{SafeText.Clean(host, 255)} has no {(family == AddressFamily.InterNetwork ? "IPv4" : family == AddressFamily.InterNetworkV6 ? "IPv6" : "IP")} address");
            }
            catch (SocketException e)
            {
                return Usage(stderr, $"cannot resolve {SafeText.Clean(host, 255)}: {e.Message} (the system resolver, /etc/resolv.conf; or give the address)");
            }
        }
        else if (family != AddressFamily.Unspecified && target.AddressFamily != family)
            return Usage(stderr, $"{target} is not {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")}");
        if (target.IsIPv4MappedToIPv6) target = target.MapToIPv4();
        if (target.Equals(IPAddress.Any) || target.Equals(IPAddress.IPv6Any))
            return Usage(stderr, $"{target} is not a host");

        ProbeResult result;
        // SIGINT/SIGTERM end the search; what was measured is reported and the status is 130/143 (StopSignals).
        using var signals = new StopSignals(cancel);
        try
        {
            var options = new ProbeOptions { Timeout = TimeSpan.FromSeconds(timeoutSeconds) };
            result = PathMtuProber.Run(target, port, source, options, name, signals.Token, from =>
            {
                if (!json) stderr.WriteLine($"pathprobe: probing {(name is null ? target : $"{SafeText.Clean(name, 255)} ({target})")} from {from}: one probe in flight, at most {options.MaxProbes}; this takes a few seconds");
            });
        }
        catch (ProbePermissionException e) { return Usage(stderr, e.Message); }
        catch (ProbeException e) { return Usage(stderr, e.Message); }
        catch (OperationCanceledException) when (signals.Stopped)
        {
            stderr.WriteLine($"pathprobe: {signals.Describe() ?? "interrupted"} before the first answer: nothing was measured");
            return signals.ExitStatus(Program.ExitUsage);
        }

        if (json)
        {
            using var ms = new MemoryStream();
            ProbeReport.WriteJson(ms, result);
            stdout.Write(System.Text.Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length));
            stdout.WriteLine();
        }
        else ProbeReport.WriteText(stdout, result);
        return signals.ExitStatus(result.Verdict switch
        {
            PathVerdict.BlackHole => Program.ExitCritical,
            PathVerdict.Unreachable => Program.ExitUsage,
            _ => Program.ExitOk,
        });
    }

    /// <summary>A host name the system resolver can be asked for (RFC 1123 labels; underscores tolerated).</summary>
    private static bool IsHostName(string host)
    {
        string h = host.TrimEnd('.');
        return h.Length is > 0 and <= 253 &&
               h.Split('.').All(l => l.Length is > 0 and <= 63 && l.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));
    }

    /// <summary>Usage errors, missing privilege, no route, no answer to a name: exit 2 with what to do.</summary>
    private static int Usage(TextWriter stderr, string message)
    {
        stderr.WriteLine($"pathprobe: {message}");
        return Program.ExitUsage;
    }

}
