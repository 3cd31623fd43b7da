using System.Globalization;
using System.Runtime.InteropServices;

namespace PathProbe.Cli;

/// <summary>
/// An internal error (a bug): one line on standard error says what failed and where the details are; the stack
/// trace goes to a crash log, never to the terminal (it names internal source paths and helps nobody there).
/// The log is written to $XDG_STATE_HOME/pathprobe/ (default ~/.local/state/pathprobe/, the XDG base directory
/// for state), or to the temporary directory ($TMPDIR or /tmp) when that cannot be written.
/// </summary>
internal static class CrashLog
{
    public static int Report(Exception e, string[] args, TextWriter stderr)
    {
        string what = args.Length > 0 && !args[0].StartsWith('-') ? $"'pathprobe {Primitives.SafeText.Clean(args[0], 20)}'" : "pathprobe";
        string? path = Write(e, args);
        string where = path is null ? "no crash log could be written" : $"details in {path}";
        try
        {
            stderr.WriteLine($"pathprobe: internal error: {what} failed ({e.GetType().Name}: {FirstLine(e.Message)}); {where}; " +
                             "please report it with that file");
            stderr.Flush();
        }
        catch (Exception)
        {
            // Standard error itself is gone: the status still says what happened.
        }
        return Program.ExitInternal;
    }

    /// <summary>The directories tried, in order.</summary>
    public static IEnumerable<string> Directories()
    {
        string? state = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        if (!string.IsNullOrEmpty(state) && Path.IsPathRooted(state)) yield return Path.Combine(state, "pathprobe");
        else
        {
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            if (!string.IsNullOrEmpty(home)) yield return Path.Combine(home, ".local", "state", "pathprobe");
        }
        yield return Path.GetTempPath();
    }

    private static string? Write(Exception e, string[] args)
    {
        string name = $"pathprobe-crash-{DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}-{Environment.ProcessId}.log";
        string text =
            $"time: {DateTime.UtcNow:O}\n" +
            $"version: {typeof(CrashLog).Assembly.GetName().Version}\n" +
            $"runtime: {RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription} ({RuntimeInformation.ProcessArchitecture})\n" +
            $"arguments: {string.Join(' ', args.Select(a => Primitives.SafeText.Clean(a, 300)))}\n\n" +
            e + "\n";
        foreach (string dir in Directories())
        {
            try
            {
                Directory.CreateDirectory(dir);
                string path = Path.Combine(dir, name);
                File.WriteAllText(path, text);
                return path;
            }
            catch (Exception x) when (x is IOException or UnauthorizedAccessException or NotSupportedException)
            {
            }
        }
        return null;
    }

    private static string FirstLine(string s)
    {
        int nl = s.IndexOfAny(['\r', '\n']);
        return Primitives.SafeText.Clean(nl < 0 ? s : s[..nl], 200);
    }
}
