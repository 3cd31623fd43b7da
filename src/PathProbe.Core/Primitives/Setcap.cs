namespace PathProbe.Primitives;

/// <summary>
/// The command that lets an unprivileged user run a privileged part of this program (live capture, the probe's raw
/// sockets): file capabilities on the executable that runs it. For the apphost (the pathprobe executable, also what
/// `dotnet tool install` puts on PATH) that is the apphost itself, which loads the runtime into its own process. For
/// `dotnet pathprobe.dll` the process is the dotnet host, so only the capabilities on that binary count, and then every
/// .NET program it starts has them. Symbolic links are resolved (setcap refuses them).
/// </summary>
public static class Setcap
{
    /// <param name="capabilities">setcap's capability text, e.g. <c>cap_net_raw+ep</c>.</param>
    /// <param name="grants">What the capability lets a program do, for the dotnet host's caveat ("capture").</param>
    /// <param name="processPath">The running executable (<see cref="Environment.ProcessPath"/>).</param>
    public static string Hint(string capabilities, string grants, string? processPath)
    {
        string setcap = $"sudo setcap {capabilities}";
        if (string.IsNullOrEmpty(processPath)) return $"{setcap} $(readlink -f $(which pathprobe))";
        string exe = processPath;
        try { exe = File.ResolveLinkTarget(processPath, returnFinalTarget: true)?.FullName ?? processPath; }
        catch (IOException) { }
        string quoted = exe.Contains(' ') ? $"'{exe}'" : exe;
        return Path.GetFileNameWithoutExtension(exe) == "dotnet"
            ? $"{setcap} {quoted} (the dotnet host, as you run `dotnet pathprobe.dll`: every .NET program started with it can then {grants}; " +
              "to grant it to pathprobe alone, run its own executable, e.g. the `pathprobe` that `dotnet tool install` puts on PATH, and setcap that)"
            : $"{setcap} {quoted}";
    }
}
