using System.CommandLine;
using PathProbe.Cli.Commands;

namespace PathProbe.Cli;

public static class Program
{
    /// <summary>Exit status: 0 analysed, 1 analysed with critical findings, 2 usage error or unreadable input.</summary>
    public const int ExitOk = 0, ExitCritical = 1, ExitUsage = 2;

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand(
            "PathProbe finds why mail stalls from packets: MTU/MRU black holes, retransmission storms, fragmentation, " +
            "SMTP and DNS trouble, in pcap/pcapng captures.");
        root.Add(AnalyzeCommand.Create(stdout, stderr));
        root.Add(CaptureCommand.Create(stdout, stderr));
        root.Add(DnsCommand.Create(stdout, stderr));
        root.Add(ProbeCommand.Create(stdout, stderr));
        root.Add(TuiCommand.Create(stdout, stderr));

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) stderr.WriteLine($"pathprobe: {e.Message}");
            stderr.WriteLine("Run 'pathprobe --help' for usage.");
            return ExitUsage;
        }
        var config = new InvocationConfiguration { Output = stdout, Error = stderr };
        return parse.Invoke(config);
    }
}
