using BenchmarkDotNet.Running;

namespace PathProbe.Tui.Benchmarks;

public static class Program
{
    // dotnet run -c Release --project benchmarks/PathProbe.Tui.Benchmarks -- --filter '*'
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
