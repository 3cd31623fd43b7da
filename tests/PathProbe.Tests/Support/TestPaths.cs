using System.Diagnostics;

namespace PathProbe.Tests.Support;

/// <summary>Where the repository, its bundled captures, the shared corpus and external tools are.</summary>
public static class TestPaths
{
    private static readonly Lazy<string> Root = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "PathProbe.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (PathProbe.sln) above " + AppContext.BaseDirectory);
    });

    public static string RepoRoot => Root.Value;
    public static string Captures => Path.Combine(RepoRoot, "captures");

    /// <summary>The bundled captures (captures/*.pcap, *.pcapng, *.gz).</summary>
    public static IEnumerable<string> BundledCaptures() =>
        Directory.Exists(Captures)
            ? Directory.EnumerateFiles(Captures).Where(f => f.EndsWith(".pcap") || f.EndsWith(".pcapng") || f.EndsWith(".gz")).OrderBy(f => f)
            : Enumerable.Empty<string>();

    /// <summary>../shared/corpus from the repository root, or null when absent (tests then skip, saying so).</summary>
    public static string? Corpus
    {
        get
        {
            string p = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "corpus"));
            return Directory.Exists(p) ? p : null;
        }
    }

    /// <summary>Full path of an executable on PATH, or null.</summary>
    public static string? Tool(string name)
    {
        foreach (var d in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string p = Path.Combine(d, name);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    /// <summary>Runs a tool and returns its standard output; throws with its standard error when it fails.</summary>
    public static string RunTool(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{exe} {string.Join(' ', args)} failed ({p.ExitCode}): {stderr.Result}");
        return stdout;
    }
}
