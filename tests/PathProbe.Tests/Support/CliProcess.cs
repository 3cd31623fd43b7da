using System.Diagnostics;

namespace PathProbe.Tests.Support;

/// <summary>The real pathprobe executable (the apphost next to the tests) run as a process: what a user's shell sees.</summary>
public static class CliProcess
{
    public static string Executable => Path.Combine(AppContext.BaseDirectory, "pathprobe");

    public sealed record Result(int Exit, string Stdout, string Stderr)
    {
        public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Runs pathprobe with <paramref name="args"/>; <paramref name="stdin"/> is written to its standard
    /// input (then closed); without it standard input is an empty pipe. Bounded by <paramref name="timeoutMs"/>.</summary>
    public static Result Run(IEnumerable<string> args, byte[]? stdin = null, IDictionary<string, string>? environment = null,
        bool closeStdout = false, int timeoutMs = 60_000)
    {
        var psi = Start(args, environment);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        Task<string> output;
        if (closeStdout)
        {
            // The reader goes away at once, like `| head -0`.
            p.StandardOutput.BaseStream.Dispose();
            output = Task.FromResult("");
        }
        else output = p.StandardOutput.ReadToEndAsync();
        try
        {
            if (stdin is not null) p.StandardInput.BaseStream.Write(stdin);
            p.StandardInput.Close();
        }
        catch (IOException) { } // the program stopped reading early (-c)
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"pathprobe {string.Join(' ', args)} did not finish in {timeoutMs} ms");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, output.Result, err.Result);
    }

    public static ProcessStartInfo Start(IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        Assert.True(File.Exists(Executable), $"{Executable} is missing");
        var psi = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        if (environment is not null)
            foreach (var kv in environment) psi.Environment[kv.Key] = kv.Value;
        return psi;
    }

    /// <summary>Runs <c>dotnet <paramref name="dll"/> ARGS</c> under <c>/usr/bin/time -v</c> (the caller skips when it is
    /// missing) and returns its peak RSS in kB and its standard output; bounded by <paramref name="timeoutMs"/>.</summary>
    /// <summary>The tool beside the tests, for runs measured by /usr/bin/time -v (<see cref="RunMeasured"/>); the test
    /// is skipped, with the reason, when either is missing.</summary>
    public static string MeasurableCli()
    {
        Skip.IfNot(File.Exists("/usr/bin/time"), "/usr/bin/time is missing (apt-get install time): cannot measure peak RSS");
        string cli = Path.Combine(AppContext.BaseDirectory, "pathprobe.dll");
        Skip.IfNot(File.Exists(cli), "pathprobe.dll not beside the tests");
        return cli;
    }

    public static (long RssKb, string Stdout) RunMeasured(string dll, int timeoutMs, params string[] args)
    {
        var psi = new ProcessStartInfo("/usr/bin/time") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-v");
        psi.ArgumentList.Add(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? TestPaths.Tool("dotnet") ?? "dotnet");
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(timeoutMs), $"pathprobe did not finish within {timeoutMs / 1000} s");
        string line = stderr.Split('\n').First(l => l.Contains("Maximum resident set size"));
        long kb = long.Parse(line[(line.LastIndexOf(':') + 1)..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        return (kb, stdout.Result);
    }
}
