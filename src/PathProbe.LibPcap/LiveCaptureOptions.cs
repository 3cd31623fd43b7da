namespace PathProbe.LibPcap;

/// <summary>How <see cref="LiveCapture.Open"/> configures the device (pcap_set_* before pcap_activate).</summary>
public sealed class LiveCaptureOptions
{
    /// <summary>Largest captured length per frame (pcap_set_snaplen); 262144 like tcpdump, which keeps whole TSO/GRO super-frames.</summary>
    public int SnapLength { get; init; } = 262_144;
    public bool Promiscuous { get; init; } = true;
    /// <summary>Deliver each packet as it arrives. Off by default: on Linux immediate mode makes libpcap use TPACKET_V2,
    /// whose ring is cut into fixed frames of snap-length size (a 16 MiB ring holds only ~64 frames of 262144 bytes, so
    /// bursts are dropped). TPACKET_V3 packs frames into blocks that the kernel hands over when full or after the read
    /// timeout, so delivery lags by at most <see cref="TimeoutMilliseconds"/>, which is plenty for findings.</summary>
    public bool ImmediateMode { get; init; }
    /// <summary>Kernel ring buffer (pcap_set_buffer_size). Larger absorbs bursts without drops; 0 keeps libpcap's default (2 MiB).</summary>
    public int BufferSize { get; init; } = 16 * 1024 * 1024;
    /// <summary>Read timeout (pcap_set_timeout): a read returns at the latest after this, so the caller can do periodic
    /// work and notice a stop request even when libpcap cannot be woken by pcap_breakloop.</summary>
    public int TimeoutMilliseconds { get; init; } = 100;
    /// <summary>Ask for nanosecond timestamps; falls back to microseconds where the platform does not support them.</summary>
    public bool NanosecondTimestamps { get; init; } = true;
    /// <summary>tcpdump filter expression (pcap-filter(7)); null or empty captures everything.</summary>
    public string? Filter { get; init; }
}
