using PathProbe.LibPcap;
using Xunit.Abstractions;

namespace PathProbe.LibPcap.Tests.Support;

/// <summary>Preconditions of the live tests. A test that cannot run is reported as skipped, with the reason (Xunit.SkippableFact).</summary>
internal static class Requires
{
    public static bool LibPcap(ITestOutputHelper output)
    {
        if (PcapLibrary.IsAvailable) return true;
        throw new SkipException($"{PcapLibrary.InstallHint}");
    }

    public static bool RootAndLibPcap(ITestOutputHelper output)
    {
        if (!LibPcap(output)) return false;
        if (Environment.IsPrivilegedProcess) return true;
        throw new SkipException("live capture needs root (run the tests with sudo or as root in CI)");
    }

    /// <summary>Root, libpcap and the given programs on PATH.</summary>
    public static bool RootLibPcapAnd(ITestOutputHelper output, params string[] programs)
    {
        if (!RootAndLibPcap(output)) return false;
        foreach (string p in programs)
        {
            if (Which(p) is null)
                throw new SkipException($"'{p}' is not installed");
        }
        return true;
    }

    public static string? Which(string program)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':'))
        {
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
