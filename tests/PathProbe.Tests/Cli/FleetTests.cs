using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using PathProbe.Cli.Commands;
using PathProbe.Cli.Commands.Capture;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Cli;

/// <summary>
/// Issue 20 items 1, 4, 5 without packets: the config file (every capture flag has a key, and a key means what its flag
/// means), --metrics-listen's address and a taken port, the systemd unit (systemd-analyze verify) and the alert rules
/// (promtool check rules, promtool test rules).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection
{
    /// <summary>One MeterProvider at a time in this process: each listens to every meter named PathProbe.Capture.</summary>
    public const string Name = "telemetry";
}

[Collection(TelemetryCollection.Name)]
public sealed class FleetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pathprobe-fleet-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Command CaptureCommandTree() => CaptureCommand.Create(TextWriter.Null, TextWriter.Null);

    /// <summary>A valid value for each capture flag, by key (a new flag without one fails the test until added here).</summary>
    private Dictionary<string, string> SampleValues() => new(StringComparer.OrdinalIgnoreCase)
    {
        ["interface"] = "eth7",
        ["snaplen"] = "1600",
        ["no-promisc"] = "true",
        ["buffer-size"] = "4096",
        ["write"] = Path.Combine(_dir, "ring.pcapng"),
        ["file-size"] = "2.5",
        ["file-count"] = "4",
        ["rotate-seconds"] = "60",
        ["count"] = "1000",
        ["duration"] = "30",
        ["json"] = "true",
        ["ndjson"] = "true",
        ["max-flows"] = "5000",
        ["flow-rows"] = "7",
        ["threads"] = "7", // --threads N (perfmt): not one per core here, so it differs from the default
        ["metrics-listen"] = "127.0.0.1:9464",
        ["otlp-endpoint"] = "http://127.0.0.1:4318",
        ["otlp-protocol"] = "grpc",
        ["otlp-interval"] = "2.5",
        ["parquet"] = _dir, // --parquet DIR (the records branch): a directory that exists
        ["host"] = "mx1.example.net",
        ["capture-id"] = "run-7",
        ["parquet-rotate"] = "60",
    };

    [Fact]
    public void Config_EveryCaptureFlag_HasAKey()
    {
        var cmd = CaptureCommandTree();
        var keys = CaptureConfig.Keys(cmd).ToList();
        var samples = SampleValues();
        var mapped = keys.Select(k => k.Option).ToHashSet();
        foreach (var o in cmd.Options)
        {
            if (o.Name is "--list-interfaces" or "--config" || o is System.CommandLine.Help.HelpOption) continue;
            Assert.True(mapped.Contains(o), $"capture flag {o.Name} has no config key (give it a long name or a ShortFlagKeys entry)");
        }
        foreach (var (option, key) in keys)
            Assert.True(samples.ContainsKey(key), $"key '{key}' ({option.Name}) has no sample value in this test");
        Assert.Equal(keys.Count, keys.Select(k => k.Key).Distinct(StringComparer.OrdinalIgnoreCase).Count());
    }

    /// <summary>Each key, alone in a config file, parses to the same value as its flag on the command line.</summary>
    [Fact]
    public void Config_EachKey_MeansWhatItsFlagMeans()
    {
        var samples = SampleValues();
        foreach (string ext in new[] { ".conf", ".json" })
        {
            foreach (var (option, key) in CaptureConfig.Keys(CaptureCommandTree()).ToList())
            {
                string value = samples[key];
                string file = Path.Combine(_dir, "one" + ext);
                File.WriteAllText(file, ext == ".json"
                    ? $"{{ \"{key}\": {(option.Arity.MaximumNumberOfValues == 0 ? value : System.Text.Json.JsonSerializer.Serialize(value))} }}"
                    : $"# a comment\n{key} = {value}\n");

                var fromFile = ParseWithConfig(file, out var cmdA);
                var optionA = cmdA.Options.Single(o => o.Name == option.Name);
                var cmdB = CaptureCommandTree();
                var optionB = cmdB.Options.Single(o => o.Name == option.Name);
                var fromFlag = cmdB.Parse(option.Arity.MaximumNumberOfValues == 0 ? [option.Name] : [option.Name, value]);
                Assert.Empty(fromFlag.Errors);
                object? expected = fromFlag.GetValue<object>(optionB.Name);
                object? actual = fromFile.GetValue<object>(optionA.Name);
                Assert.True(Equals(expected, actual), $"{ext} key {key}: {actual} from the file, {expected} from {option.Name}");
                Assert.False(Equals(expected, cmdB.Parse([]).GetValue<object>(optionB.Name)), $"{key}: the sample equals the default, so the test proves nothing");
            }
        }
    }

    [Fact]
    public void Config_FilterKeyAndCommandLine_CommandLineWins()
    {
        string file = Path.Combine(_dir, "capture.conf");
        File.WriteAllText(file, "interface = eth1\nmax-flows = 100\nfilter = tcp port 25 or icmp\n");
        var parse = ParseWithConfig(file, out _, "--max-flows", "200");
        Assert.Equal("eth1", parse.GetValue<string?>("--interface"));
        Assert.Equal(200, parse.GetValue<int>("--max-flows"));
        Assert.Equal("tcp port 25 or icmp", string.Join(' ', parse.GetValue<string[]>("FILTER")!));

        var withFilter = ParseWithConfig(file, out _, "udp", "port", "53");
        Assert.Equal("udp port 53", string.Join(' ', withFilter.GetValue<string[]>("FILTER")!));
    }

    [Fact]
    public void Config_UnknownKeyOrBadValue_UsageErrorNamingIt()
    {
        string file = Path.Combine(_dir, "typo.conf");
        File.WriteAllText(file, "interfce = eth0\n");
        var (exit, err) = RunCapture("--config", file);
        Assert.Equal(2, exit);
        Assert.Contains("unknown key 'interfce'", err);
        Assert.Contains("interface", err);

        File.WriteAllText(file, "interface = eth0\nmax-flows = lots\n");
        (exit, err) = RunCapture("--config", file);
        Assert.Equal(2, exit);
        Assert.Contains("--max-flows", err);
        Assert.Contains("'lots' is not a whole number", err);

        (exit, err) = RunCapture("--config", Path.Combine(_dir, "missing.conf"));
        Assert.Equal(2, exit);
        Assert.Contains("cannot read the config file", err);
    }

    [Fact]
    public void Config_ShippedExample_ParsesCleanly()
    {
        string example = Path.Combine(TestPaths.RepoRoot, "packaging", "systemd", "capture.conf");
        string copy = Path.Combine(_dir, "capture.conf");
        // The example writes under /var/lib/pathprobe, which does not exist here: the same file, written to the temp dir.
        File.WriteAllText(copy, File.ReadAllText(example).Replace("/var/lib/pathprobe", _dir));
        var parse = ParseWithConfig(copy, out _);
        Assert.Empty(parse.Errors);
        Assert.Equal("eth0", parse.GetValue<string?>("--interface"));
        Assert.Equal("127.0.0.1:9464", parse.GetValue<string?>("--metrics-listen"));
        Assert.Equal(100_000_000, parse.GetValue<long>("-C"));
        Assert.Equal(10, parse.GetValue<int>("-W"));
    }

    private static ParseResult ParseWithConfig(string file, out Command cmd, params string[] more)
    {
        cmd = CaptureCommandTree();
        var config = cmd.Options.Single(o => o.Name == "--config");
        var first = cmd.Parse(["--config", file, .. more]);
        var merged = CaptureConfig.Merge(first, cmd, config, file, out string? error);
        Assert.True(merged is not null, error);
        var parse = cmd.Parse(merged!);
        Assert.True(parse.Errors.Count == 0, string.Join("; ", parse.Errors.Select(e => e.Message)) + " <- " + string.Join(' ', merged!));
        return parse;
    }

    private static (int Exit, string Err) RunCapture(params string[] args)
    {
        var stderr = new StringWriter();
        int exit = PathProbe.Cli.Program.Run(["capture", .. args], TextWriter.Null, stderr);
        return (exit, stderr.ToString());
    }

    [Theory]
    [InlineData("127.0.0.1:9464", "127.0.0.1", 9464)]
    [InlineData("*:9464", "*", 9464)]
    [InlineData(":9464", "*", 9464)]
    [InlineData("0.0.0.0:80", "*", 80)]
    [InlineData("mx1.example.net:9464", "mx1.example.net", 9464)]
    public void MetricsEndpoint_Valid_Parsed(string text, string host, int port)
    {
        Assert.True(MetricsEndpoint.TryParse(text, out var e, out string? error), error);
        Assert.Equal(host, e!.Host);
        Assert.Equal(port, e.Port);
    }

    [Theory]
    [InlineData("9464", "is not ADDR:PORT")]
    [InlineData("127.0.0.1:0", "1-65535")]
    [InlineData("127.0.0.1:70000", "1-65535")]
    [InlineData("::1:9464", "IPv6 address cannot be given")]
    [InlineData("[::1]:9464", "use *:9464 for every address")]
    public void MetricsEndpoint_Invalid_SaysWhy(string text, string why)
    {
        Assert.False(MetricsEndpoint.TryParse(text, out _, out string? error));
        Assert.Contains(why, error);
        Assert.Equal(2, RunCapture("-i", "eth0", "--metrics-listen", text).Exit);
    }

    /// <summary>A port another program listens on: one actionable line, and capture is a usage error (2) before it opens
    /// the interface (so no libpcap is needed here).</summary>
    [Fact]
    public void MetricsListen_PortTaken_ClearErrorExit2()
    {
        using var other = new TcpListener(IPAddress.Loopback, 0);
        other.Start();
        int port = ((IPEndPoint)other.LocalEndpoint).Port;
        var (exit, err) = RunCapture("-i", "pp-no-such-if", "--metrics-listen", $"127.0.0.1:{port}");
        Assert.Equal(2, exit);
        var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"pathprobe: cannot serve metrics on 127.0.0.1:{port}: the port is already in use (another pathprobe, node_exporter or service " +
                     $"listens there); choose a free port with --metrics-listen ADDR:PORT (ss -ltnp 'sport = :{port}' shows who has it)", line);
    }

    /// <summary>The endpoint serves every metric the README lists, on a named address and on every address (*).</summary>
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("*")]
    public async Task MetricsListen_ServesEveryListedMetric(string host)
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0)) { probe.Start(); port = ((IPEndPoint)probe.LocalEndpoint).Port; }
        Assert.True(MetricsEndpoint.TryParse($"{host}:{port}", out var listen, out _));
        var telemetry = CaptureTelemetry.Start(new TelemetryOptions { MetricsListen = listen, Interface = "test0" },
            new PathProbe.Reports.Records.RecordScope("test", "test-run"), out string? error);
        Assert.True(telemetry is not null, error);
        using (telemetry)
        {
            using var http = new HttpClient();
            string text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
            foreach (string name in CaptureMetrics.PrometheusNames.Where(n => n != "pathprobe_handshake_rtt_seconds")) // a histogram appears with its first flow
                Assert.Contains($"# TYPE {name} ", text);
            Assert.Contains("pathprobe_findings_total{kind=\"mtu-blackhole\",severity=\"critical\"} 0", text);
            Assert.Contains("pathprobe_drops_total{where=\"kernel\"} 0", text);
            Assert.DoesNotContain("ip=", text); // no per-address label
        }
    }

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void SystemdUnit_PassesSystemdAnalyzeVerify()
    {
        string? analyze = TestPaths.Tool("systemd-analyze");
        Skip.If(analyze is null, "systemd-analyze is not installed (package systemd)");
        string unit = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "packaging", "systemd", "pathprobe-capture.service"));
        Assert.Contains("ExecStart=/usr/local/bin/pathprobe capture --config /etc/pathprobe/capture.conf", unit);
        foreach (string must in new[] { "User=pathprobe", "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN", "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN",
                                        "NoNewPrivileges=yes", "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID", "SuccessExitStatus=1 143" })
            Assert.Contains(must, unit);
        // verify checks that ExecStart's program exists: point it at an executable in the temp dir.
        string program = Path.Combine(_dir, "pathprobe");
        File.WriteAllText(program, "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(program, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string copy = Path.Combine(_dir, "pathprobe-capture.service");
        File.WriteAllText(copy, unit.Replace("/usr/local/bin/pathprobe", program));
        var (exit, output) = RunTool(analyze!, "verify", copy);
        Assert.True(exit == 0 && output.Trim().Length == 0, $"systemd-analyze verify: exit {exit}\n{output}");
    }

    [SkippableFact]
    public void AlertRules_PromtoolCheckAndUnitTests_Pass()
    {
        string? promtool = TestPaths.Tool("promtool");
        Skip.If(promtool is null, "promtool is not installed (package prometheus; scripts/test.sh installs it)");
        string dir = Path.Combine(TestPaths.RepoRoot, "packaging", "prometheus");
        var (exit, output) = RunTool(promtool!, "check", "rules", Path.Combine(dir, "pathprobe-alerts.yml"));
        Assert.True(exit == 0, output);
        Assert.Contains("SUCCESS: 4 rules found", output);
        (exit, output) = RunTool(promtool!, "test", "rules", Path.Combine(dir, "pathprobe-alerts.test.yml"));
        Assert.True(exit == 0, output);
        // Every metric the rules use is one capture exports.
        string rules = File.ReadAllText(Path.Combine(dir, "pathprobe-alerts.yml"));
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(rules, @"pathprobe_[a-z_]+"))
            Assert.Contains(CaptureMetrics.PrometheusNames, n => m.Value == n || m.Value.StartsWith(n + "_", StringComparison.Ordinal));
    }

    private static (int Exit, string Output) RunTool(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), $"{program} did not finish");
        p.WaitForExit();
        return (p.ExitCode, o.Result + e.Result);
    }
}
