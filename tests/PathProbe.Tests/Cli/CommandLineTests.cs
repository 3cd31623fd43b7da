using System.CommandLine;
using System.Text.Json;
using PathProbe.Cli.Commands;
using PathProbe.Tests.Support;

namespace PathProbe.Tests.Cli;

/// <summary>
/// Issue 15's command-line failures, each by name: exit statuses, options and values rejected in one line before
/// anything is analysed, help placeholders, messages a user can act on, and output that cannot be written.
/// </summary>
[Collection(CrashLogCollection.Name)]
public sealed class CommandLineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pathprobe-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = PathProbe.Cli.Program.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private static string Capture(string name) => Path.Combine(TestPaths.Captures, name);

    /// <summary>A usage error: status 2, exactly one line on standard error that contains <paramref name="expected"/>,
    /// no stack trace, nothing on standard output (nothing analysed).</summary>
    private static void AssertUsage((int Exit, string Out, string Err) r, string expected)
    {
        Assert.True(r.Exit == 2, $"exit {r.Exit}: {r.Err}");
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"one line expected:\n{r.Err}");
        Assert.Contains(expected, lines[0]);
        Assert.StartsWith("pathprobe: ", lines[0]);
        Assert.DoesNotContain("   at ", r.Err);
        Assert.Equal("", r.Out);
    }

    // --- exit statuses -------------------------------------------------------------------------------------------

    [Fact]
    public void ExitStatus_HealthyCapture_Is0()
    {
        Assert.Equal(0, Run("analyze", "-q", Capture("smtp-healthy-ipv4.pcap")).Exit);
    }

    [Fact]
    public void ExitStatus_CriticalFindings_Is1()
    {
        Assert.Equal(1, Run("analyze", "-q", Capture("smtp-mru1424-sender.pcap")).Exit);
    }

    [Fact]
    public void ExitStatus_InternalError_Is3WithOneLineAndACrashLog()
    {
        // A writer that fails in a way no code expects: the program's one internal-error path.
        string state = Path.Combine(_dir, "state");
        string? saved = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        Environment.SetEnvironmentVariable("XDG_STATE_HOME", state);
        try
        {
            var stderr = new StringWriter();
            int exit = PathProbe.Cli.Program.Run(["analyze", "-q", Capture("smtp-healthy-ipv4.pcap")], new BrokenWriter(), stderr);
            Assert.Equal(3, exit);
            string line = Assert.Single(stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("pathprobe: internal error: 'pathprobe analyze' failed (InvalidOperationException: the test writer broke)", line);
            Assert.DoesNotContain("   at ", line);
            string log = Assert.Single(Directory.GetFiles(Path.Combine(state, "pathprobe")));
            Assert.Contains(log, line);
            string text = File.ReadAllText(log);
            Assert.Contains("InvalidOperationException: the test writer broke", text);
            Assert.Contains("   at ", text); // the stack trace is in the log, not on the terminal
            Assert.Contains("arguments: analyze -q", text);
        }
        finally { Environment.SetEnvironmentVariable("XDG_STATE_HOME", saved); }
    }

    private sealed class BrokenWriter : StringWriter
    {
        public override void Write(string? value) => throw new InvalidOperationException("the test writer broke");
        public override void Write(char value) => throw new InvalidOperationException("the test writer broke");
    }

    // --- unhandled exceptions of the review, now usage errors -------------------------------------------------------

    [Fact]
    public void Analyze_EmptyJsonPath_Exit2NothingAnalysed()
    {
        AssertUsage(Run("analyze", "--json", ""), "empty string is not a file name");
        AssertUsage(Run("analyze", "--json", "", Capture("smtp-healthy-ipv4.pcap")), "empty string is not a file name");
    }

    [Fact]
    public void Analyze_EmptyOutputPath_Exit2NamesOption() =>
        AssertUsage(Run("analyze", Capture("smtp-healthy-ipv4.pcap"), "-o", ""), "-o: needs a file name, not an empty string");

    [Fact]
    public void Dns_TimeoutNaN_Exit2NamesOption() =>
        AssertUsage(Run("dns", "example.com", "--timeout", "NaN", "--server", "127.0.0.1:9"), "--timeout must be more than 0 and at most 60 seconds");

    [Fact]
    public void Capture_EmptyWritePath_Exit2NamesOption() =>
        AssertUsage(Run("capture", "-i", "lo", "-w", ""), "-w: needs a file name, not an empty string");

    [Theory]
    [InlineData("1e308", "too large")]
    [InlineData("Infinity", "too large")]
    [InlineData("-Infinity", "too small")]
    [InlineData("NaN", "is not a number of seconds")]
    [InlineData("0", "too small")]
    [InlineData("-5", "too small")]
    [InlineData("2e9", "too large")]
    public void Capture_DurationNotFinite_Exit2NamesOption(string value, string expected)
    {
        var r = Run("capture", "-i", "lo", "--duration", value);
        AssertUsage(r, "--duration: ");
        Assert.Contains(expected, r.Err);
    }

    [Theory]
    [InlineData("--duration", "NaN", "--duration: 'NaN' is not a number of seconds")]
    [InlineData("--duration", "Infinity", "--duration: Infinity is too large")]
    [InlineData("--duration", "-1", "--duration: -1 is too small")]
    [InlineData("-w", "", "-w: needs a file name, not an empty string")]
    [InlineData("-s", "999999", "-s: 999999 is too large")]
    [InlineData("-c", "5", "--count applies to capture files, not to -i")]
    public void Tui_LiveOptions_CheckedAsCapturesBeforeAnythingOpens(string option, string value, string expected) =>
        AssertUsage(Run("tui", "-i", "lo", option, value), expected);

    [Fact]
    public void Tui_WriteOrDurationWithoutInterface_Exit2SaysTheyAreLive()
    {
        AssertUsage(Run("tui", Capture("smtp-healthy-ipv4.pcap"), "-w", Path.Combine(_dir, "x.pcapng")), "-w and --duration apply to a live capture");
        AssertUsage(Run("tui", Capture("smtp-healthy-ipv4.pcap"), "--duration", "5"), "-w and --duration apply to a live capture");
    }

    [Theory]
    [InlineData("--max-flows", "0")]
    [InlineData("--max-flows", "99999999999")]
    [InlineData("--flow-rows", "-1")]
    [InlineData("-c", "1e3")]
    [InlineData("-c", "abc")]
    public void Analyze_MalformedNumber_Exit2NamesOption(string option, string value) =>
        AssertUsage(Run("analyze", Capture("smtp-healthy-ipv4.pcap"), option, value), option + ": ");

    // --- command line ---------------------------------------------------------------------------------------------

    [Fact]
    public void Analyze_UnknownOption_Exit2NothingAnalysed() =>
        AssertUsage(Run("analyze", "--bogus", Capture("smtp-healthy-ipv4.pcap")), "unknown option '--bogus'");

    [Fact]
    public void Analyze_UnknownOptionAfterFiles_Exit2() =>
        AssertUsage(Run("analyze", Capture("smtp-healthy-ipv4.pcap"), "-x"), "unknown option '-x'");

    [Fact]
    public void Capture_UnknownShortOption_IsNotAFilterWord() =>
        AssertUsage(Run("capture", "-q"), "unknown option '-q'");

    [Fact]
    public void Analyze_DashR_ReadsTheFile()
    {
        var (exit, output, err) = Run("analyze", "--json", "-r", Capture("smtp-healthy-ipv4.pcap"), "-r", Capture("smtp-healthy-ipv6.pcap"));
        Assert.True(exit == 0, err);
        using var doc = JsonDocument.Parse(output);
        var inputs = doc.RootElement.GetProperty("inputs");
        Assert.Equal(2, inputs.GetArrayLength());
        Assert.EndsWith("smtp-healthy-ipv4.pcap", inputs[0].GetProperty("path").GetString());
    }

    [Fact]
    public void Analyze_OptionLikeFileAfterDoubleDash_IsAFilterNotAnOption()
    {
        // After "--" nothing is an option: "-x" is a filter word, which libpcap then judges (or its absence is said).
        var (exit, _, err) = Run("analyze", Capture("smtp-healthy-ipv4.pcap"), "--", "-x");
        Assert.Equal(2, exit);
        Assert.DoesNotContain("unknown option", err);
    }

    [Fact]
    public void Analyze_MissingFile_Exit2SaysWhichBeforeAnalysingAnything()
    {
        AssertUsage(Run("analyze", Capture("smtp-healthy-ipv4.pcap"), Path.Combine(_dir, "capture.pcap")), "capture.pcap' does not exist");
        AssertUsage(Run("analyze", "-r", Path.Combine(_dir, "nope", "x.pcap")), "does not exist (no such directory)");
        AssertUsage(Run("analyze", Path.Combine(_dir, "typo.pcapng"), "tcp", "port", "25"), "typo.pcapng' does not exist");
    }

    [Theory]
    [InlineData("capture", "-w <FILE>")]
    [InlineData("capture", "-C <MB>")]
    [InlineData("capture", "-i, --interface <IFACE>")]
    [InlineData("capture", "--duration <S>")]
    [InlineData("capture", "-c, --count <N>")]
    [InlineData("capture", "-s, --snaplen <BYTES>")]
    [InlineData("capture", "-B, --buffer-size <KIB>")]
    [InlineData("analyze", "-o, --output <FILE>")]
    [InlineData("analyze", "-r <FILE>")]
    [InlineData("analyze", "-c, --count <N>")]
    [InlineData("analyze", "--since <TIME>")]
    [InlineData("analyze", "--max-flows <N>")]
    [InlineData("analyze", "--dns-server <IP[:PORT]>")]
    [InlineData("tui", "-r <FILE>")]
    [InlineData("tui", "-w <FILE>")]
    [InlineData("tui", "--duration <S>")]
    [InlineData("tui", "-i, --interface <IFACE>")]
    [InlineData("dns", "--timeout <S>")]
    [InlineData("probe", "-p, --port <PORT>")]
    public void Help_ShowsRealPlaceholders(string command, string expected)
    {
        var (exit, output, _) = Run(command, "--help");
        Assert.Equal(0, exit);
        Assert.Contains(expected, output);
        Assert.DoesNotMatch(@"<[a-z][a-z-]*>", output); // System.CommandLine's defaults: <w>, <output>, <max-flows>
    }

    [Theory]
    [InlineData("0.1", 100_000)]
    [InlineData("1", 1_000_000)]
    [InlineData("2.5", 2_500_000)]
    [InlineData("100k", 102_400)]
    [InlineData("1m", 1_048_576)]
    [InlineData("1G", 1_073_741_824)]
    public void Megabytes_FractionsAndSuffixes_AreBytesLikeTcpdump(string value, long bytes)
    {
        var option = CliOptions.Megabytes("-C", null, "test", 1L << 50);
        var cmd = new RootCommand { option };
        var parse = cmd.Parse(["-C", value]);
        Assert.Empty(parse.Errors);
        Assert.Equal(bytes, parse.GetValue(option));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("1x")]
    [InlineData("1e300")]
    public void Megabytes_Nonsense_IsAnErrorNamingTheOption(string value)
    {
        var option = CliOptions.Megabytes("-C", null, "test", 1L << 50);
        var parse = new RootCommand { option }.Parse(["-C", value]);
        Assert.StartsWith("-C: ", Assert.Single(parse.Errors).Message);
    }

    // --- unclear messages -----------------------------------------------------------------------------------------

    [Fact]
    public void Analyze_OutputIsADirectory_SaysSo() =>
        AssertUsage(Run("analyze", Capture("smtp-healthy-ipv4.pcap"), "-o", _dir), "is a directory; give a file name");

    [Fact]
    public void Analyze_OutputInMissingDirectory_SaysWhich() =>
        AssertUsage(Run("analyze", Capture("smtp-healthy-ipv4.pcap"), "-o", Path.Combine(_dir, "no", "r.txt")), "does not exist");

    [Fact]
    public void MissingLibpcap_FilterOrCapture_OneLineHintWithoutLoaderDiagnostics()
    {
        // PATHPROBE_LIBPCAP names the library to load; pointing it nowhere is libpcap missing, as the user meets it.
        var env = new Dictionary<string, string> { ["PATHPROBE_LIBPCAP"] = Path.Combine(_dir, "libpcap.so.0.8") };
        var filtered = CliProcess.Run(["analyze", Capture("smtp-healthy-ipv4.pcap"), "tcp", "port", "25"], environment: env);
        Assert.Equal(2, filtered.Exit);
        string line = Assert.Single(filtered.StderrLines);
        Assert.StartsWith("pathprobe: a filter needs libpcap: libpcap cannot be loaded from PATHPROBE_LIBPCAP=", line);
        Assert.EndsWith("; files without a filter do not need it", line);
        Assert.Equal("", filtered.Stdout);

        var capture = CliProcess.Run(["capture", "-i", "lo"], environment: env);
        Assert.Equal(2, capture.Exit);
        Assert.Contains("libpcap cannot be loaded", Assert.Single(capture.StderrLines));

        // Files without a filter never need libpcap.
        var plain = CliProcess.Run(["analyze", "-q", Capture("smtp-healthy-ipv4.pcap")], environment: env);
        Assert.Equal(0, plain.Exit);
        Assert.Equal("", plain.Stderr);
    }

    /// <summary>`capture --threads N` with records or metrics runs one engine on the capture thread, and says so, for each
    /// of them (--ndjson ran one engine without a word: the warning tested another flag than the one that decided).</summary>
    [SkippableTheory]
    [InlineData("--ndjson")]
    [InlineData("--parquet")]
    public void Capture_ThreadsWithRecords_WarnsThatOneEngineAnalyses(string records)
    {
        Skip.IfNot(Environment.UserName == "root", "live capture on lo needs root (CAP_NET_RAW)");
        string[] args = records == "--parquet"
            ? ["capture", "-i", "lo", "--threads", "2", "--parquet", Path.Combine(_dir, "records"), "--duration", "0.3"]
            : ["capture", "-i", "lo", "--threads", "2", "--ndjson", "--duration", "0.3"];
        var r = CliProcess.Run(args);
        Assert.True(r.Exit is 0 or 1, $"exit {r.Exit}: {r.Stderr}");
        Assert.Contains("pathprobe: warning: --threads is not used with metrics, OTLP, --ndjson or --parquet", r.Stderr);
    }

    [Fact]
    public void SetcapHint_Apphost_NamesTheExecutable()
    {
        string exe = Path.Combine(_dir, "pathprobe");
        File.WriteAllText(exe, "");
        Assert.Equal($"sudo setcap cap_net_raw,cap_net_admin=eip {exe}", PathProbe.LibPcap.LiveCapture.SetcapHintFor(exe));
    }

    [Fact]
    public void SetcapHint_DotnetHost_NamesTheResolvedHostAndTheTradeOff()
    {
        // `dotnet pathprobe.dll`: the process is the dotnet host; setcap refuses symbolic links, so the real file is named.
        string real = Path.Combine(_dir, "host", "dotnet");
        Directory.CreateDirectory(Path.GetDirectoryName(real)!);
        File.WriteAllText(real, "");
        string link = Path.Combine(_dir, "dotnet");
        File.CreateSymbolicLink(link, real);
        string hint = PathProbe.LibPcap.LiveCapture.SetcapHintFor(link);
        Assert.StartsWith($"sudo setcap cap_net_raw,cap_net_admin=eip {real} ", hint);
        Assert.Contains("every .NET program started with it can then capture", hint);
        Assert.Contains("run its own executable", hint);
        // The probe's raw sockets: the same rule, with the probe's capability.
        string probe = PathProbe.Primitives.Setcap.Hint("cap_net_raw+ep", "send raw packets", link);
        Assert.StartsWith($"sudo setcap cap_net_raw+ep {real} ", probe);
        Assert.Contains("every .NET program started with it can then send raw packets", probe);
    }

    [Fact]
    public void Analyze_Snaplen0xFFFFFFFF_ShownAsSuch()
    {
        byte[] pcap = File.ReadAllBytes(Capture("smtp-healthy-ipv4.pcap"));
        BitConverter.GetBytes(0xFFFFFFFFu).CopyTo(pcap, 16); // little-endian file: snaplen at offset 16
        string path = Path.Combine(_dir, "snap.pcap");
        File.WriteAllBytes(path, pcap);
        var (exit, text, err) = Run("analyze", "-q", path);
        Assert.True(exit == 0, err);
        Assert.Contains("snaplen 4,294,967,295", text); // the file's unsigned value, in the report's one number format
        var (_, json, _) = Run("analyze", "--json", path);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(4294967295L, doc.RootElement.GetProperty("inputs")[0].GetProperty("interfaces")[0].GetProperty("snapLength").GetInt64());
    }

    [Fact]
    public void Analyze_FlowRowsText_SaysHowManyJsonLists()
    {
        var (_, text, _) = Run("analyze", "-q", "--flow-rows", "1", Capture("smtp-mru1424-sender.pcap"));
        Assert.Contains("Flows (the first 1 of 2, worst first, then by id; --flow-rows N shows more, --json lists all 2)", TestText.Flat(text));
        var (_, help, _) = Run("analyze", "--help");
        Assert.Contains("--json lists up to 100,000", help);
        Assert.DoesNotContain("--json lists all)", help);
    }

    // --- output failures ------------------------------------------------------------------------------------------

    [SkippableFact]
    public void Analyze_OutputDiskFull_ReportOnStdoutAndExit2()
    {
        Skip.IfNot(File.Exists("/dev/full"), "/dev/full is Linux only");
        var (exit, output, err) = Run("analyze", Capture("smtp-mru1424-sender.pcap"), "-o", "/dev/full");
        Assert.Equal(2, exit);
        Assert.Contains("could not write the report to '/dev/full' (No space left on device); it follows on standard output instead", err);
        Assert.Contains("PATH-MTU BLACK HOLE", output); // the analysis is intact
        Assert.DoesNotContain("   at ", err);
    }

    [SkippableFact]
    public void Analyze_StdoutClosed_SaysWhatWasNotWrittenWithTheVerdict()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "pipes closed under a running program: Linux");
        // Large enough that the report cannot sit in the pipe's buffer.
        var r = CliProcess.Run(["analyze", "--json", Capture("smtp-mru1424-sender.pcap")], closeStdout: true);
        Assert.Equal(2, r.Exit);
        string line = Assert.Single(r.StderrLines);
        Assert.Contains("the report was not written in full: standard output was closed", line);
        Assert.Contains("4 critical findings (", line);
        Assert.Contains("mtu-blackhole", line); // the kinds' stable names, as everywhere else
    }

    [Fact]
    public void Analyze_OutputFile_WrittenAndStdoutEmpty()
    {
        string path = Path.Combine(_dir, "r.json");
        var (exit, output, _) = Run("analyze", "--json", "-o", path, Capture("smtp-healthy-ipv4.pcap"));
        Assert.Equal(0, exit);
        Assert.Equal("", output);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        Assert.Equal(1, doc.RootElement.GetProperty("inputs").GetArrayLength());
    }
}

/// <summary>Tests that change XDG_STATE_HOME run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CrashLogCollection
{
    public const string Name = "crash log";
}
