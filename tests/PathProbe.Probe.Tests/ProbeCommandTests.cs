using PathProbe.Probe.Tests.Support;

namespace PathProbe.Probe.Tests;

/// <summary><c>pathprobe probe</c>'s command line: usage errors and the missing privilege, each with exit 2 and a
/// message that says what to do.</summary>
public sealed class ProbeCommandTests
{
    private static (int Exit, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = PathProbe.Cli.Program.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("-4 and -6 exclude each other", "probe", "-4", "-6", "203.0.113.25")]
    [InlineData("--port 0 is not a TCP port", "probe", "--port", "0", "203.0.113.25")]
    [InlineData("--timeout must be", "probe", "--timeout", "0", "203.0.113.25")]
    [InlineData("neither an IP address nor a host name", "probe", "bad host!")]
    [InlineData("is not IPv6", "probe", "-6", "203.0.113.25")]
    [InlineData("--source 'x' is not an IP address", "probe", "--source", "x", "203.0.113.25")]
    [InlineData("--source 2001:db8::1 is not IPv4", "probe", "-4", "--source", "2001:db8::1", "203.0.113.25")]
    public void UsageErrors_Exit2WithTheReason(string message, params string[] args)
    {
        var (exit, stdout, stderr) = Run(args);
        Assert.Equal(2, exit);
        Assert.Contains(message, stderr);
        Assert.Equal("", stdout);
    }

    [Fact]
    public void Help_NamesTheLimitsAndThePrivilege()
    {
        var (exit, stdout, _) = Run("probe", "--help");
        Assert.Equal(0, exit);
        Assert.Contains("CAP_NET_RAW", stdout);
        Assert.Contains("64 per run", stdout);
        Assert.Contains("--timeout", stdout);
    }

    /// <summary>Run as an unprivileged user (setpriv to nobody, no capabilities), the probe refuses with exit 2 and says
    /// how to grant CAP_NET_RAW, without sending anything.</summary>
    [SkippableFact]
    public void WithoutCapNetRaw_Exit2AndSaysWhatToDo()
    {
        Requires.RootAnd("setpriv");
        var nobody = new[] { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all" };
        var (readable, _, _) = Shell.Run(nobody[0], nobody.Skip(1).Concat(["test", "-r", PathProbeCli.Dll]), check: false);
        Skip.If(readable != 0, $"the build output ({PathProbeCli.Dll}) is not readable by nobody");
        var (exit, stdout, stderr) = Shell.Run(nobody[0],
            nobody.Skip(1).Concat(["env", "HOME=/tmp", "DOTNET_CLI_HOME=/tmp", Environment.ProcessPath!, "exec", PathProbeCli.Dll, "probe", "127.0.0.1"]),
            check: false, timeoutMs: 60_000);
        Assert.Equal(2, exit);
        Assert.Contains("needs root or CAP_NET_RAW", stderr);
        Assert.Contains("setcap cap_net_raw+ep", stderr);
        Assert.DoesNotContain("probing", stderr);
        Assert.Equal("", stdout);
    }
}
