using SharpFuzz;

namespace PathProbe.Fuzz;

/// <summary>AFL++ entry point (see fuzz/run.sh). Out of process, so that a stack overflow is caught as a crash too.</summary>
public static class Program
{
    public static void Main()
    {
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var ms = new MemoryStream();
            stream.CopyTo(ms);
            FuzzTarget.Run(ms.ToArray());
        });
    }
}
