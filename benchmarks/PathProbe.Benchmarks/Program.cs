using BenchmarkDotNet.Running;

namespace PathProbe.Benchmarks;

public static class Program
{
    // dotnet run -c Release --project benchmarks/PathProbe.Benchmarks -- --filter '*'
    // The capture is captures/smtp-healthy-ipv4.pcap unless PATHPROBE_BENCH_CAPTURE names another file.
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
