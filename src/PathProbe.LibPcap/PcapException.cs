namespace PathProbe.LibPcap;

/// <summary>Why a capture could not start or continue; each kind has a message that says what to do.</summary>
public enum PcapErrorKind
{
    /// <summary>libpcap itself failed (message from pcap_geterr).</summary>
    Generic,
    /// <summary>No libpcap shared library could be loaded.</summary>
    LibraryMissing,
    NoSuchDevice,
    PermissionDenied,
    PromiscuousPermissionDenied,
    InterfaceNotUp,
    /// <summary>The filter expression does not compile.</summary>
    BadFilter,
    /// <summary>An option (snap length, buffer size, ...) was refused.</summary>
    BadOption,
}

/// <summary>A libpcap failure with a message for the user (what happened and what to do).</summary>
public sealed class PcapException(PcapErrorKind kind, string message, int status = 0) : Exception(message)
{
    public PcapErrorKind Kind { get; } = kind;
    /// <summary>libpcap's status code (PCAP_ERROR_*), 0 when not from libpcap.</summary>
    public int Status { get; } = status;
}
