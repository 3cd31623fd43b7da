using System.CommandLine;
using System.CommandLine.Parsing;
using PathProbe.Cli.Commands;

namespace PathProbe.Cli;

public static class Program
{
    /// <summary>Exit statuses, the same for every command (README "Exit status").</summary>
    public const int
        ExitOk = 0,          // done, nothing critical
        ExitCritical = 1,    // critical findings
        ExitUsage = 2,       // usage or input error; also a report or file that could not be written where asked
        ExitInternal = 3,    // a bug: one line on standard error, the details in a crash log
        ExitSigInt = 130,    // interrupted by SIGINT (Ctrl-C), after the report of what was read
        ExitSigTerm = 143;   // stopped by SIGTERM, likewise

    public static int Main(string[] args)
    {
        // A failure on another thread (the TUI's analysis thread, a timer) ends the process the same way: one line
        // and a crash log, never the runtime's stack trace.
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            int status = CrashLog.Report(e.ExceptionObject as Exception ?? new Exception(e.ExceptionObject?.ToString()), args, Console.Error);
            Environment.Exit(status);
        };
        return Run(args, Console.Out, Console.Error);
    }

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            var root = new RootCommand(
                "PathProbe finds why mail stalls from packets: MTU/MRU black holes, retransmission storms, fragmentation, " +
                "SMTP and DNS trouble, in pcap/pcapng captures.");
            root.Add(AnalyzeCommand.Create(stdout, stderr));
            root.Add(CaptureCommand.Create(stdout, stderr));
            root.Add(DnsCommand.Create(stdout, stderr));
            root.Add(ProbeCommand.Create(stdout, stderr));
            root.Add(TuiCommand.Create(stdout, stderr));

            // No response files: "@name" is a file name or filter word here, never a list of arguments to read.
            var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
            if (UsageError(parse) is { } error)
            {
                string command = parse.CommandResult.Command is RootCommand ? "pathprobe" : $"pathprobe {parse.CommandResult.Command.Name}";
                stderr.WriteLine($"pathprobe: {error} (see '{command} --help')");
                return ExitUsage;
            }
            // Signals are each command's own business (StopSignals): System.CommandLine's handler would kill the
            // process 2 s after Ctrl-C, before the report of what was read is out.
            var config = new InvocationConfiguration
            {
                Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null,
            };
            return parse.Invoke(config);
        }
        catch (Exception e)
        {
            return CrashLog.Report(e, args, stderr);
        }
    }

    /// <summary>
    /// The first usage error, in one line, or null. Besides System.CommandLine's errors: a positional argument that
    /// starts with '-' before any "--" is an option this command does not have (System.CommandLine would otherwise
    /// take "--bogus" as a file name or "-q" as a filter word). "-" alone is standard input.
    /// </summary>
    internal static string? UsageError(ParseResult parse)
    {
        var tokens = parse.Tokens;
        int doubleDash = tokens.Count;
        for (int i = 0; i < tokens.Count; i++)
            if (tokens[i].Type == TokenType.DoubleDash) { doubleDash = i; break; }
        foreach (var child in parse.CommandResult.Children)
        {
            if (child is not ArgumentResult argument) continue;
            foreach (var t in argument.Tokens)
            {
                if (t.Value.Length < 2 || t.Value[0] != '-') continue;
                int index = -1;
                for (int i = 0; i < tokens.Count; i++)
                    if (ReferenceEquals(tokens[i], t)) { index = i; break; }
                if (index >= 0 && index < doubleDash) return $"unknown option '{Primitives.SafeText.Clean(t.Value, 80)}'";
            }
        }
        if (parse.Errors.Count == 0) return null;
        string message = parse.Errors[0].Message;
        // System.CommandLine's wording for a stray token, e.g. "Unrecognized command or argument 'x'."
        if (message.StartsWith("Unrecognized command or argument", StringComparison.Ordinal))
            message = "unexpected argument" + message["Unrecognized command or argument".Length..].TrimEnd('.');
        else if (message.StartsWith("Required argument missing", StringComparison.Ordinal))
            message = "missing argument" + message["Required argument missing".Length..].TrimEnd('.');
        return Primitives.SafeText.Clean(message.TrimEnd('.'), 300);
    }
}
