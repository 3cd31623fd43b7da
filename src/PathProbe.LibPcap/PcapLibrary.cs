using PathProbe.LibPcap.Native;

namespace PathProbe.LibPcap;

/// <summary>Whether libpcap can be loaded and which version it is.</summary>
public static class PcapLibrary
{
    public const string InstallHint = "libpcap is not installed: sudo apt-get install libpcap0.8 " +
                                      "(Fedora: sudo dnf install libpcap; macOS: part of the system; Windows: install Npcap from https://npcap.com)";

    private static string? _version;

    /// <summary>pcap_lib_version(), e.g. "libpcap version 1.10.3 (with TPACKET_V3)".</summary>
    /// <exception cref="PcapException">Kind <see cref="PcapErrorKind.LibraryMissing"/>.</exception>
    public static unsafe string Version => _version ??= Call(() => PcapNative.Utf8(PcapNative.LibVersion()) ?? "libpcap (unknown version)");

    /// <summary>True when a libpcap shared library loads.</summary>
    public static bool IsAvailable
    {
        get
        {
            try { _ = Version; return true; }
            catch (PcapException) { return false; }
        }
    }

    /// <summary>Runs a native call, turning a missing library into <see cref="PcapErrorKind.LibraryMissing"/> with a
    /// message of one line (what to install, and which names were tried).</summary>
    internal static T Call<T>(Func<T> f)
    {
        if (!PcapNative.EnsureLoaded()) throw new PcapException(PcapErrorKind.LibraryMissing, MissingMessage());
        try { return f(); }
        catch (DllNotFoundException)
        {
            throw new PcapException(PcapErrorKind.LibraryMissing, MissingMessage());
        }
        catch (EntryPointNotFoundException e)
        {
            throw new PcapException(PcapErrorKind.LibraryMissing, $"the libpcap found is too old (needs 1.5 or later): {FirstLine(e.Message)}");
        }
    }

    private static string MissingMessage()
    {
        string? chosen = Environment.GetEnvironmentVariable(PcapNative.LibraryVariable);
        return string.IsNullOrEmpty(chosen)
            ? $"{InstallHint} (looked for {string.Join(", ", PcapNative.Candidates())})"
            : $"libpcap cannot be loaded from {PcapNative.LibraryVariable}={Primitives.SafeText.Clean(chosen, 200)}: check the path, or unset it to use the system's libpcap";
    }

    private static string FirstLine(string s)
    {
        int nl = s.IndexOfAny(['\r', '\n']);
        return nl < 0 ? s : s[..nl];
    }
}
