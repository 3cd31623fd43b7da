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

    /// <summary>Runs a native call, turning a missing library into <see cref="PcapErrorKind.LibraryMissing"/>.</summary>
    internal static T Call<T>(Func<T> f)
    {
        PcapNative.EnsureResolver();
        try { return f(); }
        catch (DllNotFoundException e)
        {
            throw new PcapException(PcapErrorKind.LibraryMissing,
                $"{InstallHint} (tried {string.Join(", ", PcapNative.Candidates())}: {e.Message})");
        }
        catch (EntryPointNotFoundException e)
        {
            throw new PcapException(PcapErrorKind.LibraryMissing, $"the libpcap found is too old (needs 1.5 or later): {e.Message}");
        }
    }
}
