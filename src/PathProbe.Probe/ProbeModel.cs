using System.Net;
using PathProbe.Advice;

namespace PathProbe.Probe;

/// <summary>How a probe proves arrival: an ICMP echo request answered by an echo reply, or a TCP SYN padded with data
/// to the port, answered by SYN-ACK (port open) or RST (port closed).</summary>
public enum ProbeMethod : byte { IcmpEcho, TcpSyn }

public enum ProbeStatus : byte
{
    /// <summary>The host answered this probe: a packet of this size reached it.</summary>
    Arrived,
    /// <summary>No answer within the timeout.</summary>
    NoAnswer,
    /// <summary>A router answered with ICMP fragmentation-needed / Packet Too Big.</summary>
    TooBig,
    /// <summary>ICMP destination unreachable (host, network, port, administratively prohibited, ...).</summary>
    Unreachable,
    /// <summary>This host's own interface cannot send that size (EMSGSIZE): nothing was sent.</summary>
    LocalTooBig,
}

/// <summary>What the whole run found.</summary>
public enum PathVerdict : byte
{
    /// <summary>The largest packet this host's interface can send reaches the target.</summary>
    Fine,
    /// <summary>Smaller, and a router said so with ICMP: path-MTU discovery works.</summary>
    IcmpAnnounced,
    /// <summary>Smaller, and larger packets vanish without an ICMP too-big: a black hole.</summary>
    BlackHole,
    /// <summary>Not even a small probe got an answer.</summary>
    Unreachable,
}

/// <summary>An ICMP error that came back for a probe: ICMPv4 type 3 or ICMPv6 types 1 and 2.</summary>
public sealed record IcmpNote(int Type, int Code, int? Mtu, IPAddress From)
{
    public bool IsTooBig => Mtu is not null;

    /// <summary>Stable name: <c>frag-needed</c>, <c>packet-too-big</c>, or <c>unreachable</c>.</summary>
    public string Kind => Mtu is not null ? (From.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? "frag-needed" : "packet-too-big") : "unreachable";

    /// <summary>The unreachable code in words.</summary>
    public string Describe()
    {
        bool v4 = From.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork;
        if (Mtu is int m) return v4 ? $"fragmentation needed, MTU {m}" : $"packet too big, MTU {m}";
        return (v4, Code) switch
        {
            (true, 0) => "network unreachable",
            (true, 1) => "host unreachable",
            (true, 2) => "protocol unreachable",
            (true, 3) => "port unreachable",
            (true, 9 or 10 or 13) => "administratively prohibited",
            (false, 0) => "no route to destination",
            (false, 1) => "administratively prohibited",
            (false, 3) => "address unreachable",
            (false, 4) => "port unreachable",
            (false, 5 or 6) => "rejected by policy",
            _ => $"destination unreachable (code {Code})",
        };
    }
}

/// <summary>One probe on the wire.</summary>
public sealed record ProbeAttempt(int Size, ProbeMethod Method, ProbeStatus Status, IcmpNote? Icmp, double? RttMs, bool PortClosed)
{
    public bool Arrived => Status == ProbeStatus.Arrived;
}

/// <summary>The limits of one run. The defaults are the documented ones (README, <c>pathprobe probe --help</c>).</summary>
public sealed record ProbeOptions
{
    /// <summary>Probes sent per run at most (a run needs about 10 to 20).</summary>
    public int MaxProbes { get; init; } = 64;
    /// <summary>Tries per size before it counts as lost (a single loss may be chance).</summary>
    public int Attempts { get; init; } = 2;
    /// <summary>Time between two probes at least: one in flight, at most five a second.</summary>
    public TimeSpan MinInterval { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>The longest wait for one probe's answer (<c>--timeout</c>). Once a probe was answered, the wait is four
    /// round trips, at least <see cref="MinTimeout"/>, at most this.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MinTimeout { get; init; } = TimeSpan.FromMilliseconds(250);
}

/// <summary>The answer of <c>pathprobe probe</c>; <see cref="ProbeReport"/> writes it as text and JSON.</summary>
public sealed record ProbeResult
{
    public required IPAddress Target { get; init; }
    public string? TargetName { get; init; }
    public required int Port { get; init; }
    public required IPAddress Source { get; init; }
    /// <summary>The largest IP packet this host's interface toward the target can send.</summary>
    public required int LocalMtu { get; init; }
    /// <summary>The method the sizes were measured with; null when nothing answered.</summary>
    public ProbeMethod? Method { get; init; }
    public required PathVerdict Verdict { get; init; }
    /// <summary>The largest IP packet that reached the target (exact when <see cref="Exact"/>).</summary>
    public int? PathMtu { get; init; }
    /// <summary>The smallest size that did not arrive (silently lost or refused with ICMP); null when all sizes arrived.</summary>
    public int? SmallestFailed { get; init; }
    /// <summary>False when the probe limit or Ctrl-C stopped the search before the two met.</summary>
    public bool Exact { get; init; }
    /// <summary>The ICMP too-big that named the smallest MTU, if any came back.</summary>
    public IcmpNote? TooBig { get; init; }
    /// <summary>The ICMP destination-unreachable messages (at most a few, first first).</summary>
    public IReadOnlyList<IcmpNote> Unreachable { get; init; } = Array.Empty<IcmpNote>();
    /// <summary><c>open</c>, <c>closed</c>, <c>no-answer</c>, or null when the port was not tried.</summary>
    public string? PortState { get; init; }
    /// <summary>The size of the TCP probe that gave <see cref="PortState"/>.</summary>
    public int? PortCheckedAt { get; init; }
    public required IReadOnlyList<ProbeAttempt> Probes { get; init; }
    /// <summary>The fixes for a black hole (null otherwise).</summary>
    public MtuFixPlan? Fixes { get; init; }
    /// <summary>Why the search ended early ("probe limit of 64 reached", "interrupted"), or null.</summary>
    public string? Stopped { get; init; }

    public bool BlackHole => Verdict == PathVerdict.BlackHole;
}
