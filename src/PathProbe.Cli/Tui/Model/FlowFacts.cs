using System.Globalization;
using System.Text;
using PathProbe.Findings;
using PathProbe.Flows;
using PathProbe.Primitives;
using PathProbe.Protocols.Smtp;
using PathProbe.Reports;

namespace PathProbe.Cli.Tui.Model;

/// <summary>
/// One row of the flow table: the per-flow numbers, computed exactly as the report computes them (<see cref="FlowFacts"/>),
/// and text already cleaned for a terminal. Immutable.
/// </summary>
public sealed record FlowRow
{
    public required int Id { get; init; }
    public required string Protocol { get; init; }
    public required string Client { get; init; }
    public required string Server { get; init; }
    public required string ClientAddress { get; init; }
    public required string ServerAddress { get; init; }
    public ushort ClientPort { get; init; }
    public ushort ServerPort { get; init; }
    /// <summary>"smtp", "dns" or "" (what the analyzers decided, as in the report's APP column).</summary>
    public required string AppName { get; init; }
    /// <summary>What the application layer says (SMTP: EHLO name, sender → recipient count, tls); cleaned.</summary>
    public required string Application { get; init; }
    /// <summary>How the flow ended, as the report names it (open, closed, reset, idle-timeout, evicted, replaced).</summary>
    public required string State { get; init; }
    public long Start { get; init; }
    public long DurationNanos { get; init; }
    public long PacketsToServer { get; init; }
    public long PacketsToClient { get; init; }
    /// <summary>Frame bytes per direction (the report's BYTES column and JSON frameBytes).</summary>
    public long BytesToServer { get; init; }
    public long BytesToClient { get; init; }
    /// <summary>Retransmissions per direction (TCP), -1 when not TCP.</summary>
    public long RetransmissionsClient { get; init; } = -1;
    public long RetransmissionsServer { get; init; } = -1;
    /// <summary>The report's RTT: median of the direction with more samples, in ms; NaN without samples.</summary>
    public double RttMs { get; init; } = double.NaN;
    public int MssClient { get; init; }
    public int MssServer { get; init; }
    public int MaxSegmentClient { get; init; }
    public int MaxSegmentServer { get; init; }
    public int MaxIpClient { get; init; }
    public int MaxIpServer { get; init; }
    /// <summary>Worst verdict on this flow, or -1 when none.</summary>
    public int Severity { get; init; } = -1;
    /// <summary>Kinds of the verdicts on this flow, space separated ("" none).</summary>
    public string Kinds { get; init; } = "";
    public long Packets => PacketsToServer + PacketsToClient;
    public long Bytes => BytesToServer + BytesToClient;
    public long Retransmissions => Math.Max(0, RetransmissionsClient) + Math.Max(0, RetransmissionsServer);
}

