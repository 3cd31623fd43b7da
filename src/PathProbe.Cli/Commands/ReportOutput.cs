using System.Text;
using Microsoft.Win32.SafeHandles;
using PathProbe.Findings;
using PathProbe.Pipeline;
using PathProbe.Primitives;

namespace PathProbe.Cli.Commands;

/// <summary>
/// Where a report goes, and what happens when it cannot be written. An -o FILE is created before the analysis (a
/// path that cannot be written fails before any work); if writing it fails later (disk full), the report goes to
/// standard output instead. If standard output itself is closed (a reader that went away, `| head -0`), standard
/// error gets one line with the verdict. Either way a line says what was not written, and the command exits 2
/// (a critical finding is still in that line). The analysis itself is never lost to an output failure.
/// </summary>
internal sealed class ReportOutput : IDisposable
{
    private readonly string? _path;
    private FileStream? _file;

    private ReportOutput(string? path, FileStream? file)
    {
        _path = path;
        _file = file;
    }

    /// <summary>Standard output ("-" or no -o), or the file, created now. Null and a message when it cannot be created.</summary>
    public static ReportOutput? Open(string? path, out string? error)
    {
        error = null;
        if (path is null || path == "-") return new ReportOutput(null, null);
        try
        {
            return new ReportOutput(path, new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            error = $"cannot write the report to '{SafeText.Clean(path, 200)}': {Reason(e)}";
            return null;
        }
    }

    public bool ToStandardOutput => _file is null;

    /// <summary>
    /// Writes the report that <paramref name="render"/> produces. Returns true when it went where it was asked to;
    /// false after saying on <paramref name="stderr"/> what was not written and where the report went instead.
    /// </summary>
    public bool Write(Action<Stream> render, TextWriter stdout, TextWriter stderr, string verdict)
    {
        if (_file is not null)
        {
            try
            {
                render(_file);
                _file.Flush();
                _file.Dispose();
                _file = null;
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                DisposeQuietly();
                stderr.WriteLine($"pathprobe: could not write the report to '{SafeText.Clean(_path, 200)}' ({Reason(e)}); it follows on standard output instead");
                stderr.Flush();
                if (!ToStdout(render, stdout, out var again))
                    stderr.WriteLine($"pathprobe: standard output failed too ({again}): the report was not written anywhere; {verdict}");
                return false;
            }
        }
        if (ToStdout(render, stdout, out var why)) return true;
        stderr.WriteLine($"pathprobe: the report was not written in full: standard output {why}; {verdict}");
        return false;
    }

    /// <summary>The report on standard output. The real one is written through its file descriptor, because the
    /// console stream drops writes to a closed pipe without a word; a test's writer is written directly.</summary>
    private static bool ToStdout(Action<Stream> render, TextWriter stdout, out string? why)
    {
        why = null;
        try
        {
            if (ReferenceEquals(stdout, Console.Out))
            {
                stdout.Flush();
                using var fd = new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, 1 << 16);
                render(fd);
                fd.Flush();
            }
            else
            {
                using var ms = new MemoryStream();
                render(ms);
                stdout.Write(Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length));
                stdout.Flush();
            }
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            why = e is IOException && e.Message.Contains("pipe", StringComparison.OrdinalIgnoreCase)
                ? "was closed (the program reading it ended)"
                : $"failed: {Reason(e)}";
            return false;
        }
    }

    /// <summary>"3 inputs, 1,234 packets, 12 flows; 2 critical findings (mtu-blackhole, stall), 1 warning".</summary>
    public static string Verdict(IReadOnlyList<CaptureAnalysis> analyses)
    {
        var findings = analyses.SelectMany(a => a.Findings).ToList();
        var critical = findings.Where(f => f.Severity == Severity.Critical).Select(f => f.Name).Distinct().ToList(); // the kinds' stable names
        int warnings = findings.Count(f => f.Severity == Severity.Warning);
        long packets = analyses.Sum(a => a.Input.Packets);
        int flows = analyses.Sum(a => a.Flows.Count);
        int criticals = findings.Count(f => f.Severity == Severity.Critical);
        string w = warnings == 1 ? "1 warning" : $"{warnings} warnings";
        string found = criticals > 0
            ? $"{(criticals == 1 ? "1 critical finding" : $"{criticals} critical findings")} ({string.Join(", ", critical)}), {w}"
            : $"no critical findings, {w}";
        return $"the analysis read {packets:#,0} packets, {flows:#,0} flows: {found}";
    }

    /// <summary>The OS's reason without .NET's decoration ("No space left on device : '/dev/full'").</summary>
    private static string Reason(Exception e)
    {
        if (e is UnauthorizedAccessException) return "permission denied";
        string m = e.Message;
        int cut = m.IndexOf(" : '", StringComparison.Ordinal);
        if (cut > 0) m = m[..cut];
        return SafeText.Clean(m.Trim().TrimEnd('.'), 200);
    }

    private void DisposeQuietly()
    {
        try { _file?.Dispose(); } catch (IOException) { }
        _file = null;
    }

    public void Dispose() => DisposeQuietly();
}
