using PathProbe.Flows;
using PathProbe.Flows.Tcp;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;

namespace PathProbe.Findings;

/// <summary>An address and a port (port 0 for ICMP and when unknown). JSON: <c>{"ip": "...", "port": n}</c>.</summary>
public readonly record struct Endpoint(IpAddress Ip, ushort Port)
{
    public override string ToString() => Port == 0 ? Ip.ToString() : Ip.ToEndpointString(Port);
}

/// <summary>A per-direction number: client → server and server → client. JSON: <c>{"c2s": n, "s2c": n}</c>.</summary>
public readonly record struct Pair(long C2s, long S2c)
{
    public long Total => C2s + S2c;
    public long Of(bool clientToServer) => clientToServer ? C2s : S2c;
}

/// <summary>The bytes of one SMTP message so far (RFC 5321 count); approximate when bytes missing from the capture
/// were counted in.</summary>
public readonly record struct MessageSize(long Bytes, bool Approximate);

/// <summary>
/// The numbers of one flow, taken from the flow in one place (<see cref="Of"/>): the flow table, every finding that
/// names the flow, the TUI and the JSON read these and nothing else, so one fact reads the same everywhere.
/// </summary>
public sealed record FlowFacts
{
    public required int Id { get; init; }
    public FlowProtocol Protocol { get; init; }
    public required Endpoint Client { get; init; }
    public required Endpoint Server { get; init; }
    /// <summary>tshark's tcp.analysis.retransmission (plain, fast and spurious), per direction.</summary>
    public Pair Retransmissions { get; init; }
    /// <summary>Segments that carried data, per direction.</summary>
    public Pair DataSegments { get; init; }
    /// <summary>Retransmitted segments that were full-size (at least 90% of the MSS), per direction.</summary>
    public Pair FullSizeRetransmissions { get; init; }
    /// <summary>Fast retransmissions (tshark's tcp.analysis.fast_retransmission), per direction.</summary>
    public Pair FastRetransmissions { get; init; }
    /// <summary>Duplicate ACKs sent, per direction (tshark's tcp.analysis.duplicate_ack).</summary>
    public Pair DuplicateAcks { get; init; }
    /// <summary>Resends of the segment resent most often (transmissions of the same data minus one), per direction.</summary>
    public Pair Resends { get; init; }
    /// <summary>The flow's RTT: median of the samples of the direction with more samples (its data is what the ACKs
    /// time); -1 without samples.</summary>
    public long RttNanos { get; init; } = -1;
    /// <summary>SMTP transactions of the flow (index 0 = transaction 1): the bytes of each message sent.</summary>
    public IReadOnlyList<MessageSize> Messages { get; init; } = [];

    /// <summary>The message of transaction <paramref name="transaction"/> (1-based), if the flow has it.</summary>
    public MessageSize? Message(int transaction) =>
        transaction >= 1 && transaction <= Messages.Count ? Messages[transaction - 1] : null;

    /// <summary>The one place per-flow numbers come from.</summary>
    public static FlowFacts Of(Flow f)
    {
        // A held SYN's facts are the defaults (no counters, no RTT): its state is not rebuilt for them.
        var tcp = f.Protocol != FlowProtocol.Tcp ? null : f.TcpIfMade; // a held SYN's state is the defaults: not rebuilt for its facts
        IReadOnlyList<MessageSize> messages = [];
        if (f.App is ISmtpSessionSource { Session: { } s } && s.Transactions.Count > 0)
        {
            var m = new MessageSize[s.Transactions.Count];
            for (int i = 0; i < m.Length; i++) m[i] = new MessageSize(s.Transactions[i].MessageBytes, s.Transactions[i].SizeApproximate);
            messages = m;
        }
        bool icmp = f.Protocol == FlowProtocol.Icmp;
        return new FlowFacts
        {
            Id = f.Id,
            Protocol = f.Protocol,
            Client = new Endpoint(f.ClientAddress, icmp ? (ushort)0 : f.ClientPort),
            Server = new Endpoint(f.ServerAddress, icmp ? (ushort)0 : f.ServerPort),
            Retransmissions = tcp is null ? default : new Pair(tcp.Client.Counters.Retransmissions, tcp.Server.Counters.Retransmissions),
            DataSegments = tcp is null ? default : new Pair(tcp.Client.Counters.DataSegments, tcp.Server.Counters.DataSegments),
            FullSizeRetransmissions = tcp is null ? default : new Pair(tcp.Client.Counters.LargeRetransmissions, tcp.Server.Counters.LargeRetransmissions),
            FastRetransmissions = tcp is null ? default : new Pair(tcp.Client.Counters.FastRetransmissions, tcp.Server.Counters.FastRetransmissions),
            DuplicateAcks = tcp is null ? default : new Pair(tcp.Client.Counters.DuplicateAcks, tcp.Server.Counters.DuplicateAcks),
            Resends = tcp is null ? default : new Pair(tcp.Client.WorstSeries.Resends, tcp.Server.WorstSeries.Resends),
            RttNanos = tcp is null ? -1 : Rtt(tcp),
            Messages = messages,
        };
    }

    /// <summary>The flow's RTT (see <see cref="RttNanos"/>).</summary>
    public static long Rtt(TcpConnectionState t)
    {
        var e = t.Client.Rtt.Count >= t.Server.Rtt.Count ? t.Client.Rtt : t.Server.Rtt;
        return e.Count == 0 ? -1 : e.MedianNanos();
    }

    /// <summary>IP packet size a full segment of <paramref name="mss"/> bytes makes (RFC 879: MSS + 20-byte TCP header +
    /// IP header): what an advertised MSS invites.</summary>
    public static int PacketSizeForMss(int mss, bool ipv4) => mss + (ipv4 ? 20 : 40) + 20;
}

/// <summary>Where an SMTP dialogue was when something happened (typed; the writers put it into words).</summary>
public sealed record SmtpPosition
{
    public required SmtpPhase Phase { get; init; }
    /// <summary>1-based transaction index, 0 when none has started.</summary>
    public int Transaction { get; init; }
    public int Recipients { get; init; }
    /// <summary>Reply code of a greeting that refused the session (not 220), else 0.</summary>
    public int GreetingCode { get; init; }
    public bool UsedHelo { get; init; }
    public bool WaitingForEhloReply { get; init; }
    public bool ImplicitTls { get; init; }
    /// <summary>AUTH mechanism (cleaned by the decoder) and result code (0 = in progress).</summary>
    public string? AuthMechanism { get; init; }
    public int AuthResult { get; init; }
    /// <summary>Message bytes sent so far in <see cref="Transaction"/> when the position was taken (the flow's final
    /// number is in <see cref="FlowFacts.Messages"/>; writers prefer it).</summary>
    public MessageSize Message { get; init; }
    /// <summary>The server's 421 cut the message data of <see cref="Transaction"/> short and closed the session
    /// (<see cref="Phase"/> is <c>ServerClosing</c>).</summary>
    public bool CutShortBy421 { get; init; }
    /// <summary>The capture began after the TCP handshake and no greeting was seen: the phase is unknown (the session
    /// may be anywhere, e.g. in DATA), not "waiting for the greeting".</summary>
    public bool MidSession { get; init; }
}