/// <summary>
/// Per-flow numbers, taken from the same state and with the same rules as the text and JSON reports
/// (<c>Reports/TextReport</c>: RTT is the median of the direction with more samples; bytes are frame bytes; the state is
/// <see cref="JsonReport.EndName"/>). When the reports get one shared place for per-flow numbers, this reads it.
/// </summary>
public static class FlowFacts
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static FlowRow Row(Flow f, int severity, string kinds)
    {
        bool icmp = f.Protocol == FlowProtocol.Icmp;
        var tcp = f.Protocol == FlowProtocol.Tcp ? f.Tcp : null;
        return new FlowRow
        {
            Id = f.Id,
            Protocol = f.ProtocolName,
            Client = SafeText.Clean(icmp ? f.ClientAddress.ToString() : f.ClientEndpoint),
            Server = SafeText.Clean(icmp ? f.ServerAddress.ToString() : f.ServerEndpoint),
            ClientAddress = f.ClientAddress.ToString(),
            ServerAddress = f.ServerAddress.ToString(),
            ClientPort = f.ClientPort,
            ServerPort = f.ServerPort,
            AppName = SafeText.Clean(f.Application ?? "", 40),
            Application = ApplicationText(f),
            State = JsonReport.EndName(f.EndReason),
            Start = f.Start.UnixNanoseconds,
            DurationNanos = f.End.UnixNanoseconds - f.Start.UnixNanoseconds,
            PacketsToServer = f.ClientToServer.Packets,
            PacketsToClient = f.ServerToClient.Packets,
            BytesToServer = f.ClientToServer.FrameBytes,
            BytesToClient = f.ServerToClient.FrameBytes,
            RetransmissionsClient = tcp?.Client.Counters.Retransmissions ?? -1,
            RetransmissionsServer = tcp?.Server.Counters.Retransmissions ?? -1,
            RttMs = tcp is null ? double.NaN : RttMs(tcp),
            MssClient = f.ClientToServer.Mss,
            MssServer = f.ServerToClient.Mss,
            MaxSegmentClient = f.ClientToServer.MaxSegment,
            MaxSegmentServer = f.ServerToClient.MaxSegment,
            MaxIpClient = f.ClientToServer.MaxIpPacket,
            MaxIpServer = f.ServerToClient.MaxIpPacket,
            Severity = severity,
            Kinds = kinds,
        };
    }

    /// <summary>Median RTT of the direction that sent the most data, as the report's "RTT ms" (its data is what the ACKs
    /// time; the direction with more samples).</summary>
    public static double RttMs(Flows.Tcp.TcpConnectionState t)
    {
        var e = t.Client.Rtt.Count >= t.Server.Rtt.Count ? t.Client.Rtt : t.Server.Rtt;
        return e.Count == 0 ? double.NaN : e.MedianNanos() / 1e6;
    }

    /// <summary>The report's formatting of an RTT in ms: two decimals under 10 ms, none above.</summary>
    public static string RttText(double ms) => double.IsNaN(ms) ? "-" : ms.ToString(ms < 10 ? "0.00" : "0", Inv);

    /// <summary>SMTP: "smtp EHLO-name sender → N rcpt tls"; otherwise the analyzers' application name. Cleaned.</summary>
    public static string ApplicationText(Flow f)
    {
        if (f.App is ISmtpSessionSource { Session: { } s })
        {
            var sb = new StringBuilder("smtp");
            if (s.EhloName is { } ehlo) sb.Append(' ').Append(ehlo);
            if (s.CurrentTransaction is { } tx)
            {
                int rcpt = 0;
                foreach (var t in s.Transactions) rcpt += t.Recipients.Count + t.RecipientsNotKept;
                sb.Append(' ').Append(tx.Sender.Length == 0 ? "<>" : tx.Sender).Append(" → ").Append(rcpt.ToString(Inv)).Append(" rcpt");
            }
            if (s.TlsStarted || s.ImplicitTls) sb.Append(" tls");
            return SafeText.Clean(sb.ToString(), 200);
        }
        return SafeText.Clean(f.Application ?? "", 200);
    }

    // ---- the report's number formats ------------------------------------------------------------------------------

    /// <summary>Bytes as the text report writes them ("1234 B", "22.7 kB", "3.1 MB").</summary>
    public static string Bytes(long b) => b switch
    {
        < 10_000 => b.ToString(Inv) + " B",
        < 10_000_000 => (b / 1000.0).ToString("0.#", Inv) + " kB",
        < 10_000_000_000 => (b / 1e6).ToString("0.#", Inv) + " MB",
        _ => (b / 1e9).ToString("0.##", Inv) + " GB",
    };

    /// <summary>A duration as the text report writes it.</summary>
    public static string Duration(long nanos) => nanos switch
    {
        < 1_000_000 => (nanos / 1000.0).ToString("0", Inv) + " µs",
        < 1_000_000_000 => (nanos / 1e6).ToString("0.#", Inv) + " ms",
        _ => (nanos / 1e9).ToString("0.##", Inv) + " s",
    };

    public static string N(long v) => v.ToString("#,0", Inv);

    /// <summary>A time offset on a graph axis or in a list: "+0.214s", "+26.5s", "+1:02:03".</summary>
    public static string Offset(long nanos)
    {
        double s = nanos / 1e9;
        string sign = s < 0 ? "-" : "+";
        s = Math.Abs(s);
        return sign + (s < 10 ? s.ToString("0.000", Inv) + "s" : s < 600 ? s.ToString("0.0", Inv) + "s" : TimeSpan.FromSeconds(Math.Round(s)).ToString(@"h\:mm\:ss", Inv));
    }

    public static string SeverityMarker(int severity) => severity switch { 2 => "!!", 1 => "!", 0 => "i", _ => "" };
}
